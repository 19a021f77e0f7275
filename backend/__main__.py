"""`python -m backend` is the `satukartu` command (for environments without the script)."""

from backend.cli import main

main(prog_name="satukartu")

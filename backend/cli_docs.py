"""README's tables of the `satukartu` commands and of the reader's variables, made from
the click objects themselves (so a test can keep the README in step with them).

    .venv/bin/python -m backend.cli_docs commands   # between <!-- commands:start/end -->
    .venv/bin/python -m backend.cli_docs reader     # between <!-- reader-env:start/end -->
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

# DESIGN.md, "Interfaces that stay stable": scripts outside the code use these.
STABLE = frozenset({"demo", "db upgrade", "registry synth", "registry import", "serve",
                    "worker", "beat", "ca init", "vcard", "card issue", "card suspend",
                    "card reinstate", "card revoke", "reader", "audit verify"})


def commands(group: click.Group | None = None, prefix: tuple[str, ...] = ()
             ) -> Iterator[tuple[str, click.Command]]:
    """Every runnable command under `group` (default: `satukartu`), as ("card issue", cmd)."""
    if group is None:
        from backend.cli import main

        group = main
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from commands(command, path)
        elif not command.hidden:
            yield " ".join(path), command


def _arguments(command: click.Command) -> str:
    return "".join(f" {param.make_metavar(click.Context(command))}"
                   for param in command.params if isinstance(param, click.Argument))


def command_table() -> str:
    rows = ["| command | does |", "|---|---|"]
    for path, command in commands():
        does = " ".join(command.get_short_help_str(limit=200).split())
        mark = " (stable)" if path in STABLE else ""
        rows.append(f"| `satukartu {path}{_arguments(command)}`{mark} | {does} |")
    return "\n".join(rows)


def main() -> None:  # pragma: no cover - a maintainer's tool
    which = sys.argv[1] if len(sys.argv) > 1 else "commands"
    if which == "reader":
        from card_reader.cli import environment_table

        click.echo(environment_table())
    else:
        click.echo(command_table())


if __name__ == "__main__":  # pragma: no cover
    main()

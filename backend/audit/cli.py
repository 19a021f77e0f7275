"""`satukartu audit ...`: verify, checkpoint, export, and the PostgreSQL role SQL.

`audit verify` exits 0 only when the chain and every checkpoint are intact; otherwise
1, printing the first bad position of each kind of finding (DESIGN.md, stable).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from backend.cli import make_app


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check checkpoints with this PEM key only (default: every key of the "
                   "configured keyring, current and retired).")
@click.option("--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 4),
              help="Processes that scan slices of the chain in parallel (default: one per "
                   "core, at most 4).")
def verify(as_json: bool, public_key: Path | None, jobs: int) -> None:
    """Recompute the chain and check every checkpoint."""
    from backend.audit.sequencer import settle
    from backend.audit.verify import verify_app
    from backend.db import database

    pem = public_key.read_bytes() if public_key else None
    if pem is not None:
        from cryptography.exceptions import UnsupportedAlgorithm

        from backend.audit.checkpoints import load_public

        try:
            load_public(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise click.BadParameter(f"{public_key} is not an Ed25519 public key in PEM",
                                     param_hint="--public-key") from exc
    app = make_app()
    with app.app_context(), database().engine.connect() as conn:
        settle(database().engine)
        report = verify_app(conn, app.config, pem, jobs)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        state = "intact" if report.intact else "NOT INTACT"
        click.echo(f"{state}: {report.records} records (last {report.last_seq}), "
                   f"{report.checkpoints} checkpoints, {report.seconds:.2f} s")
        for finding in report.findings:
            click.echo(f"  {finding.kind} at {finding.position}: {finding.detail}"
                       + (f" ({finding.count} places)" if finding.count > 1 else ""))
    sys.exit(0 if report.intact else 1)


@audit.command()
@click.option("--force", is_flag=True, help="Sign even if the chain did not grow.")
def checkpoint(force: bool) -> None:
    """Sign a checkpoint of the current head (database and checkpoint directory)."""
    from backend.audit.checkpoints import make_checkpoint
    from backend.db import database

    app = make_app()
    with app.app_context():
        made = make_checkpoint(database(), app.config, force=force)
    if made is None:
        click.echo("the last checkpoint already covers the chain")
        return
    click.echo(f"checkpoint of {made.size} records, head {made.head.hex()} "
               f"in {app.config['AUDIT_CHECKPOINT_DIR']}")


@audit.command("export")
@click.option("--from", "start", required=True, help="A date or ISO time (UTC).")
@click.option("--to", "end", required=True, help="A date (included) or ISO time (excluded).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "pdf"]), default="jsonl",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_command(start: str, end: str, fmt: str, out: Path) -> None:
    """A time range as JSON Lines or a PDF report, with the checkpoint covering it."""
    from backend.audit import export, record
    from backend.audit.sequencer import settle
    from backend.db import database

    try:
        span = export.Range.parse(start, end)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    app = make_app()
    with app.app_context(), database().transaction() as sess:
        settle(database().engine)
        conn = sess.connection()
        if fmt == "pdf":
            out.write_bytes(export.export_pdf(conn, span, app.config["CITY_NAME"]))
        else:
            with out.open("w", encoding="utf-8") as handle:
                export.export_jsonl(conn, span, handle)
        record(sess, action="audit.export", subject_type="audit_log",
               details={"from": start, "to": end, "format": fmt, "via": "cli"})
    click.echo(f"wrote {out}")


@audit.command("public-key")
def public_key() -> None:
    """Print the checkpoint signing key's public half (PEM), for `openssl pkeyutl`."""
    from backend.audit.checkpoints import public_pem, signing_key

    app = make_app()
    click.echo(public_pem(signing_key(app.config)).decode("ascii"), nl=False)


@audit.command("roles-sql")
@click.option("--app-role", required=True, help="The role the hub's processes log in as.")
@click.option("--schema", default="public", show_default=True)
def roles_sql(app_role: str, schema: str) -> None:
    """The GRANTs the owner runs after each `db upgrade` (README: PostgreSQL roles)."""
    from backend.audit.roles import grant_statements

    try:
        statements = grant_statements(app_role, schema)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(";\n".join(statements) + ";")

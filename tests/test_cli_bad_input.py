"""Every `satukartu` command answers bad input with a one-line error, never a traceback.

The commands come from the same walk of the click tree that makes the README's table
(`backend.cli_docs.commands`). Each runs in-process on a fresh migrated SQLite city
with a CA, once per bad value of each of its parameters (the other required parameters
get a bad or a known-good value), and must exit non-zero through click (a usage error,
a ClickException or an explicit exit), with no traceback in what it printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backend import migrations
from backend.app import create_app
from backend.cli import main
from backend.cli_docs import commands
from backend.testing.identity import make_staff

# Servers and daemons: they run until stopped, so bad input to them is tested elsewhere.
LONG_RUNNING = {
    "serve": "starts the gunicorn hub and serves until stopped",
    "worker": "starts a Celery worker that runs until stopped",
    "beat": "starts the Celery scheduler that runs until stopped",
    "demo": "starts a whole demo city (hub, worker, readers) until stopped",
    "reader": "the kiosk's reader daemon, which polls the card reader until stopped",
    "vcard": "serves a virtual card over TCP until stopped",
}

MISSING = "/nonexistent-satukartu-dir/nothing-here.csv"
NOWHERE = "/nonexistent-satukartu-dir/out.file"  # a file that cannot be written
ADMIN = "ana"  # an enabled admin in the city below

# Known-good values for the few parameters that must be right for another parameter's
# bad value to be reached (a console admin, a programme that allocates).
GOOD = {("option", "username"): ADMIN, ("option", "programme"): "food",
        ("argument", "programme"): "food", ("argument", "key"): "food"}
# Unknown ids, serials, usernames, names; empty; not even the shape of a name.
UNKNOWN = ["", "no-such-thing-xyz", "Bad Name!"]
# Free text a command accepts as it is (a note for the audit log): nothing to get wrong.
FREE_TEXT = {"note", "comment", "display_name", "email"}
# Values a command takes as they are, by design and as the API does (command, parameter):
# the value, and why it is not bad input there.
ACCEPTED = {
    ("approval list", "kind"): (
        UNKNOWN, "a filter: an unknown kind lists no requests, as GET /approvals?kind= does"),
    ("db revision", "message"): (
        UNKNOWN[1:], "free text naming a new migration; with the models matching the "
        "migrations it writes nothing, but this test must never write into the source tree "
        "(tests/backend/test_models_match_migrations.py runs the command)"),
    ("approval request-import", "file"): (
        ["GARBAGE"], "the file is stored under its hash and checked when the import is "
        "carried out, as POST /approvals/registry-import does"),
}
PERIODS = ["2026-Q4", "2026-13", "May", ""]
DATES = ["2026-02-30", "yesterday", ""]
JSON = ["{not json", "[1, 2]", '{"no_such_setting": 1}']


def bad_values(param: click.Parameter, garbage: Path) -> list[str]:
    """The bad values for one parameter, by its type and (for text) its name."""
    kind, name = param.type, param.name or ""
    if isinstance(kind, click.Choice):
        return ["bogus"]
    if isinstance(kind, click.DateTime):
        return ["not-a-date", ""]
    if isinstance(kind, (click.File, click.Path)):
        if name in {"out", "root_key_dir"}:
            return [NOWHERE]
        return [MISSING, str(garbage)]
    if isinstance(kind, click.types.IntParamType):
        values = ["abc", "-1", "1.5", ""]
        if name.endswith("_id"):
            values += ["999999", "99999999999999999999"]
        return values
    if isinstance(kind, click.types.FloatParamType):
        return ["abc", "nan"]
    if name in {"period", "month", "start", "end"}:
        return PERIODS
    if name == "as_of":
        return DATES + ["2026-Q4"]
    if name in {"settings", "params", "resets"}:
        return JSON
    return UNKNOWN


def _valued(param: click.Parameter) -> bool:
    return not (isinstance(param, click.Option) and (param.is_flag or param.count))


def _needed(param: click.Parameter) -> bool:
    return param.required or (isinstance(param, click.Option) and bool(param.prompt))


def _argv(param: click.Parameter, value: str) -> list[str]:
    return [value] if isinstance(param, click.Argument) else [param.opts[0], value]


def invocations(path: str, command: click.Command, garbage: Path) -> Iterator[list[str]]:
    """Each parameter's bad values in turn; the other required parameters get a
    known-good value or their own first bad value, so every invocation is wrong."""
    yield ["--no-such-option"]
    params = [p for p in command.params if _valued(p) and p.name not in FREE_TEXT]
    for varied in params:
        accepted = ACCEPTED.get((path, varied.name or ""), ((), ""))[0]
        accepted = [str(garbage) if value == "GARBAGE" else value for value in accepted]
        for value in bad_values(varied, garbage):
            if value in accepted:
                continue
            args: list[str] = []
            for param in params:
                if param is varied:
                    args += _argv(param, value)
                elif _needed(param):
                    filler = GOOD.get((param.param_type_name, param.name or ""),
                                      bad_values(param, garbage)[0])
                    args += _argv(param, filler)
            yield args


COMMANDS = [(path, command) for path, command in commands() if path not in LONG_RUNNING]


def test_every_long_running_command_excluded_exists():
    paths = {path for path, _ in commands()}
    assert set(LONG_RUNNING) <= paths


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """A migrated SQLite city with an admin and a CA; the CLI's environment (one per
    module, so that every invocation does not migrate again)."""
    root = tmp_path_factory.mktemp("bad-input")
    url = f"sqlite:///{root / 'city.db'}"
    migrations.upgrade(url)
    settings = {"DATABASE_URL": url, "INSTANCE_DIR": str(root / "instance"),
                "SECRET_KEY": "bad-input-test-secret-0123456789", "LOG_LEVEL": "WARNING"}
    env = {f"SATUKARTU_{name}": value for name, value in settings.items()}
    app = create_app(**settings)
    make_staff(app, "admin", username=ADMIN)
    app.extensions["satukartu.db"].engine.dispose()
    made = CliRunner().invoke(main, ["ca", "init", "--city", "Kota Uji"], env=env)
    assert made.exit_code == 0, made.output
    garbage = root / "garbage.bin"
    garbage.write_bytes(b"\x00\xff{not,a;csv\n\x89PNG" * 10)
    yield env, garbage


@pytest.mark.parametrize("path,command", COMMANDS, ids=[path for path, _ in COMMANDS])
def test_bad_input_is_a_one_line_error(city, path, command):
    env, garbage = city
    runner = CliRunner()
    failures = []
    for args in invocations(path, command, garbage):
        argv = [*path.split(), *args]
        result = runner.invoke(main, argv, env=env, input="")
        said = result.output
        if (result.exit_code == 0 or "Traceback" in said
                or not isinstance(result.exception, SystemExit)):
            failures.append(f"satukartu {' '.join(map(repr, argv))} -> exit "
                            f"{result.exit_code}, {result.exception!r}: {said[-300:]!r}")
    assert not failures, "\n".join(failures)

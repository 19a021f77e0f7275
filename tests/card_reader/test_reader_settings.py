"""The reader's settings as an operator meets them: each variable named in --help, the
terminal's secret from the environment or a file rather than the command line."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from card_reader.cli import _client_secret, reader_command

ENV_OPTIONS = [param for param in reader_command.params
               if isinstance(param, click.Option) and param.envvar]


def _help() -> str:
    return " ".join(CliRunner().invoke(reader_command, ["--help"]).output.split())


@pytest.mark.parametrize("option", ENV_OPTIONS, ids=lambda option: option.opts[0])
def test_help_names_the_variable_each_option_comes_from(option):
    assert f"env var: {option.envvar}" in _help()


@pytest.mark.parametrize("variable", ["SATUKARTU_HUB_URL", "SATUKARTU_TERMINAL_CLIENT_ID",
                                      "SATUKARTU_TERMINAL_CLIENT_SECRET",
                                      "SATUKARTU_TERMINAL_CLIENT_SECRET_FILE",
                                      "SATUKARTU_TERMINAL_KIND"])
def test_the_settings_an_operator_needs_come_from_the_environment(variable):
    assert variable in {option.envvar for option in ENV_OPTIONS}


def test_the_kind_has_no_default():
    kind = next(option for option in ENV_OPTIONS if option.opts[0] == "--kind")
    assert kind.default is None


def test_the_secret_comes_from_the_first_line_of_a_file(tmp_path):
    path = tmp_path / "secret"
    path.write_text("s3cret-from-a-file\n")
    assert _client_secret(None, str(path)) == "s3cret-from-a-file"


def test_the_secret_given_once_is_taken_as_it_is():
    assert _client_secret("s3cret", None) == "s3cret"


def _run(*args, env=None):
    base = {"SATUKARTU_TERMINAL_CLIENT_ID": "tc_1", "SATUKARTU_TERMINAL_CLIENT_SECRET": None,
            "SATUKARTU_TERMINAL_CLIENT_SECRET_FILE": None, "SATUKARTU_TERMINAL_KIND": None}
    return CliRunner().invoke(reader_command, ["--once", "--json", *args],
                              env={**base, **(env or {})})


def test_no_secret_at_all_is_a_usage_error():
    done = _run()
    assert done.exit_code == 2
    assert "SATUKARTU_TERMINAL_CLIENT_SECRET" in done.output


def test_a_secret_given_twice_is_a_usage_error(tmp_path):
    path = tmp_path / "secret"
    path.write_text("one\n")
    done = _run("--client-secret-file", str(path),
                env={"SATUKARTU_TERMINAL_CLIENT_SECRET": "two"})
    assert done.exit_code == 2
    assert "once" in done.output


def test_an_empty_secret_file_is_refused(tmp_path):
    path = tmp_path / "secret"
    path.write_text("\n")
    done = _run("--client-secret-file", str(path))
    assert done.exit_code == 2
    assert "holds no secret" in done.output


def test_an_unreadable_secret_file_is_refused(tmp_path):
    done = _run("--client-secret-file", str(tmp_path / "missing"))
    assert done.exit_code == 2
    assert "cannot read" in done.output

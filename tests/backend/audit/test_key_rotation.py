"""Rotating the checkpoint key: new checkpoints use the new key, earlier ones still verify,
and `satukartu keys` lists and rotates the keys, audited."""

import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from backend.audit.checkpoints import KEY_FILE_BY_ID
from backend.audit.export import Range, export_jsonl
from backend.cli import main
from backend.keys.purposes import store


def _rotate(audit_store):
    return store(audit_store.app.config, "checkpoints").rotate()


def _keys(audit_store, *args):
    config = audit_store.app.config
    env = {"SATUKARTU_DATABASE_URL": config["DATABASE_URL"],
           "SATUKARTU_INSTANCE_DIR": config["INSTANCE_DIR"],
           "SATUKARTU_SECRET_KEY": "test-secret-key-not-for-production"}
    return CliRunner().invoke(main, ["keys", *args], env=env)


def test_checkpoints_after_rotation_are_signed_with_the_new_key(audit_store):
    audit_store.fill(2)
    before = audit_store.checkpoint()
    retired, new = _rotate(audit_store)
    audit_store.fill(2)
    after = audit_store.checkpoint()
    assert (before.key_id, after.key_id) == (retired.key_id, new.key_id)


def test_a_checkpoint_signed_before_rotation_still_verifies(audit_store):
    audit_store.fill(3)
    audit_store.checkpoint()
    _rotate(audit_store)
    audit_store.fill(3)
    audit_store.checkpoint()
    report = audit_store.verify()
    assert report.intact, report.findings
    assert report.checkpoints == 4  # two in the table, two in the directory


def test_a_checkpoint_file_from_before_rotation_verifies_with_its_key_file(audit_store):
    audit_store.fill(2)
    made = audit_store.checkpoint()
    _rotate(audit_store)
    directory = Path(audit_store.app.config["AUDIT_CHECKPOINT_DIR"])
    result = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
         str(directory / KEY_FILE_BY_ID.format(key_id=made.key_id)), "-rawin",
         "-in", str(directory / f"{made.name}.txt"), "-sigfile",
         str(directory / f"{made.name}.sig")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_checkpoint_naming_an_unknown_key_fails_verification(audit_store):
    audit_store.fill(2)
    audit_store.checkpoint()
    with audit_store.tamper() as owner:
        owner.execute(text("UPDATE audit_checkpoints SET key_id = '00112233deadbeef'"))
    finding = audit_store.verify().first("bad_checkpoint")
    assert finding is not None
    assert "00112233deadbeef" in finding.detail and "not a known" in finding.detail


def test_the_exported_checkpoint_names_its_key(audit_store):
    audit_store.fill(2)
    made = audit_store.checkpoint()
    out = io.StringIO()
    today = datetime.now(UTC).date().isoformat()
    with audit_store.engine.connect() as conn:
        export_jsonl(conn, Range.parse(today, today), out)
    checkpoint = json.loads(out.getvalue().splitlines()[-1])
    assert checkpoint["key_id"] == made.key_id


def test_cli_rotate_makes_a_new_current_key_and_is_audited(audit_store):
    audit_store.fill(1)
    old = audit_store.checkpoint().key_id
    result = _keys(audit_store, "rotate", "--purpose", "checkpoints")
    assert result.exit_code == 0, result.output
    new = store(audit_store.app.config, "checkpoints").load().current.key_id
    assert result.output == f"checkpoints: {new} is current; {old} is retired\n"
    last = audit_store.records()[-1]
    assert (last["action"], last["subject_id"], last["actor"].startswith("cli:")) == \
        ("keys.rotate", new, True)


def test_cli_list_shows_each_key_current_or_retired(audit_store):
    audit_store.fill(1)
    old = audit_store.checkpoint().key_id
    _rotate(audit_store)
    result = _keys(audit_store, "list", "--purpose", "checkpoints", "--json")
    assert result.exit_code == 0, result.output
    listed = [(k["key_id"], k["status"]) for k in json.loads(result.output)]
    assert listed[0] == (old, "retired") and listed[1][1] == "current"


def test_cli_rotate_of_an_unknown_purpose_is_a_one_line_error(audit_store):
    result = _keys(audit_store, "rotate", "--purpose", "everything")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "Invalid value for '--purpose'" in result.output

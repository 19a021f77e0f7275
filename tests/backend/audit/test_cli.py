"""`satukartu audit ...` on a real database: exit codes scripts can rely on."""

import json

from click.testing import CliRunner
from sqlalchemy import text

from backend.cli import main


def _env(audit_store):
    config = audit_store.app.config
    return {"SATUKARTU_DATABASE_URL": config["DATABASE_URL"],
            "SATUKARTU_INSTANCE_DIR": config["INSTANCE_DIR"],
            "SATUKARTU_SECRET_KEY": "test-secret-key-not-for-production"}


def _run(audit_store, *args):
    return CliRunner().invoke(main, ["audit", *args], env=_env(audit_store))


def test_verify_exits_zero_when_intact(audit_store):
    audit_store.fill(5)
    assert _run(audit_store, "checkpoint").exit_code == 0
    result = _run(audit_store, "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("intact: 5 records")


def test_verify_exits_non_zero_and_names_the_position(audit_store):
    audit_store.fill(5)
    with audit_store.tamper() as owner:
        owner.execute(text("UPDATE audit_records SET actor = 'mallory' WHERE seq = 2"))
    result = _run(audit_store, "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["intact"] is False
    assert [(f["kind"], f["position"]) for f in report["findings"]] == [("edited", 2)]


def test_export_writes_the_file_and_is_audited(audit_store, tmp_path):
    audit_store.fill(3)
    out = tmp_path / "range.jsonl"
    result = _run(audit_store, "export", "--from", "2000-01-01", "--to", "2999-01-01",
                  "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().count('"kind": "record"') == 3
    assert audit_store.records()[-1]["action"] == "audit.export"


def test_export_with_a_backwards_range_is_a_usage_error(audit_store, tmp_path):
    result = _run(audit_store, "export", "--from", "2026-02-01", "--to", "2026-01-01",
                  "--out", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2


def test_public_key_matches_what_checkpoints_are_signed_with(audit_store):
    audit_store.fill(1)
    audit_store.checkpoint()
    pem = _run(audit_store, "public-key").output
    published = (audit_store.app.config["AUDIT_CHECKPOINT_DIR"] + "/audit-signing.pub.pem")
    with open(published) as handle:
        assert handle.read() == pem

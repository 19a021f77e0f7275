"""Checkpoints are signed files anyone can check with OpenSSL and the public key."""

import subprocess
from pathlib import Path

import pytest

from backend.audit.checkpoints import PUBLIC_KEY_FILE, make_checkpoint, parse_body
from backend.db import database


def _openssl_verify(directory: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(directory / PUBLIC_KEY_FILE),
         "-rawin", "-in", str(directory / f"{name}.txt"), "-sigfile",
         str(directory / f"{name}.sig")], capture_output=True, text=True)


@pytest.fixture
def checkpoint_dir(audit_store):
    audit_store.fill(7, per_transaction=3)
    made = audit_store.checkpoint()
    return Path(audit_store.app.config["AUDIT_CHECKPOINT_DIR"]), made


def test_checkpoint_file_verifies_with_openssl(checkpoint_dir):
    directory, made = checkpoint_dir
    result = _openssl_verify(directory, made.name)
    assert result.returncode == 0, result.stderr
    assert "Signature Verified Successfully" in result.stdout


def test_altered_checkpoint_file_fails_openssl(checkpoint_dir):
    directory, made = checkpoint_dir
    path = directory / f"{made.name}.txt"
    path.write_text(path.read_text().replace("size 7", "size 70"))
    result = _openssl_verify(directory, made.name)
    assert result.returncode != 0
    assert "Signature Verification Failure" in result.stdout + result.stderr


def test_checkpoint_states_size_and_head_of_the_chain(checkpoint_dir, audit_store):
    directory, made = checkpoint_dir
    size, head, _at = parse_body((directory / f"{made.name}.txt").read_text())
    last = audit_store.records()[-1]
    assert (size, head) == (7, last["hash"])


def test_signing_key_is_made_once_and_private(audit_store):
    audit_store.fill(1)
    audit_store.checkpoint()
    key_path = Path(audit_store.app.config["AUDIT_SIGNING_KEY"])
    first = key_path.read_bytes()
    audit_store.fill(1)
    audit_store.checkpoint()
    assert key_path.read_bytes() == first
    assert key_path.stat().st_mode & 0o077 == 0


def test_checkpoint_of_an_empty_log_is_not_made(app):
    assert make_checkpoint(database(), app.config) is None

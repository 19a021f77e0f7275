"""An independent PIV client (OpenSC) recognises, reads and signs with our card.

This is the evidence that our card and real PIV cards speak the same language.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

pytestmark = [pytest.mark.pcsc, pytest.mark.skipif(
    shutil.which("pkcs11-tool") is None, reason="OpenSC is not installed")]

PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def run(*args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(args, input=input, capture_output=True, timeout=60)
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{out}"
    return out


def test_opensc_names_the_card_a_piv_card(blank_card):
    assert "Personal Identity Verification Card" in run("opensc-tool", "-n")


def test_pkcs15_tool_lists_both_certificates(issued_card):
    out = run("pkcs15-tool", "-D")
    assert "X.509 Certificate [Certificate for PIV Authentication]" in out, out
    assert "X.509 Certificate [Certificate for Card Authentication]" in out, out
    ids = {line.split(":")[1].strip() for line in out.splitlines()
           if line.strip().startswith("ID ")}
    assert {"01", "04"} <= ids, out


def test_pkcs11_tool_signs_with_9a_after_login_and_openssl_verifies(issued_card, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"SatuKartu conformance " * 10)
    sig = tmp_path / "sig.der"
    run("pkcs11-tool", "--module", PKCS11_MODULE, "--login", "--pin", issued_card.pin,
        "--sign", "--mechanism", "ECDSA-SHA256", "--id", "01", "--signature-format",
        "openssl", "--input-file", str(data), "--output-file", str(sig))
    from card_reader.piv import Slot
    cert = x509.load_der_x509_certificate(issued_card.issued.certificates[Slot.AUTHENTICATION])
    pub = tmp_path / "pub.pem"
    pub.write_bytes(cert.public_key().public_bytes(Encoding.PEM,
                                                   PublicFormat.SubjectPublicKeyInfo))
    out = run("openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig),
              str(data))
    assert "Verified OK" in out


def test_pkcs11_tool_prehashed_ecdsa_verifies_with_pkeyutl(issued_card, tmp_path):
    import hashlib
    digest = tmp_path / "digest.bin"
    digest.write_bytes(hashlib.sha256(b"hello card").digest())
    sig = tmp_path / "sig.der"
    run("pkcs11-tool", "--module", PKCS11_MODULE, "--login", "--pin", issued_card.pin,
        "--sign", "--mechanism", "ECDSA", "--id", "01", "--signature-format", "openssl",
        "--input-file", str(digest), "--output-file", str(sig))
    from card_reader.piv import Slot
    cert_path = tmp_path / "cert.pem"
    cert = x509.load_der_x509_certificate(issued_card.issued.certificates[Slot.AUTHENTICATION])
    cert_path.write_bytes(cert.public_bytes(Encoding.PEM))
    out = run("openssl", "pkeyutl", "-verify", "-certin", "-inkey", str(cert_path),
              "-in", str(digest), "-sigfile", str(sig))
    assert "Signature Verified Successfully" in out


def test_pkcs15_crypt_signs_with_9e_without_pin(issued_card, tmp_path):
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    from card_reader.piv import Slot
    digest = hashlib.sha256(b"tap at the gate").digest()
    (tmp_path / "digest.bin").write_bytes(digest)
    run("pkcs15-crypt", "-s", "-k", "04", "--sha-256", "-f", "openssl",
        "-i", str(tmp_path / "digest.bin"), "-o", str(tmp_path / "sig.der"))
    cert = x509.load_der_x509_certificate(issued_card.issued.certificates[Slot.CARD_AUTH])
    cert.public_key().verify((tmp_path / "sig.der").read_bytes(), digest,
                             ec.ECDSA(Prehashed(hashes.SHA256())))

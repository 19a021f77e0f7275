"""Real PC/SC for tests: a private pcscd with vpcd readers, virtual cards, issued cards.

Use from any test package with `pytest_plugins = ["tests.pcsc_fixtures"]` (root
conftest) or by importing the fixtures into a conftest.

Each test process (xdist worker) gets its own pcscd: the daemon runs in a private
mount namespace where a per-worker directory is bind-mounted on /run/pcscd (pcscd
1.9 has that path compiled in), and vpcd listens on free ports of its own. The
client library finds that pcscd through PCSCLITE_CSOCK_NAME, which it reads once
per process: the fixture sets it before anything touches PC/SC, and every tool
started from the tests (OpenSC, the CLI) inherits it.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from card_reader.stack import (  # noqa: F401 - re-exported for tests
    READER_PREFIX,
    PrivatePcscd,
    VirtualCard,
    card_present,
    free_port_pair,
    wait_for,
)

TEST_PIN = "246810"
TEST_PUK = "97531086"
TEST_MGMT_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PrivatePcscd]:
    """A running private pcscd; PCSCLITE_CSOCK_NAME points this process at it.

    One per process: the PC/SC library reads the socket's name once, so a second
    daemon here would be unreachable. Import the fixture through `pytest_plugins`
    only, never into a conftest (that would define a second session fixture).
    """
    if os.environ.get("PCSCLITE_CSOCK_NAME", "").startswith(tempfile.gettempdir()):
        raise RuntimeError("a private pcscd already serves this process; use that one")
    workdir = Path(tempfile.mkdtemp(prefix="satukartu-pcscd-"))
    daemon = PrivatePcscd(workdir)
    previous = os.environ.get("PCSCLITE_CSOCK_NAME")
    os.environ.update(daemon.env)
    daemon.start()
    yield daemon
    daemon.stop()
    if previous is None:
        os.environ.pop("PCSCLITE_CSOCK_NAME", None)
    else:
        os.environ["PCSCLITE_CSOCK_NAME"] = previous


@pytest.fixture
def vcard_factory(pcscd: PrivatePcscd, tmp_path: Path) -> Iterator:
    """Make virtual cards: `vcard_factory(reader_index=0, delay_profile="fast")`."""
    cards: list[VirtualCard] = []

    def make(reader_index: int = 0, delay_profile: str = "fast", pin_retries: int = 3,
             state_path: Path | None = None, insert: bool = True) -> VirtualCard:
        card = VirtualCard(pcscd, state_path or tmp_path / f"card{len(cards)}.json",
                           pcscd.readers[reader_index], delay_profile, pin_retries)
        cards.append(card)
        return card.insert() if insert else card

    yield make
    for card in cards:
        card.remove(wait=card.proc is not None)


@pytest.fixture
def blank_card(vcard_factory) -> VirtualCard:
    """A blank card (default PIN, PUK and management key) in the first reader."""
    return vcard_factory()


# --- issuing test cards ---------------------------------------------------------


@dataclass
class TestCA:
    """A throwaway issuing CA for cards in tests (the hub's real CA lives in backend)."""

    __test__ = False
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str = "SatuKartu Test Issuing CA") -> TestCA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def certify(self, slot: int, public_key: ec.EllipticCurvePublicKey,
                card_uuid: uuid.UUID, citizen: str = "3171000000000001") -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, f"citizen {citizen} key {slot:02X}"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, citizen),
        ])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(f"urn:uuid:{card_uuid}")]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return cert.public_bytes(Encoding.DER)


@dataclass
class IssuedVirtualCard:
    card: VirtualCard
    issued: object  # card_reader.issuance.IssuedCard
    ca: TestCA
    pin: str = TEST_PIN
    puk: str = TEST_PUK
    management_key: bytes = TEST_MGMT_KEY

    @property
    def reader(self) -> str:
        return self.card.reader


def issue_card(card: VirtualCard, ca: TestCA, pin: str = TEST_PIN,
               pin_retries: int | None = None) -> IssuedVirtualCard:
    """Personalise a blank virtual card through pcscd, as `satukartu card issue` would."""
    from card_reader.client import PivSession
    from card_reader.issuance import personalise
    from card_reader.pcsc import PcscConnection

    with PcscConnection(card.reader) as conn:
        issued = personalise(PivSession(conn), certify=ca.certify, pin=pin, puk=TEST_PUK,
                             management_key=TEST_MGMT_KEY, pin_retries=pin_retries)
    return IssuedVirtualCard(card, issued, ca, pin=pin)


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    return TestCA.create()


@pytest.fixture
def issued_card(blank_card: VirtualCard, test_ca: TestCA) -> IssuedVirtualCard:
    """A card with keys 9A and 9E, certificates from `test_ca`, CHUID, PIN TEST_PIN."""
    return issue_card(blank_card, test_ca)

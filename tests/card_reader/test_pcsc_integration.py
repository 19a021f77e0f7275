"""Through the real stack: pyscard -> private pcscd -> vpcd -> virtual card process."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card_reader import piv as p
from card_reader.client import PivSession
from card_reader.pcsc import CardGoneError, PcscConnection, StatusWatcher, readers_with_card
from tests.pcsc_fixtures import card_present

pytestmark = pytest.mark.pcsc


class EventRecorder:
    """Runs a StatusWatcher in a thread and keeps its events."""

    def __init__(self) -> None:
        self.watcher = StatusWatcher(poll=0.5)
        self.events: list = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for event in self.watcher.events():
            self.events.append(event)

    def wait_for(self, kind: str, reader: str = "", count: int = 1, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [e for e in self.events if e.kind == kind and e.reader == reader]
            if len(hits) >= count:
                return hits[-1]
            time.sleep(0.02)
        raise AssertionError(f"no {kind} {reader} in {self.events}")

    def close(self) -> None:
        self.watcher.stop()
        self.thread.join(5)


@pytest.fixture
def recorder(pcscd):
    rec = EventRecorder()
    yield rec
    rec.close()


def test_watcher_reports_insert_and_remove(recorder, vcard_factory, pcscd):
    card = vcard_factory()
    event = recorder.wait_for("inserted", card.reader)
    assert event.atr.startswith(b"\x3b")
    card.remove()
    recorder.wait_for("removed", card.reader)
    card.insert()
    recorder.wait_for("inserted", card.reader, count=2)


def test_watcher_and_card_recover_when_pcscd_is_killed_and_restarted(recorder, vcard_factory,
                                                                     pcscd):
    card = vcard_factory()
    recorder.wait_for("inserted", card.reader)
    pcscd.restart()  # SIGKILL, then a new pcscd on the same socket and ports
    recorder.wait_for("service_lost")
    recorder.wait_for("service_back")
    recorder.wait_for("inserted", card.reader, count=2, timeout=15)
    with PcscConnection(card.reader) as conn:
        assert PivSession(conn).select().startswith(b"\x61")


def test_a_card_removed_mid_session_is_card_gone(blank_card):
    conn = PcscConnection(blank_card.reader)
    PivSession(conn).select()
    blank_card.remove()
    with pytest.raises(CardGoneError):
        PivSession(conn).select()
    conn.close()


def test_connection_uses_t1_and_lists_the_card(blank_card):
    with PcscConnection(blank_card.reader) as conn:
        assert conn.protocol == 2  # SCARD_PROTOCOL_T1
    assert blank_card.reader in readers_with_card()


def test_three_wrong_pins_block_the_card_even_across_reinsertion(blank_card):
    with PcscConnection(blank_card.reader) as conn:
        session = PivSession(conn)
        session.select()
        for left in (2, 1):
            with pytest.raises(p.InvalidPinError) as info:
                session.verify_pin("000000")
            assert info.value.attempts_remaining == left
    blank_card.remove()  # pulling the card does not reset the counter
    blank_card.insert()
    with PcscConnection(blank_card.reader) as conn:
        session = PivSession(conn)
        session.select()
        with pytest.raises(p.PinBlockedError):
            session.verify_pin("000000")
        with pytest.raises(p.PinBlockedError):
            session.verify_pin("123456")


def test_puk_unblocks_a_blocked_pin(issued_card):
    with PcscConnection(issued_card.reader) as conn:
        session = PivSession(conn)
        session.select()
        for _ in range(3):
            with pytest.raises((p.InvalidPinError, p.PinBlockedError)):
                session.verify_pin("000000")
        session.unblock_pin(issued_card.puk, "112233")
        session.verify_pin("112233")
        session.sign_digest(p.Slot.AUTHENTICATION, b"\x05" * 32)


def test_issued_card_signs_and_the_certificate_verifies_it(issued_card):
    digest = hashlib.sha256(b"challenge").digest()
    with PcscConnection(issued_card.reader) as conn:
        session = PivSession(conn)
        session.select()
        assert session.read_card_uuid() == issued_card.issued.card_uuid
        for slot, pin in ((p.Slot.CARD_AUTH, None), (p.Slot.AUTHENTICATION, issued_card.pin)):
            cert = x509.load_der_x509_certificate(session.read_certificate(slot))
            cert.verify_directly_issued_by(issued_card.ca.cert)
            if pin:
                with pytest.raises(p.SecurityStatusError):
                    session.sign_digest(slot, digest)
                session.verify_pin(pin)
            signature = session.sign_digest(slot, digest)
            cert.public_key().verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_issued_card_no_longer_accepts_the_default_management_key(issued_card):
    with PcscConnection(issued_card.reader) as conn:
        session = PivSession(conn)
        session.select()
        with pytest.raises(p.PivError):
            session.authenticate(p.DEFAULT_MANAGEMENT_KEY)
        session.authenticate(issued_card.management_key, p.Algorithm.AES128)


def test_second_reader_is_independent(vcard_factory):
    first, second = vcard_factory(0), vcard_factory(1)
    second.remove()
    assert card_present(first.reader) and not card_present(second.reader)

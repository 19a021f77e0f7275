"""An agent's PC for the offline tests: a city PKI with a root, an issuing CA and its
CRL, the bundle the hub would serve from them, and the daemon with its offline mode
and bridge running against the stub hub."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from card_reader import piv as p
from card_reader.bridge import Bridge
from card_reader.daemon import JsonLinesSink, ReaderDaemon, fan_out
from card_reader.event_feed import EventFeed
from card_reader.offline.mode import OfflineMode
from card_reader.offline.trust import BundleStore
from card_reader.offline_wire import Bundle, OfflineProgramme
from card_reader.pcsc import StatusWatcher
from tests.card_reader.bridge_page import ORIGIN, Stream, call, wait_until
from tests.pcsc_fixtures import TestCA

TERMINAL = "agent-1"
TIMEZONE = "Asia/Jakarta"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class CityPki:
    """The city's root (P-384, as `satukartu ca init` makes it) and issuing CA."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    issuing: TestCA  # certifies cards as the fixtures' TestCA does, under this root

    @classmethod
    def create(cls) -> CityPki:
        now = dt.datetime.now(dt.UTC)
        root_key = ec.generate_private_key(ec.SECP384R1())
        root = (x509.CertificateBuilder().subject_name(_name("Test City Root CA"))
                .issuer_name(_name("Test City Root CA")).public_key(root_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                .sign(root_key, hashes.SHA384()))
        key = ec.generate_private_key(ec.SECP256R1())
        issuing = (x509.CertificateBuilder().subject_name(_name("Test City Issuing CA 1"))
                   .issuer_name(root.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=1825))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .sign(root_key, hashes.SHA384()))
        return cls(root_key, root, TestCA(key, issuing))

    def crl(self, revoked: tuple[int, ...] = (), number: int = 7,
            next_update: dt.datetime | None = None,
            last_update: dt.datetime | None = None) -> bytes:
        now = dt.datetime.now(dt.UTC)
        next_update = next_update or now + dt.timedelta(hours=24)
        last_update = last_update or min(now, next_update - dt.timedelta(hours=24))
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.issuing.cert.subject)
                   .last_update(last_update)
                   .next_update(next_update)
                   .add_extension(x509.CRLNumber(number), critical=False))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(now - dt.timedelta(minutes=1)).build())
        return builder.sign(self.issuing.key, hashes.SHA256()).public_bytes(
            serialization.Encoding.DER)

    def bundle(self, origin: str, crl: bytes | None = None, card_daily_cap: int = 100_000,
               agent_daily_cap: int = 300_000, max_redemption: int = 50_000,
               counter: int = 0, grace_hours: int = 24) -> Bundle:
        food = OfflineProgramme("food", "groceries", {"en": "Food assistance"},
                                ("rice", "oil"), card_daily_cap, agent_daily_cap,
                                max_redemption)
        return Bundle(TERMINAL, origin, TIMEZONE, (_pem(self.root),),
                      (_pem(self.issuing.cert),), crl if crl is not None else self.crl(),
                      grace_hours, (food,), counter)


def nine_a_serial(issued_card: Any) -> int:
    der = issued_card.issued.certificates[p.Slot.AUTHENTICATION]
    return x509.load_der_x509_certificate(der).serial_number


@dataclass
class Agent:
    """An agent's PC as `satukartu reader --kind agent` runs it, on a free port."""

    client: Any
    directory: Path
    kept: Bundle | None = None  # a bundle fetched earlier, on disk before the start
    interval: float = 0.3
    stdout: io.StringIO = field(default_factory=io.StringIO)

    def __post_init__(self) -> None:
        if self.kept is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            BundleStore(self.directory).save(self.kept)
        self.feed = EventFeed()
        sink = fan_out(JsonLinesSink(self.stdout), self.feed)
        self.offline = OfflineMode(self.client, self.directory, sink, self.interval)
        self.daemon = ReaderDaemon(self.client, sink=sink, watcher=StatusWatcher(poll=0.5),
                                   link=self.offline)
        self.offline.attach(self.daemon)
        self.bridge = Bridge(self.feed, self.daemon.pin_login, [ORIGIN], port=0,
                             offline=self.offline)
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)
        self.streams: list[Stream] = []

    def start(self) -> Agent:
        self.offline.start()
        self.bridge.start()
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return self.bridge.url

    def stream(self) -> Stream:
        stream = Stream(self.url)
        self.streams.append(stream)
        return stream

    def redeem(self, pin: str, amount: int = 25_000, card: bool = True,
               **fields: Any) -> tuple[int, dict]:
        if card:
            wait_until(self.daemon.card_present, 5)  # the watcher saw the card in already
        body = {"pin": pin, "programme": "food", "purse": "groceries", "amount": amount,
                "category": "rice", **fields}
        answer = call(self.url, "POST", "/offline/redeem", body)
        return answer.status, answer.body

    def overview(self) -> dict[str, Any]:
        return call(self.url, "GET", "/offline").body

    def printed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.getvalue().splitlines()]

    def stop(self) -> None:
        self.daemon.stop()
        self.thread.join(10)
        self.bridge.stop()
        self.offline.stop()
        for stream in self.streams:
            stream.close()


def offline_agent(agent, hub, pki, **bundle_args) -> Agent:
    """The hub stopped; the agent holds the bundle it fetched before."""
    hub.down = True
    return agent(pki.bundle(hub.url, **bundle_args))

"""Full card authentications per second at the hub, against the floor of their parts.

    .venv/bin/python bench/bench_auth.py [--seconds 10] [--streams 12] [--clients 2]
        [--workers 2] [--worker-class gthread] [--threads 2] [--skip-e2e]
        [--citizens N | --world DIR] [--cards 200]

Makes a fresh PostgreSQL database and an issuing CA, records soft cards (real P-256
keys, certificates from our CA) and registers terminals, then runs the hub under
gunicorn and drives it from separate client processes: each stream asks for a
challenge, signs it as the card does, and sends the token. Then, in the same run, it
measures the floor of the parts a token check cannot avoid: one ECDSA P-256 verify,
one cached chain check, one indexed read, one nonce and one audit write (a commit),
one session token, and two trivial Flask requests under the same gunicorn; and prints
the ratio. CPU seconds of the gunicorn workers, of the database backends serving
them with PostgreSQL's WAL writer, checkpointer and background writer (which flush for
commits that do not wait), and of the clients are read from /proc, per authentication.

With --citizens N the database is instead a synthetic city made by `satukartu
registry synth --citizens N` (bench/synth_world.py), and with --world DIR one kept
by `bench_synth.py --keep DIR`; the cards are then drawn at random across the whole
registry and rebuilt from their rows, so the figures at 100,000 and at 10 million
citizens compare the same work against tables of different sizes.

Unless --skip-e2e (always, with a synthetic city), it then measures card inserted ->
session ready through a private pcscd with the virtual card (fast and
`--delay-profile real`), against this hub.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from auth_e2e import measure_e2e
from auth_floor import ECDSA, measure_parts
from cryptography.hazmat.primitives.asymmetric import ec
from proc_cpu import backend_pids, children, cpu_seconds, wal_counters, wal_helper_pids

from card_reader import wire

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


# --- a trivial app, for the floor: the same Flask and gunicorn, no work -----------------


def trivial_app():  # gunicorn's factory
    from flask import Flask, jsonify

    app = Flask("trivial")

    @app.post("/t")
    def t():
        return jsonify(ok=True)

    return app


# --- a minimal keep-alive HTTP/1.1 client (the load must cost the machine little) -------


class Http:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        return sock

    def post(self, path: str, body: bytes, auth: str) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = self._connect()
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.sock.sendall(head.encode() + body)
        status, headers, payload = self._read()
        if headers.get(b"connection", b"").lower() == b"close":
            self.sock.close()
            self.sock = None
        return status, payload

    def _read(self) -> tuple[int, dict[bytes, bytes], bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buf) < length:
            self._more()
        payload, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, payload

    def _more(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk


# --- the world the hub needs --------------------------------------------------------------


@dataclass
class SoftCardKey:
    cert_b64: str
    key: ec.EllipticCurvePrivateKey
    key_ref: str


def soft_card_keys(cards: list) -> list[SoftCardKey]:
    """Half the cards sign with the PIN key, half with the tap key."""
    return [SoftCardKey(base64.b64encode(card.der(ref)).decode(), card.keys[ref], ref)
            for i, card in enumerate(cards) for ref in ["9E" if i % 2 else "9A"]]


def add_terminals(settings: dict, count: int, kind: str = "kiosk") -> list[tuple[str, str]]:
    from backend.app import create_app
    from backend.db import database
    from backend.identity import accounts

    app = create_app(**settings)
    terminals = []
    with app.app_context(), database().transaction() as tx:
        for i in range(count):
            row, secret = accounts.create_terminal(tx, kind=kind, name=f"bench {kind} {i}")
            terminals.append((row.client_id, secret))
    app.extensions["satukartu.db"].engine.dispose()
    return terminals


def setup_world(db_url: str, instance: Path, origin: str, n_cards: int, n_terminals: int
                ) -> tuple[list[SoftCardKey], list[tuple[str, str]], dict]:
    """CA, citizens, cards and terminals in a fresh database; the hub's settings."""
    from sqlalchemy import insert

    from backend.app import create_app
    from backend.cards import ca, lifecycle
    from backend.db import database
    from backend.identity import accounts
    from backend.registry.models import Citizen
    from backend.testing.cards import make_soft_card

    settings = {"DATABASE_URL": db_url, "INSTANCE_DIR": str(instance), "ORIGIN": origin,
                "SECRET_KEY": secrets.token_urlsafe(32), "LOG_LEVEL": "WARNING"}
    app = create_app(**settings)
    issuing = ca.init_ca(app.config["CA_DIR"], "Kota Bench")
    cards: list[SoftCardKey] = []
    terminals = []
    with app.app_context(), database().transaction() as tx:
        rows = [{"national_number": f"9{i:015d}", "full_name": f"Warga {i}",
                 "name_search": f"warga {i}", "birth_date": dt.date(1990, 1, 1), "sex": "F",
                 "address": "Jl. Uji", "region_code": "3171010001", "language": "id"}
                for i in range(n_cards)]
        tx.execute(insert(Citizen), rows)
        ids = dict(tx.execute(Citizen.__table__.select().with_only_columns(
            Citizen.national_number, Citizen.id)).all())
        for i in range(n_cards):
            number = f"9{i:015d}"
            card = make_soft_card(issuing, number, ids[number])
            lifecycle.record_issued(tx, lifecycle.NewCard(
                citizen_id=ids[number], serial=card.serial, card_uuid=card.card_uuid,
                certificates=dict(card.certificates),
                expires_at=min(c.not_valid_after_utc for c in card.certificates.values())))
            ref = "9E" if i % 2 else "9A"
            cards.append(SoftCardKey(base64.b64encode(card.der(ref)).decode(), card.keys[ref],
                                     ref))
        for i in range(n_terminals):
            row, secret = accounts.create_terminal(tx, kind="kiosk", name=f"bench kiosk {i}")
            terminals.append((row.client_id, secret))
    app.extensions["satukartu.db"].engine.dispose()
    env = {f"SATUKARTU_{k}": v for k, v in settings.items()}
    return cards, terminals, env


def terminal_tokens(port: int, terminals: list[tuple[str, str]]) -> list[str]:
    import requests

    tokens = []
    for client_id, secret in terminals:
        answer = requests.post(f"http://127.0.0.1:{port}{wire.PATH_TERMINAL_TOKEN}",
                               data={"grant_type": "client_credentials", "scope": "kiosk"},
                               auth=(client_id, secret), timeout=30)
        answer.raise_for_status()
        tokens.append(answer.json()["access_token"])
    return tokens


# --- gunicorn ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(target: str, port: int, env: dict, args: argparse.Namespace,
                   chdir: Path = ROOT) -> subprocess.Popen:
    cmd = [GUNICORN, "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--chdir", str(chdir),
           "--worker-class", args.worker_class, "--threads", str(args.threads),
           "--log-level", "warning", "--backlog", "2048", target]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=chdir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(1.0)  # let every worker boot and import
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start: {cmd}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the load --------------------------------------------------------------------------------


def _stream(port: int, origin: str, auth: str, cards: list[SoftCardKey], window: tuple,
            trivial: bool, out: list) -> None:
    http = Http(port)
    count, latencies, i = 0, [], 0
    start_at, end_at = window
    h_origin = hashlib.sha256(origin.encode()).digest()
    while True:
        t0 = time.perf_counter()
        if t0 >= end_at:
            break
        if trivial:
            http.post("/t", b"", auth)
            status, _ = http.post("/t", b"{}", auth)
        else:
            card = cards[i % len(cards)]
            i += 1
            _, body = http.post(wire.PATH_CHALLENGE, b"", auth)
            nonce_b64 = json.loads(body)["nonce"]
            nonce = base64.b64decode(nonce_b64)
            digest = hashlib.sha256(h_origin + hashlib.sha256(nonce).digest()).digest()
            token = json.dumps({"certificate": card.cert_b64,
                                "signature": base64.b64encode(card.key.sign(digest, ECDSA))
                                .decode(), "key_ref": card.key_ref, "nonce": nonce_b64,
                                "algorithm": "ES256"}).encode()
            status, body = http.post(wire.PATH_CARD_TOKEN, token, auth)
            if status != 200:
                raise RuntimeError(f"token refused: {status} {body[:200]!r}")
        t1 = time.perf_counter()
        if t0 >= start_at:
            count += 1
            latencies.append(t1 - t0)
    out.append((count, latencies))


def _client(port: int, origin: str, auths: list[str], cards: list[SoftCardKey], window: tuple,
            trivial: bool, queue: mp.Queue) -> None:
    import threading

    results: list = []
    threads = [threading.Thread(target=_stream, args=(port, origin, auth, cards[k::len(auths)],
                                                      window, trivial, results))
               for k, auth in enumerate(auths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(results)


@dataclass
class LoadResult:
    rate: float  # completed loops per second
    median_ms: float
    p99_ms: float
    cpu: dict[str, float]  # seconds per loop
    wal: dict[str, float] = field(default_factory=dict)  # the server's WAL, per loop


def run_load(port: int, origin: str, auths: list[str], cards: list[SoftCardKey],
             args: argparse.Namespace, trivial: bool, server: subprocess.Popen,
             pg: tuple[str, str] | None) -> LoadResult:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    now = time.perf_counter()
    window = (now + args.warmup, now + args.warmup + args.seconds)
    per = [auths[k::args.clients] for k in range(args.clients)]
    procs = [ctx.Process(target=_client, args=(port, origin, a, cards, window, trivial, queue))
             for a in per if a]
    for p in procs:
        p.start()
    time.sleep(max(0.0, window[0] - time.perf_counter()))
    workers = children(server.pid)
    db_pids = backend_pids(*pg) + wal_helper_pids() if pg else []
    client_pids = [p.pid for p in procs]
    wal_before = wal_counters(pg[0]) if pg else {}
    before = (cpu_seconds(workers), cpu_seconds(db_pids), cpu_seconds(client_pids))
    time.sleep(max(0.0, window[1] - time.perf_counter()))
    after = (cpu_seconds(workers), cpu_seconds(db_pids), cpu_seconds(client_pids))
    wal_after = wal_counters(pg[0]) if pg else {}
    results = [r for _ in procs for r in queue.get()]
    for p in procs:
        p.join()
    count = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    cpu = {name: (after[i] - before[i]) / max(count, 1)
           for i, name in enumerate(("hub", "database", "clients"))}
    wal = {k: (wal_after[k] - wal_before[k]) / max(count, 1) for k in wal_after}
    return LoadResult(count / args.seconds, statistics.median(lat) * 1000,
                      lat[int(len(lat) * 0.99)] * 1000, cpu, wal)


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--streams", type=int, default=12, help="concurrent client loops")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--e2e-rounds", type=int, default=50)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--citizens", type=int, default=None,
                        help="against a synthetic city of N citizens made for this run")
    parser.add_argument("--world", type=Path, default=None,
                        help="against a synthetic city kept by bench_synth.py --keep DIR")
    args = parser.parse_args()
    if args.citizens or args.world:
        run_synthetic(args)
        return

    from backend.testing import databases

    db_name = databases.unique_name("sk_bench_auth")
    db_url = databases.create_pg_database(db_name)
    instance = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    port, trivial_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{port}"
    servers = []
    try:
        from backend import migrations

        migrations.upgrade(db_url)
        cards, terminals, env = setup_world(db_url, instance, origin, args.cards,
                                            args.streams + 1)
        hub = start_gunicorn("backend:create_app()", port, env, args)
        servers.append(hub)
        auths = terminal_tokens(port, terminals[:args.streams])
        pg = (databases._admin_conninfo(), db_name)
        auth = run_load(port, origin, auths, cards, args, False, hub, pg)
        trivial = start_gunicorn("bench_auth:trivial_app()", trivial_port, {}, args,
                                 chdir=ROOT / "bench")
        servers.append(trivial)
        pairs = run_load(trivial_port, origin, auths, cards, args, True, trivial, None)
        parts = measure_parts(db_url, instance)
        e2e = {} if args.skip_e2e else measure_e2e(
            port, origin, terminals[-1], db_url, instance, env, args.e2e_rounds)
    finally:
        for server in servers:
            stop(server)
        databases.drop_pg_database(db_name)
        shutil.rmtree(instance, ignore_errors=True)
    report(args, auth, pairs, parts, e2e)


def run_synthetic(args: argparse.Namespace) -> None:
    """The load against a synthetic city: cards drawn across the registry."""
    import synth_world

    from backend.testing import databases

    world = synth_world.load(args.world) if args.world else synth_world.build(args.citizens)
    port, trivial_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{port}"
    servers = []
    try:
        cards = soft_card_keys(synth_world.draw(world, args.cards))
        terminals = add_terminals(world.settings(origin), args.streams)
        hub = start_gunicorn("backend:create_app()", port, world.env(origin), args)
        servers.append(hub)
        auths = terminal_tokens(port, terminals)
        auth = run_load(port, origin, auths, cards, args, False, hub,
                        (databases._admin_conninfo(), world.name))
        trivial = start_gunicorn("bench_auth:trivial_app()", trivial_port, {}, args,
                                 chdir=ROOT / "bench")
        servers.append(trivial)
        pairs = run_load(trivial_port, origin, auths, cards, args, True, trivial, None)
        parts = measure_parts(world.url, world.instance)
    finally:
        for server in servers:
            stop(server)
        if not args.world:
            synth_world.drop(world)
    print(f"synthetic city of {world.citizens:,} citizens ({world.name}); {len(cards)} cards "
          "drawn across the registry")
    report(args, auth, pairs, parts, {})


def report(args: argparse.Namespace, auth: LoadResult, pairs: LoadResult,
           parts: dict[str, float], e2e: dict) -> None:
    print(f"gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}; "
          f"{args.streams} streams in {args.clients} client processes; {args.seconds:.0f} s; "
          f"{os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.2f}")
    print(f"full card authentications (challenge + token): {auth.rate:8.0f} /s   "
          f"latency median {auth.median_ms:.2f} ms, p99 {auth.p99_ms:.2f} ms")
    server = auth.cpu["hub"] + auth.cpu["database"]
    print("  CPU per authentication: " + ", ".join(
        f"{k} {v * 1e6:.0f} us" for k, v in auth.cpu.items())
        + f"; hub + database {server * 1e6:.0f} us")
    if auth.wal:
        print(f"  WAL per authentication (the whole server's): {auth.wal['records']:.1f} records, "
              f"{auth.wal['bytes']:.0f} bytes, {auth.wal['flushes']:.2f} flushes")
    cores = os.cpu_count() or 1
    print(f"  -> {cores} idle cores would serve at most {cores / server:.0f} /s "
          f"({cores / (server + auth.cpu['clients']):.0f} /s with these clients on them)")
    print(f"two trivial Flask requests, same gunicorn:   {pairs.rate:8.0f} pairs/s, "
          f"{pairs.cpu['hub'] * 1e6:.0f} us of worker CPU per pair")
    floor = {"two trivial Flask requests (worker CPU)": pairs.cpu["hub"], **parts}
    print("floor of the parts, CPU per authentication (database backend's included):")
    for name, seconds in floor.items():
        print(f"  {name:<46} {seconds * 1e6:8.1f} us")
    total = sum(floor.values())
    print(f"  {'sum':<46} {total * 1e6:8.1f} us")
    print(f"hub + database CPU per authentication = {server / total:.2f} x the floor")
    for profile, (median, p99) in e2e.items():
        print(f"card in reader -> session ready through pcscd, {profile:<9}: "
              f"median {median:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()

"""The city's deployment, built and started here: docker/'s images on a Debian base made
with mmdebstrap (no image registry is reachable), run with podman and podman-compose.

The base (`mmdebstrap --variant=minbase --include=python3 bookworm`, imported with
`podman import`) is cached as an image for a week, the Python packages as a wheelhouse
keyed by the requirements; the images' layers are podman's own cache. Everything the
stack creates (containers, pods, volumes, the network) is removed afterwards, also on
failure (unless SATUKARTU_DEPLOY_KEEP=1, to look into one); the images stay. Timings go
to stderr and to SATUKARTU_DEPLOY_CACHE/timings.json.

    .venv/bin/pytest -m deploy tests/deploy -s

Needs root, podman, mmdebstrap, runc and podman-compose (./run installs them).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.deploy.stack import (
    CACHE,
    PODMAN,
    TIMINGS,
    ULIMITS,
    Stack,
    base_image,
    build_context,
    build_images,
    cache_lock,
    free_port,
    make_secrets,
    make_tls,
    remove_everything,
    run,
    save_logs,
    say,
    timed,
    wheelhouse,
)

# One worker runs them all (under `./run test`, xdist): the stack is one per module.
pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.timeout(2400),
              pytest.mark.xdist_group("deploy")]

def _needs() -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the deployment test needs root (mmdebstrap, rootful podman)")
    missing = [tool for tool in ("podman", "mmdebstrap", "runc", "podman-compose", "openssl")
               if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (./run installs them)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _needs()
    work = tmp_path_factory.mktemp("deploy")
    started = time.monotonic()
    with cache_lock():
        base = base_image()
        probe = run([*PODMAN, "run", "--rm", *ULIMITS, base, "true"], check=False)
        if probe.returncode != 0:
            pytest.skip(f"podman cannot run a container here: {probe.stderr.strip()}")
        wheels = wheelhouse()
        context = build_context(work, wheels)
        with timed("images (all)"):
            tags = build_images(context, base)

    for old_logs in CACHE.glob("logs-skdeploy*"):  # the last run's logs only
        shutil.rmtree(old_logs, ignore_errors=True)
    secret_values = make_secrets(work / "secrets")
    cert = make_tls(work / "tls")
    port = free_port()
    project = f"skdeploy{os.getpid()}"
    env = {**os.environ,
           "SATUKARTU_BASE": base,
           "SATUKARTU_HUB_IMAGE": tags["hub"],
           "SATUKARTU_PROXY_IMAGE": tags["proxy"],
           "SATUKARTU_POSTGRES_IMAGE": tags["postgres"],
           "SATUKARTU_RABBITMQ_IMAGE": tags["rabbitmq"],
           "SATUKARTU_READER_IMAGE": tags["reader"],
           "SATUKARTU_SECRETS": str(work / "secrets"),
           "SATUKARTU_TLS": str(work / "tls"),
           "SATUKARTU_HTTPS_BIND": f"127.0.0.1:{port}",
           "SATUKARTU_ORIGIN": f"https://127.0.0.1:{port}"}
    stack = Stack(project=project, compose_file=context / "docker/compose.yaml", env=env,
                  origin=f"https://127.0.0.1:{port}", tls_cert=cert,
                  logs=CACHE / f"logs-{project}", passwords=secret_values)
    try:
        with timed("stack: db and broker healthy"):
            stack.compose("up", "-d", "--no-build", "db", "broker")
            stack.wait_healthy("db", "broker")
        with timed("stack: migrate"):
            stack.compose("up", "-d", "--no-build", "migrate")
            code = stack.wait_exit("migrate")
            stack.migrate_log = run(["podman", "logs", stack.container("migrate")],
                                     check=False).stdout
            assert code == 0, f"migrate exited {code}:\n{stack.migrate_log[-3000:]}"
        with timed("stack: hubs, proxy, worker, beat ready"):
            # podman-compose 1.0.3 starts a service's dependencies again: migrate runs a
            # second time, a no-op at head (as `docker compose up` would run it too).
            stack.compose("up", "-d", "--no-build")
            stack.wait_healthy("hub-1", "hub-2")
            stack.wait_origin()
        TIMINGS["total to ready"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        try:
            save_logs(stack)
        finally:
            if os.environ.get("SATUKARTU_DEPLOY_KEEP") == "1":  # to look into a failure
                say(f"kept: podman ps --filter label=io.podman.compose.project={project}")
            else:
                with timed("stack: removed"):
                    remove_everything(project)
            (CACHE / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
            say(f"timings: {json.dumps(TIMINGS)}; logs in {stack.logs}")


# --- the first milestone ------------------------------------------------------------

def test_health_answers_through_the_proxy_over_tls(stack: Stack) -> None:
    answer = stack.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "postgresql"}
    assert answer.headers.get("Strict-Transport-Security")
    assert answer.url.startswith("https://127.0.0.1:")


def test_migrations_ran_in_the_migrate_container(stack: Stack) -> None:
    assert "database at head" in stack.migrate_log
    assert "grants applied to satukartu_app" in stack.migrate_log
    assert "celery_taskmeta" in stack.migrate_log
    version = stack.psql("postgres", "SELECT version_num FROM alembic_version",
                         stack.passwords["db-superuser-password"])
    assert version.returncode == 0 and version.stdout.strip(), version.stderr


def test_both_hub_replicas_and_the_workers_run(stack: Stack) -> None:
    stack.wait_healthy("hub-1", "hub-2", "proxy", "worker", "worker-bulk", "beat", within=90)
    for worker, queue in (("worker", "celery"), ("worker-bulk", "bulk")):
        done = run(["podman", "logs", stack.container(worker)])
        log = done.stdout + done.stderr
        assert "permission denied" not in log
        assert f".> {queue} " in log, log[-2000:]  # Celery's banner lists what it consumes


def test_a_staff_member_signs_in_through_the_proxy(stack: Stack) -> None:
    token = stack.staff_token("admin")
    whoami = stack.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"})
    assert whoami.status_code == 200, whoami.text
    assert "admin-deploy" in whoami.text


def test_the_hub_cannot_alter_the_audit_log(stack: Stack) -> None:
    """The hub's processes connect as satukartu_app, which may not rewrite history."""
    stack.staff_token("admin")  # a sign-in: the hub's own write to the log, chained soon
    users = stack.psql("postgres", "SELECT DISTINCT usename FROM pg_stat_activity "
                       "WHERE datname = 'satukartu' AND pid <> pg_backend_pid()",
                       stack.passwords["db-superuser-password"])
    assert users.stdout.split() == ["satukartu_app"], users.stdout + users.stderr
    rewrite = stack.psql("satukartu_app", "UPDATE audit_records SET action = action",
                         stack.passwords["db-app-password"])
    assert rewrite.returncode != 0
    assert "permission denied" in rewrite.stderr
    deadline = time.monotonic() + 30
    while True:  # the sequencer chains the sign-in's record off the request path
        written = stack.psql("satukartu_app", "SELECT count(*) FROM audit_records",
                             stack.passwords["db-app-password"])
        assert written.returncode == 0, written.stderr
        if int(written.stdout) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert int(written.stdout) >= 1


def test_no_secret_is_in_an_image(stack: Stack) -> None:
    for name in ("hub", "reader", "proxy", "postgres", "rabbitmq"):
        image = stack.env[f"SATUKARTU_{name.upper()}_IMAGE"]
        config = run(["podman", "image", "inspect", image]).stdout
        history = run(["podman", "history", "--no-trunc", image]).stdout
        for value in stack.passwords.values():
            assert value not in config and value not in history, name


def test_the_staff_sign_in_page_is_served(stack: Stack) -> None:
    """The templates are in the image (a wheel without them would answer 500)."""
    page = stack.get("/staff/sign-in")
    assert page.status_code == 200, page.text[:500]
    assert 'id="password"' in page.text


# --- beyond the first milestone -----------------------------------------------------

@dataclass
class Card:
    """A citizen's virtual card in a vpcd reader of a private pcscd on the host, issued
    by `satukartu card issue` in a hub container that is given that pcscd's socket (the
    image has libpcsclite1, never vpcd), and the host's terminals' credentials."""

    pcscd: object
    vcard: object
    reader: str
    citizen: str
    serial: str
    terminals: dict[str, dict[str, str]]


PIN = "246810"


def _pick_citizen(stack: Stack) -> str:
    """A living head of a household at the lowest welfare decile: food credit to spend."""
    done = stack.psql("postgres", "SELECT c.national_number FROM citizens c "
                      "JOIN household_members m ON m.citizen_id = c.id "
                      "JOIN households h ON h.id = m.household_id "
                      "WHERE c.died_on IS NULL AND m.relationship = 'head' "
                      "ORDER BY h.welfare_decile, c.id LIMIT 1",
                      stack.passwords["db-superuser-password"])
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    return done.stdout.strip()


def _issue_in_a_container(stack: Stack, socket_dir: Path, citizen: str, reader: str,
                          work: Path) -> dict[str, str]:
    inspect = json.loads(run(["podman", "inspect", stack.container("hub-1")]).stdout)[0]
    env_file = work / "hub.env"
    env_file.write_text("\n".join(line for line in inspect["Config"]["Env"]
                                   if line.startswith("SATUKARTU_")) + "\n")
    done = run([*PODMAN, "run", "--rm", *ULIMITS, "--no-healthcheck",
                 "--network", f"{stack.project}_default",
                 "--volumes-from", stack.container("hub-1"), "--env-file", str(env_file),
                 "-v", f"{socket_dir}:/run/pcscd", "-e",
                 "PCSCLITE_CSOCK_NAME=/run/pcscd/pcscd.comm", stack.env["SATUKARTU_HUB_IMAGE"],
                 "satukartu", "card", "issue", "--citizen", citizen, "--reader", reader,
                 "--pin", PIN, "--json"], timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def card(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Card]:
    if not Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists() or not shutil.which(
            "pcscd"):
        pytest.skip("pcscd and vsmartcard-vpcd on the host are needed for the card's tests")
    from card_reader.stack import PrivatePcscd, VirtualCard

    stack.satukartu("registry", "synth", "--citizens", "40", "--seed", "7")
    stack.satukartu("ca", "init")
    stack.satukartu("ledger", "allocate", "--programme", "food")
    terminals = {kind: json.loads(stack.satukartu("terminal", "add", "--kind", kind,
                                                  "--name", f"Deploy {kind}", "--json"))
                 for kind in ("kiosk", "agent")}
    work = tmp_path_factory.mktemp("pcsc")
    work.chmod(0o755)  # the hub container's user reaches pcscd's socket through it
    pcscd = PrivatePcscd(work)
    pcscd.start()
    vcard = None
    try:
        reader = pcscd.readers[0]
        os.environ.update(pcscd.env)  # card_present() asks this pcscd
        vcard = VirtualCard(pcscd, work / "card.json", reader).insert()
        citizen = _pick_citizen(stack)
        issued = _issue_in_a_container(stack, work, citizen, reader, work)
        yield Card(pcscd=pcscd, vcard=vcard, reader=reader, citizen=citizen,
                   serial=issued["serial"], terminals=terminals)
    finally:
        if vcard is not None:
            vcard.remove(wait=False)
        pcscd.stop()
        os.environ.pop("PCSCLITE_CSOCK_NAME", None)


def _reader_once(stack: Stack, card: Card, kind: str, pin: str | None = None) -> dict:
    """The terminal's reader daemon on the host (`satukartu reader --once`), through the
    proxy over TLS: the card signs the hub's challenge, the hub opens a session."""
    terminal = card.terminals[kind]
    satukartu = str(Path(sys.executable).with_name("satukartu"))
    env = {**os.environ, **card.pcscd.env,  # type: ignore[attr-defined]
           "SATUKARTU_TERMINAL_CLIENT_SECRET": terminal["client_secret"],
           "REQUESTS_CA_BUNDLE": str(stack.tls_cert)}
    done = run([satukartu, "reader", "--once", "--json", "--hub", stack.origin,
                 "--kind", terminal["scope"], "--client-id", terminal["client_id"],
                 "--reader", card.reader, *(["--pin", pin] if pin else [])],
                env=env, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_card_authenticates_from_a_reader_daemon_through_the_proxy(
        stack: Stack, card: Card) -> None:
    session = _reader_once(stack, card, "kiosk")
    assert session["card_serial"] == card.serial
    assert session["assurance"] == "tap"
    assert session["session_token"]


def test_a_redemption_through_the_proxy_posts_once(stack: Stack, card: Card) -> None:
    session = _reader_once(stack, card, "agent", pin=PIN)
    assert session["assurance"] == "pin"
    bearer = {"Authorization": f"Bearer {session['session_token']}"}
    before = stack.post("/api/v1/services/food/balance", json={}, headers=bearer)
    assert before.status_code == 200, before.text
    basket = {"items": [{"name": "Beras 5 kg", "category": "rice", "quantity": 1,
                         "unit_price": 60_000}], "amount": 60_000}
    key = {"Idempotency-Key": f"deploy-{secrets.token_hex(8)}"}
    first = stack.post("/api/v1/services/food/redeem", json=basket, headers={**bearer, **key})
    assert first.status_code == 200, first.text
    # The terminal retries (its answer was lost, say): the same key posts nothing twice.
    again = stack.post("/api/v1/services/food/redeem", json=basket, headers={**bearer, **key})
    assert again.status_code == 200 and again.json() == first.json(), again.text
    after = stack.post("/api/v1/services/food/balance", json={}, headers=bearer)
    assert after.json()["balance"] == before.json()["balance"] - 60_000, after.text


def test_killing_a_hub_replica_loses_no_request(stack: Stack) -> None:
    """SIGKILL of hub-1 amid four streams of reads: the proxy passes a request that failed
    before its answer began to hub-2 (proxy_next_upstream error timeout http_502
    http_503), so no client sees an error or a 5xx. An answer hub-1 had begun to send
    when it died cannot be passed on by any proxy (its status line is already with the
    client): the client sees it cut short and repeats its read, as a terminal does. At
    most one per stream can be in flight at that instant."""
    headers = {"Authorization": f"Bearer {stack.staff_token('admin')}"}
    answers: list[int | str] = []
    repeated: list[str] = []
    stop = time.monotonic() + 12

    def read(session: requests.Session, path: str) -> int | str:
        try:
            return session.get(stack.origin + path, headers=headers,
                               verify=str(stack.tls_cert), timeout=15).status_code
        except requests.RequestException as exc:
            return type(exc).__name__

    def reads() -> None:
        with requests.Session() as session:
            while time.monotonic() < stop:
                for path in ("/api/v1/auth/whoami", "/api/v1/health"):
                    answer = read(session, path)
                    if answer == "ChunkedEncodingError":  # cut mid-answer: read again
                        repeated.append(path)
                        answer = read(session, path)
                    answers.append(answer)

    streams = [threading.Thread(target=reads) for _ in range(4)]
    for stream in streams:
        stream.start()
    time.sleep(3)
    run([*PODMAN, "kill", "--signal", "KILL", stack.container("hub-1")])
    for stream in streams:
        stream.join()
    try:
        failed = [answer for answer in answers if answer != 200]
        assert len(answers) > 50, answers
        assert not failed, f"{len(failed)} of {len(answers)} lost: {failed[:10]}"
        assert len(repeated) <= len(streams), repeated
    finally:
        run([*PODMAN, "start", stack.container("hub-1")], check=False)
        stack.wait_healthy("hub-1")


def test_the_audit_chain_verifies(stack: Stack) -> None:
    stack.staff_token("admin")  # something audited
    stack.satukartu("audit", "checkpoint", "--force")
    report = json.loads(stack.satukartu("audit", "verify", "--json"))
    assert report["intact"], report
    assert report["records"] >= 1 and report["checkpoints_checked"] >= 1, report
    # The checkpoint is also outside the database, in the checkpoints volume.
    listing = stack.exec("hub-2", "ls", "/var/lib/satukartu/checkpoints").stdout
    assert listing.split(), "no checkpoint file in the checkpoints volume"


def test_the_reader_image_runs_pcscd_with_ccid_and_never_vpcd(stack: Stack) -> None:
    """The kiosk's image: its own pcscd (root), the daemon as the satukartu user."""
    script = ("test -d /usr/lib/pcsc/drivers/ifd-ccid.bundle && "
              "! find / -xdev -name 'libifdvpcd*' 2>/dev/null | grep -q . && "
              "test -S /run/pcscd/pcscd.comm && id -un && "
              "satukartu reader --once --json --hub https://hub.invalid --client-id x "
              "--client-secret y --timeout 2")
    done = run([*PODMAN, "run", "--rm", *ULIMITS, "--no-healthcheck",
                 stack.env["SATUKARTU_READER_IMAGE"], "sh", "-c", script], timeout=120,
                check=False)  # the daemon's --once exits 1 on its refusal
    lines = done.stdout.strip().splitlines()
    assert lines and lines[0] == "satukartu", done.stdout + done.stderr
    assert json.loads(lines[-1]) == {"refused": "no_card"}, done.stdout

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

import datetime
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

# One worker runs them all (under `./run test`, xdist): the stack is one per module.
pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.timeout(2400),
              pytest.mark.xdist_group("deploy")]

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SATUKARTU_DEPLOY_CACHE", "/var/tmp/satukartu-deploy"))
SUITE = "bookworm"
# What runs containers on these machines (Debian 12, podman 4.3, cgroups v1/hybrid, which
# crun refuses); the default ulimits are refused, so every container gets these.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=1000:1000"]
BUILD = ["podman", "build", "--isolation=chroot", "--format", "docker", "--layers"]
# The parts of the repository the images are built from.
SOURCES = ("pyproject.toml", "setup.cfg", "README.md", "MANIFEST.in", "backend", "services",
           "admin", "card_reader", "docker")
# name: (Dockerfile, context) relative to the build context.
IMAGES = {
    "hub": ("docker/Dockerfile", "."),
    "reader": ("docker/reader.Dockerfile", "."),
    "proxy": ("docker/proxy/Dockerfile", "docker/proxy"),
    "postgres": ("docker/postgres/Dockerfile", "docker/postgres"),
    "rabbitmq": ("docker/rabbitmq/Dockerfile", "docker/rabbitmq"),
}
SERVICES = ("db", "broker", "migrate", "hub-1", "hub-2", "proxy", "worker", "beat")
READY_WAIT = 180.0

TIMINGS: dict[str, float] = {}


def _say(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


@contextmanager
def _timed(step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[step] = round(time.monotonic() - started, 1)
        _say(f"{step}: {TIMINGS[step]} s")


def _run(argv: list[str], *, timeout: float = 900, check: bool = True,
         env: dict[str, str] | None = None, cwd: Path | None = None,
         log: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=cwd, check=False)
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if check and done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise AssertionError(f"{' '.join(argv[:6])}... exited {done.returncode}:\n{tail}")
    return done


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _cache_lock() -> Iterator[None]:
    """One build at a time per machine: two runs would race on the cached base."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the base, the wheelhouse, the images -------------------------------------------

def base_image() -> str:
    """A bookworm root file system with python3, rebuilt once an ISO week (security
    updates), as podman image localhost/satukartu-base:bookworm-YYYYwWW."""
    year, week, _ = datetime.date.today().isocalendar()
    tag = f"localhost/satukartu-base:{SUITE}-{year}w{week:02d}"
    if _run(["podman", "image", "exists", tag], check=False).returncode == 0:
        TIMINGS["base (cached)"] = 0.0
        return tag
    tarball = CACHE / f"base-{SUITE}-{year}w{week:02d}.tar"
    with _timed("base: mmdebstrap"):
        partial = tarball.with_suffix(".partial.tar")
        _run(["mmdebstrap", "--variant=minbase", "--include=python3", SUITE, str(partial)],
             timeout=900, log=CACHE / "mmdebstrap.log")
        partial.rename(tarball)
    with _timed("base: podman import"):
        _run(["podman", "import", str(tarball), tag], timeout=600)
    tarball.unlink()
    return tag


def wheelhouse() -> Path:
    """The images' Python packages, downloaded on the host (the builds reach no package
    index of their own here) by Debian's python3, the images' very interpreter, so that
    environment markers (python_full_version) come out as in the images. pyscard comes
    as its source and is compiled in the build stage."""
    requirements = _run(["python3", str(REPO / "docker/requirements.py"),
                         str(REPO / "setup.cfg"), "hub,reader"]).stdout
    python = _run(["/usr/bin/python3", "-VV"]).stdout
    key = hashlib.sha256((requirements + python).encode()).hexdigest()[:16]
    folder = CACHE / f"wheelhouse-{key}"
    if folder.is_dir():
        return folder
    with _timed("wheelhouse: pip download"):
        venv = CACHE / "download-venv"
        if not (venv / "bin/pip").exists():
            _run(["/usr/bin/python3", "-m", "venv", str(venv)])
        partial = CACHE / f"wheelhouse-{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        (CACHE / "requirements.txt").write_text(requirements)
        _run([str(venv / "bin/pip"), "download", "-q", "-d", str(partial),
              "setuptools>=68", "wheel", "-r", str(CACHE / "requirements.txt")], timeout=900)
        partial.rename(folder)
    return folder


def build_context(into: Path, wheels: Path) -> Path:
    """A snapshot of the sources (others may edit the tree during a build) with the
    wheelhouse in docker/wheelhouse/, which the repository's copy leaves empty."""
    context = into / "context"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "instance", "*.egg-info")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=ignore)
        else:
            context.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, context / name)
    for wheel in wheels.iterdir():
        shutil.copy2(wheel, context / "docker/wheelhouse" / wheel.name)
    return context


def _image_id(tag: str) -> str:
    return _run(["podman", "image", "inspect", "--format", "{{.Id}}", tag],
                check=False).stdout.strip()


def build_images(context: Path, base: str) -> dict[str, str]:
    tags = {}
    for name, (dockerfile, folder) in IMAGES.items():
        tag = f"localhost/satukartu-{name}:test"
        before = _image_id(tag)
        with _timed(f"image: {name}"):
            _run([*BUILD, "--build-arg", f"BASE={base}", "-f", dockerfile, "-t", tag, folder],
                 cwd=context, timeout=1200, log=CACHE / f"build-{name}.log")
        if before and before != _image_id(tag):
            # The image this build replaced (its layers stay while the cache uses them).
            _run(["podman", "rmi", before], check=False)
        tags[name] = tag
    return tags


# --- the stack ----------------------------------------------------------------------

@dataclass
class Stack:
    project: str
    compose_file: Path
    env: dict[str, str]
    origin: str
    tls_cert: Path
    logs: Path
    migrate_log: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 600,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(["podman-compose", "-p", self.project, "-f", str(self.compose_file),
                     "--podman-args", " ".join(PODMAN[1:]), *args],
                    env=self.env, timeout=timeout, check=check)

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def exec(self, service: str, *argv: str, stdin: str | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*PODMAN, "exec", "-i", self.container(service), *argv],
                              input=stdin, capture_output=True, text=True, timeout=120,
                              check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"exec {service} {argv}: {done.stdout}{done.stderr}")
        return done

    def healthy(self, service: str) -> bool:
        done = _run([*PODMAN, "healthcheck", "run", self.container(service)], check=False,
                    timeout=60)
        return done.returncode == 0

    def wait_healthy(self, *services: str, within: float = READY_WAIT) -> None:
        deadline = time.monotonic() + within
        waiting = list(services)
        while waiting:
            waiting = [service for service in waiting if not self.healthy(service)]
            if waiting and time.monotonic() > deadline:
                raise AssertionError(f"not healthy after {within:.0f} s: {waiting}")
            if waiting:
                time.sleep(2)

    def wait_exit(self, service: str, within: float = READY_WAIT) -> int:
        done = _run([*PODMAN, "wait", self.container(service)], timeout=within)
        return int(done.stdout.strip().splitlines()[-1])

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.origin + path, verify=str(self.tls_cert), timeout=10,
                            **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(self.origin + path, verify=str(self.tls_cert), timeout=10,
                             **kwargs)  # type: ignore[arg-type]

    def wait_origin(self, within: float = READY_WAIT) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                if self.get("/api/v1/health").status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.origin}/api/v1/health not answering after "
                                     f"{within:.0f} s")
            time.sleep(1)

    def staff_token(self, role: str = "admin") -> str:
        """A staff account made the way a city makes one (in a hub container, the
        password on stdin), signed in through the proxy; its bearer token."""
        if role not in self.tokens:
            username, password = f"{role}-deploy", secrets.token_urlsafe(15)
            self.exec("hub-1", "satukartu", "staff", "add", username,
                      "--role", role, "--name", f"Deploy {role}", "--password-stdin",
                      stdin=password + "\n")
            login = self.post("/api/v1/auth/staff/login",
                              json={"username": username, "password": password})
            assert login.status_code == 200, login.text
            self.tokens[role] = login.json()["access_token"]
        return self.tokens[role]

    def satukartu(self, *args: str, service: str = "hub-1") -> str:
        """A `satukartu` command in a running hub container."""
        return self.exec(service, "satukartu", *args).stdout

    def psql(self, user: str, sql: str, password: str = "") -> subprocess.CompletedProcess[str]:
        """SQL in the database container, as `user` over TCP (as the hub connects)."""
        return subprocess.run(
            [*PODMAN, "exec", "-i", "-e", f"PGPASSWORD={password}", self.container("db"),
             "psql", "-h", "127.0.0.1", "-U", user, "-d", "satukartu", "-v", "ON_ERROR_STOP=1",
             "-At", "-c", sql], capture_output=True, text=True, timeout=60, check=False)


def _secrets(folder: Path) -> dict[str, str]:
    folder.mkdir(mode=0o700)
    values = {name: secrets.token_urlsafe(24) for name in (
        "db-superuser-password", "db-owner-password", "db-app-password", "broker-password",
        "secret-key")}
    for name, value in values.items():
        path = folder / name
        path.write_text(value + "\n")
        path.chmod(0o644)  # read by the containers' own users through the bind mount
    return values


def _tls(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1, made now (an operator mounts a real one)."""
    folder.mkdir(mode=0o755)
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-days", "2", "-subj", "/CN=localhost",
          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
          "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")])
    (folder / "key.pem").chmod(0o644)
    return folder / "cert.pem"


def _remove_everything(project: str) -> None:
    """Containers, pods, volumes and the network of `project`; images stay cached."""
    label = f"label=io.podman.compose.project={project}"
    names = _run(["podman", "ps", "-a", "--filter", label, "--format", "{{.Names}}"],
                 check=False).stdout.split()
    names += [line for line in _run(["podman", "ps", "-a", "--format", "{{.Names}}"],
                                    check=False).stdout.split()
              if line.startswith(f"{project}_") and line not in names]
    if names:
        _run([*PODMAN, "rm", "-f", "-t", "2", *names], check=False, timeout=180)
    for pod in _run(["podman", "pod", "ls", "--format", "{{.Name}}"], check=False).stdout.split():
        if pod in (f"pod_{project}", project):
            _run([*PODMAN, "pod", "rm", "-f", pod], check=False)
    volumes = _run(["podman", "volume", "ls", "--format", "{{.Name}}"], check=False).stdout.split()
    ours = [volume for volume in volumes if volume.startswith(f"{project}_")]
    if ours:
        _run(["podman", "volume", "rm", "-f", *ours], check=False)
    networks = _run(["podman", "network", "ls", "--format", "{{.Name}}"], check=False).stdout
    for network in networks.split():
        if network.startswith(f"{project}_"):
            _run(["podman", "network", "rm", "-f", network], check=False)
    # Images a rebuild superseded (untagged, unused): without this each run after a change
    # of the sources leaves a hub's worth of layers behind.
    _run(["podman", "image", "prune", "-f"], check=False, timeout=180)


def _save_logs(stack: Stack) -> None:
    stack.logs.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        done = _run(["podman", "logs", stack.container(service)], check=False)
        (stack.logs / f"{service}.log").write_text(done.stdout + done.stderr)


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
    with _cache_lock():
        base = base_image()
        probe = _run([*PODMAN, "run", "--rm", *ULIMITS, base, "true"], check=False)
        if probe.returncode != 0:
            pytest.skip(f"podman cannot run a container here: {probe.stderr.strip()}")
        wheels = wheelhouse()
        context = build_context(work, wheels)
        with _timed("images (all)"):
            tags = build_images(context, base)

    for old_logs in CACHE.glob("logs-skdeploy*"):  # the last run's logs only
        shutil.rmtree(old_logs, ignore_errors=True)
    secret_values = _secrets(work / "secrets")
    cert = _tls(work / "tls")
    port = _free_port()
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
        with _timed("stack: db and broker healthy"):
            stack.compose("up", "-d", "--no-build", "db", "broker")
            stack.wait_healthy("db", "broker")
        with _timed("stack: migrate"):
            stack.compose("up", "-d", "--no-build", "migrate")
            code = stack.wait_exit("migrate")
            stack.migrate_log = _run(["podman", "logs", stack.container("migrate")],
                                     check=False).stdout
            assert code == 0, f"migrate exited {code}:\n{stack.migrate_log[-3000:]}"
        with _timed("stack: hubs, proxy, worker, beat ready"):
            # podman-compose 1.0.3 starts a service's dependencies again: migrate runs a
            # second time, a no-op at head (as `docker compose up` would run it too).
            stack.compose("up", "-d", "--no-build")
            stack.wait_healthy("hub-1", "hub-2")
            stack.wait_origin()
        TIMINGS["total to ready"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        try:
            _save_logs(stack)
        finally:
            if os.environ.get("SATUKARTU_DEPLOY_KEEP") == "1":  # to look into a failure
                _say(f"kept: podman ps --filter label=io.podman.compose.project={project}")
            else:
                with _timed("stack: removed"):
                    _remove_everything(project)
            (CACHE / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
            _say(f"timings: {json.dumps(TIMINGS)}; logs in {stack.logs}")


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
    stack.wait_healthy("hub-1", "hub-2", "proxy", "worker", "beat", within=90)
    worker_log = _run(["podman", "logs", stack.container("worker")]).stdout
    worker_log += _run(["podman", "logs", stack.container("worker")]).stderr
    assert "permission denied" not in worker_log


def test_a_staff_member_signs_in_through_the_proxy(stack: Stack) -> None:
    token = stack.staff_token("admin")
    whoami = stack.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"})
    assert whoami.status_code == 200, whoami.text
    assert "admin-deploy" in whoami.text


def test_the_hub_cannot_alter_the_audit_log(stack: Stack) -> None:
    """The hub's processes connect as satukartu_app, which may not rewrite history."""
    users = stack.psql("postgres", "SELECT DISTINCT usename FROM pg_stat_activity "
                       "WHERE datname = 'satukartu' AND pid <> pg_backend_pid()",
                       stack.passwords["db-superuser-password"])
    assert users.stdout.split() == ["satukartu_app"], users.stdout + users.stderr
    rewrite = stack.psql("satukartu_app", "UPDATE audit_records SET action = action",
                         stack.passwords["db-app-password"])
    assert rewrite.returncode != 0
    assert "permission denied" in rewrite.stderr
    written = stack.psql("satukartu_app", "SELECT count(*) FROM audit_records",
                         stack.passwords["db-app-password"])
    assert written.returncode == 0 and int(written.stdout) >= 1, written.stderr


def test_no_secret_is_in_an_image(stack: Stack) -> None:
    for name in ("hub", "reader", "proxy", "postgres", "rabbitmq"):
        image = stack.env[f"SATUKARTU_{name.upper()}_IMAGE"]
        config = _run(["podman", "image", "inspect", image]).stdout
        history = _run(["podman", "history", "--no-trunc", image]).stdout
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
    inspect = json.loads(_run(["podman", "inspect", stack.container("hub-1")]).stdout)[0]
    env_file = work / "hub.env"
    env_file.write_text("\n".join(line for line in inspect["Config"]["Env"]
                                   if line.startswith("SATUKARTU_")) + "\n")
    done = _run([*PODMAN, "run", "--rm", *ULIMITS, "--no-healthcheck",
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
    done = _run([satukartu, "reader", "--once", "--json", "--hub", stack.origin,
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
    """SIGKILL of hub-1 amid a stream of reads: the proxy passes a failed idempotent
    request to hub-2 (proxy_next_upstream error timeout http_502 http_503), so every one
    is answered."""
    headers = {"Authorization": f"Bearer {stack.staff_token('admin')}"}
    answers: list[int | str] = []
    stop = time.monotonic() + 12

    def reads() -> None:
        with requests.Session() as session:
            while time.monotonic() < stop:
                for path in ("/api/v1/auth/whoami", "/api/v1/health"):
                    try:
                        answer = session.get(stack.origin + path, headers=headers,
                                             verify=str(stack.tls_cert), timeout=15)
                        answers.append(answer.status_code)
                    except requests.RequestException as exc:
                        answers.append(type(exc).__name__)

    streams = [threading.Thread(target=reads) for _ in range(4)]
    for stream in streams:
        stream.start()
    time.sleep(3)
    _run([*PODMAN, "kill", "--signal", "KILL", stack.container("hub-1")])
    for stream in streams:
        stream.join()
    try:
        failed = [answer for answer in answers if answer != 200]
        assert len(answers) > 50, answers
        assert not failed, f"{len(failed)} of {len(answers)} lost: {failed[:10]}"
    finally:
        _run([*PODMAN, "start", stack.container("hub-1")], check=False)
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
    done = _run([*PODMAN, "run", "--rm", *ULIMITS, "--no-healthcheck",
                 stack.env["SATUKARTU_READER_IMAGE"], "sh", "-c", script], timeout=120,
                check=False)  # the daemon's --once exits 1 on its refusal
    lines = done.stdout.strip().splitlines()
    assert lines and lines[0] == "satukartu", done.stdout + done.stderr
    assert json.loads(lines[-1]) == {"refused": "no_card"}, done.stdout

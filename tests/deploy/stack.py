"""The deployment test's machinery: the Debian base made with mmdebstrap, the wheelhouse,
the images, and the city's stack run with podman-compose (`Stack`), removed afterwards.

`test_stack.py` holds the tests; this holds how the stack is built, started, asked and
taken down, so each test reads as what it checks.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

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
SERVICES = ("db", "broker", "migrate", "hub-1", "hub-2", "proxy", "worker", "worker-bulk",
            "beat")
READY_WAIT = 180.0

TIMINGS: dict[str, float] = {}


def say(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


@contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[step] = round(time.monotonic() - started, 1)
        say(f"{step}: {TIMINGS[step]} s")


def run(argv: list[str], *, timeout: float = 900, check: bool = True,
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def cache_lock() -> Iterator[None]:
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
    if run(["podman", "image", "exists", tag], check=False).returncode == 0:
        TIMINGS["base (cached)"] = 0.0
        return tag
    tarball = CACHE / f"base-{SUITE}-{year}w{week:02d}.tar"
    with timed("base: mmdebstrap"):
        partial = tarball.with_suffix(".partial.tar")
        run(["mmdebstrap", "--variant=minbase", "--include=python3", SUITE, str(partial)],
             timeout=900, log=CACHE / "mmdebstrap.log")
        partial.rename(tarball)
    with timed("base: podman import"):
        run(["podman", "import", str(tarball), tag], timeout=600)
    tarball.unlink()
    return tag


def wheelhouse() -> Path:
    """The images' Python packages, downloaded on the host (the builds reach no package
    index of their own here) by Debian's python3, the images' very interpreter, so that
    environment markers (python_full_version) come out as in the images. pyscard comes
    as its source and is compiled in the build stage."""
    requirements = run(["python3", str(REPO / "docker/requirements.py"),
                         str(REPO / "setup.cfg"), "hub,reader"]).stdout
    python = run(["/usr/bin/python3", "-VV"]).stdout
    key = hashlib.sha256((requirements + python).encode()).hexdigest()[:16]
    folder = CACHE / f"wheelhouse-{key}"
    if folder.is_dir():
        return folder
    with timed("wheelhouse: pip download"):
        venv = CACHE / "download-venv"
        if not (venv / "bin/pip").exists():
            run(["/usr/bin/python3", "-m", "venv", str(venv)])
        partial = CACHE / f"wheelhouse-{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        (CACHE / "requirements.txt").write_text(requirements)
        run([str(venv / "bin/pip"), "download", "-q", "-d", str(partial),
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
    return run(["podman", "image", "inspect", "--format", "{{.Id}}", tag],
                check=False).stdout.strip()


def build_images(context: Path, base: str) -> dict[str, str]:
    tags = {}
    for name, (dockerfile, folder) in IMAGES.items():
        tag = f"localhost/satukartu-{name}:test"
        before = _image_id(tag)
        with timed(f"image: {name}"):
            run([*BUILD, "--build-arg", f"BASE={base}", "-f", dockerfile, "-t", tag, folder],
                 cwd=context, timeout=1200, log=CACHE / f"build-{name}.log")
        if before and before != _image_id(tag):
            # The image this build replaced (its layers stay while the cache uses them).
            run(["podman", "rmi", before], check=False)
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
        return run(["podman-compose", "-p", self.project, "-f", str(self.compose_file),
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
        done = run([*PODMAN, "healthcheck", "run", self.container(service)], check=False,
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
        done = run([*PODMAN, "wait", self.container(service)], timeout=within)
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


def make_secrets(folder: Path) -> dict[str, str]:
    folder.mkdir(mode=0o700)
    values = {name: secrets.token_urlsafe(24) for name in (
        "db-superuser-password", "db-owner-password", "db-app-password", "broker-password",
        "secret-key")}
    for name, value in values.items():
        path = folder / name
        path.write_text(value + "\n")
        path.chmod(0o644)  # read by the containers' own users through the bind mount
    return values


def make_tls(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1, made now (an operator mounts a real one)."""
    folder.mkdir(mode=0o755)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-days", "2", "-subj", "/CN=localhost",
          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
          "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")])
    (folder / "key.pem").chmod(0o644)
    return folder / "cert.pem"


def remove_everything(project: str) -> None:
    """Containers, pods, volumes and the network of `project`; images stay cached."""
    label = f"label=io.podman.compose.project={project}"
    names = run(["podman", "ps", "-a", "--filter", label, "--format", "{{.Names}}"],
                 check=False).stdout.split()
    names += [line for line in run(["podman", "ps", "-a", "--format", "{{.Names}}"],
                                    check=False).stdout.split()
              if line.startswith(f"{project}_") and line not in names]
    if names:
        run([*PODMAN, "rm", "-f", "-t", "2", *names], check=False, timeout=180)
    for pod in run(["podman", "pod", "ls", "--format", "{{.Name}}"], check=False).stdout.split():
        if pod in (f"pod_{project}", project):
            run([*PODMAN, "pod", "rm", "-f", pod], check=False)
    volumes = run(["podman", "volume", "ls", "--format", "{{.Name}}"], check=False).stdout.split()
    ours = [volume for volume in volumes if volume.startswith(f"{project}_")]
    if ours:
        run(["podman", "volume", "rm", "-f", *ours], check=False)
    networks = run(["podman", "network", "ls", "--format", "{{.Name}}"], check=False).stdout
    for network in networks.split():
        if network.startswith(f"{project}_"):
            run(["podman", "network", "rm", "-f", network], check=False)
    # Images a rebuild superseded (untagged, unused): without this each run after a change
    # of the sources leaves a hub's worth of layers behind.
    run(["podman", "image", "prune", "-f"], check=False, timeout=180)


def save_logs(stack: Stack) -> None:
    stack.logs.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        done = run(["podman", "logs", stack.container(service)], check=False)
        (stack.logs / f"{service}.log").write_text(done.stdout + done.stderr)

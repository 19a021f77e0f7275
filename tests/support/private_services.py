"""Private PostgreSQL, Redis and RabbitMQ servers for fault tests: start, kill, restart.

The machine's shared servers serve every other test running at the same time, so a
test that kills or restarts a server gets one of its own: a PostgreSQL cluster made
by initdb in a temporary folder, a redis-server, a RabbitMQ node with its own name,
ports, data folder and epmd. Each listens on a free loopback port, keeps its data in
its folder across restarts (that is the point), and is started in a process group of
its own, so `restart()` and `stop()` signal exactly the processes it started.

    def test_something(private_postgres, private_redis, private_rabbitmq):
        url = private_postgres.create_database("hub")
        private_postgres.restart()          # an immediate (crash) shutdown, then start
        private_redis.restart(signal.SIGKILL)
        private_rabbitmq.restart(signal.SIGKILL)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("SATUKARTU_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBITMQ_SERVER = os.environ.get(
    "SATUKARTU_TEST_RABBITMQ_SERVER",
    str(next(iter(sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/sbin"))),
             Path("/usr/lib/rabbitmq/bin")) / "rabbitmq-server"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _private_dir(prefix: str, owner: str | None = None) -> Path:
    """A fresh folder in the system temp dir (pytest's own is private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if owner is not None:
        shutil.chown(path, owner, owner)
    return path


class _Group:
    """A process started in a session of its own, signalled through its group."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str], log: Path,
              cwd: Path | None = None) -> None:
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=cwd, start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int, wait: float = 20) -> None:
        """Send `sig` to the whole group; after `wait` seconds, SIGKILL it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        # children outside the leader's wait (erl's helpers) go with the group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None


# --- PostgreSQL ---------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of our own: initdb in a temp folder, trust auth, one port.

    initdb refuses to run as root, so as root the cluster belongs to the postgres user
    and every server command runs through `runuser`.
    """

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.workdir = workdir or _private_dir("satukartu-pg-", self.owner)
        self.data = self.workdir / "data"
        self.log = self.workdir / "server.log"
        self.port = port or free_port()
        self.restarts = 0

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True,
                              timeout=timeout, cwd=self.workdir)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}"
                               f"\n{self._log_tail()}")
        return done

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def init(self) -> PrivatePostgres:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.workdir}'\n"
                       "max_connections = 100\nshared_buffers = 64MB\n")
        return self

    def standby(self, settings: str = "") -> PrivatePostgres:
        """A streaming replica of this cluster (pg_basebackup -R: it follows this one's
        WAL as a hot standby), started; `settings` are added to its postgresql.conf."""
        replica = PrivatePostgres()
        replica._run(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
                     "-U", "postgres", "-D", str(replica.data), "-R", "-X", "stream",
                     "-c", "fast", "--no-sync")
        with open(replica.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {replica.port}\nunix_socket_directories = '{replica.workdir}'\n"
                       f"{settings}\n")
        replica.start()
        return replica

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-w", "-t", "90", "start")
        wait_until(self.accepts_connections, 30, "the private PostgreSQL to accept clients")

    def stop(self, mode: str = "fast") -> None:
        """`fast` rolls back sessions and shuts down cleanly; `immediate` is a crash
        (recovery from the WAL at the next start)."""
        if self.pid() is None:
            return
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                  "stop")

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()
        self.restarts += 1

    def pid(self) -> int | None:
        """The postmaster's pid, from its own pid file (None when it is not running)."""
        try:
            first = (self.data / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return None
        return int(first) if first.strip().isdigit() else None

    def accepts_connections(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of our own that writes every command to its append-only file
    before answering (appendfsync always): what a broker that must not lose an
    accepted task needs, and what survives a SIGKILL."""

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self.workdir = workdir or _private_dir("satukartu-redis-")
        self.port = port or free_port()
        self.log = self.workdir / "redis.log"
        self.server = _Group()
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.server.spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                           "--dir", str(self.workdir), "--appendonly", "yes",
                           "--appendfsync", "always", "--save", "", "--daemonize", "no",
                           "--protected-mode", "no", "--logfile", str(self.log)],
                          dict(os.environ), self.workdir / "stdout.log")
        wait_until(self.ping, 30, "the private Redis to answer PING")

    def ping(self) -> bool:
        import redis

        if not self.server.running:
            raise RuntimeError(f"redis-server exited: {self.log.read_text()[-2000:]}")
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.server.signal(sig)

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.stop(sig)
        self.start()
        self.restarts += 1

    def destroy(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- RabbitMQ -----------------------------------------------------------------------


class PrivateRabbitMQ:
    """A RabbitMQ node of our own: a unique node name, AMQP and distribution ports, its
    own epmd, Mnesia and log folders, Erlang cookie and an empty plugin list (no
    management plugin). The machine's /etc/rabbitmq files are not read."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.workdir = workdir or _private_dir("satukartu-rabbitmq-")
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"sk{uuid.uuid4().hex[:10]}@localhost"
        self.server = _Group()
        self.epmd = _Group()
        self.restarts = 0
        (self.workdir / "enabled_plugins").write_text("[].\n")
        (self.workdir / "rabbitmq.conf").write_text(
            "loopback_users.guest = true\nlog.console = false\nlog.file.level = info\n")
        (self.workdir / "rabbitmq-env.conf").write_text("")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def env(self) -> dict[str, str]:
        base = self.workdir
        return {**os.environ, "HOME": str(base), "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port), "ERL_EPMD_PORT": str(self.epmd_port),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(base / "log"),
                "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid")}

    def start(self, timeout: float = 120) -> None:
        if not self.epmd.running:
            self.epmd.spawn(["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                            self.env, self.workdir / "epmd.log")
            wait_until(lambda: _port_open(self.epmd_port), 20, "the private epmd")
        self.server.spawn([RABBITMQ_SERVER], self.env, self.workdir / "server.log",
                          cwd=self.workdir)
        wait_until(self.accepts_connections, timeout, "the private RabbitMQ node", 0.25)

    def accepts_connections(self) -> bool:
        import amqp

        if not self.server.running:
            raise RuntimeError("rabbitmq-server exited: "
                               f"{(self.workdir / 'server.log').read_text()[-3000:]}")
        if not _port_open(self.port):
            return False
        try:
            conn = amqp.Connection(f"127.0.0.1:{self.port}", userid="guest", password="guest",
                                   connect_timeout=2)
            conn.connect()
            conn.close()
            return True
        except (OSError, amqp.exceptions.AMQPError):
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.server.signal(sig, wait=60)

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.stop(sig)
        self.start()
        self.restarts += 1

    def destroy(self) -> None:
        self.stop(signal.SIGKILL)
        self.epmd.signal(signal.SIGKILL)
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL cluster of this test's own (removed after it)."""
    server = PrivatePostgres().init()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A running redis-server of this test's own, append-only file fsynced per write."""
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    """A running RabbitMQ node of this test process (a node boots in 10-20 s, so tests
    share it; each uses queues of its own, and may restart it)."""
    server = PrivateRabbitMQ()
    try:
        server.start()
        yield server
    finally:
        server.destroy()

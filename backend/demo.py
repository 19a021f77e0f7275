"""`satukartu demo`: the whole system on embedded defaults, with a card issued and tapped.

It plays what a city's staff would do on the first day, through the same commands
they use: migrate, load a (synthetic) registry, create the CA, an admin and terminals,
start the hub, a worker and beat, issue a card into the virtual reader of a private
pcscd, then tap it and sign in with the PIN through the reader daemon. Everything it
starts is stopped on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

DEMO_PIN = "123456"
# The demo's kiosk and shop share one PC, so their reader bridges need two ports.
KIOSK_BRIDGE = "http://127.0.0.1:7468"
AGENT_BRIDGE = "http://127.0.0.1:7469"
COUNTER_BRIDGE = "http://127.0.0.1:7470"
# Which screen's reader daemon listens where; reader i of the private pcscd is theirs.
BRIDGES = {"kiosk": KIOSK_BRIDGE, "agent": AGENT_BRIDGE, "counter": COUNTER_BRIDGE}
# The demo's staff: two admins, so a request one makes can be approved by the other.
STAFF = (("admin", "admin", "Demo admin"), ("admin2", "admin", "Second demo admin"),
         ("clerk", "clerk", "Demo clerk"), ("auditor", "auditor", "Demo auditor"),
         ("agent", "agent", "Demo agent"))


def _bold(text: str) -> str:
    return click.style(text, bold=True)


@dataclass
class Demo:
    """The processes and files of one demo run."""

    instance: Path
    bind: str
    citizens: int
    env: dict[str, str] = field(default_factory=dict)
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    stoppers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://{self.bind}"

    def satukartu(self, *args: str, stdin: str | None = None) -> str:
        """Run one `satukartu` command to completion, as an operator would."""
        argv = [sys.executable, "-m", "backend", *args]
        done = subprocess.run(argv, env=self.env, input=stdin, capture_output=True,  # noqa: S603
                              text=True, check=False)
        if done.returncode != 0:
            raise click.ClickException(f"`satukartu {' '.join(args)}` failed:\n"
                                       f"{done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def start(self, name: str, *args: str,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.instance / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen([sys.executable, "-m", "backend", *args],  # noqa: S603
                                env={**self.env, **(env or {})}, stdout=log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        self.procs.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                click.echo(f"{name} did not stop in time; killing it", err=True)
                os.killpg(proc.pid, signal.SIGKILL)
        for stop in reversed(self.stoppers):
            stop()


def _wait_http(url: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the hub exited; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own URL
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise click.ClickException(f"the hub did not answer at {url}; see {log}")


def wait_bridge(url: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    """Until the reader daemon's bridge answers: the screen needs it from the start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"a reader daemon exited; see {log}")
        try:
            with urllib.request.urlopen(url + "/state", timeout=1) as answer:  # noqa: S310
                if json.load(answer).get("event") == "state":
                    return
        except (OSError, ValueError):
            time.sleep(0.2)
    raise click.ClickException(f"the reader's bridge did not answer at {url}; see {log}")


def _check_port_free(bind: str) -> None:
    host, _, port = bind.rpartition(":")
    with socket.socket() as probe:
        if probe.connect_ex((host or "127.0.0.1", int(port))) == 0:
            raise click.ClickException(f"something already listens on {bind}; stop it or "
                                       "choose another address with --bind")


def pick_citizen(demo: Demo) -> dict[str, Any]:
    """A living adult in a low-decile household: someone with programmes to show."""
    from sqlalchemy import select

    from backend.app import create_app
    from backend.db import database
    from backend.registry.models import Citizen, Household, HouseholdMember

    app = create_app(INSTANCE_DIR=str(demo.instance))
    with app.app_context(), database().transaction() as sess:
        row = sess.execute(
            select(Citizen.id, Citizen.national_number, Citizen.full_name)
            .join(HouseholdMember, HouseholdMember.citizen_id == Citizen.id)
            .join(Household, Household.id == HouseholdMember.household_id)
            .where(Citizen.died_on.is_(None), HouseholdMember.relationship == "head")
            .order_by(Household.welfare_decile, Citizen.id).limit(1)).one()
    app.extensions["satukartu.db"].engine.dispose()
    return {"id": row.id, "number": row.national_number, "name": row.full_name}


def prepare(demo: Demo) -> dict[str, Any]:
    click.echo(_bold("1. database, registry, CA, staff and terminals"))
    demo.satukartu("db", "upgrade")
    demo.satukartu("registry", "synth", "--citizens", str(demo.citizens), "--seed", "7")
    demo.satukartu("ca", "init")
    passwords = {}
    for username, role, name in STAFF:
        passwords[username] = secrets.token_urlsafe(12)
        demo.satukartu("staff", "add", username, "--role", role, "--name", name,
                       "--password-stdin", stdin=passwords[username] + "\n")
    kiosk = json.loads(demo.satukartu("terminal", "add", "--kind", "kiosk",
                                      "--name", "Demo kiosk", "--json"))
    counter = json.loads(demo.satukartu("terminal", "add", "--kind", "counter",
                                        "--name", "Demo counter", "--json"))
    agent = json.loads(demo.satukartu("terminal", "add", "--kind", "agent",
                                      "--name", "e-Warong Demo", "--json"))
    desk = json.loads(demo.satukartu("terminal", "add", "--kind", "desk",
                                     "--name", "Enrolment desk 1", "--json"))
    for programme in ("food", "transport", "elderly"):
        demo.satukartu("ledger", "allocate", "--programme", programme)
    return {"passwords": passwords, "admin_password": passwords["admin"], "kiosk": kiosk,
            "counter": counter, "agent": agent, "desk": desk,
            "agent_password": passwords["agent"]}


def start_reader(demo: Demo, name: str, terminal: dict[str, Any], reader: str,
                 bridge: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The reader daemon of one screen's PC, with its local bridge for the page; the
    secret in the environment, where the process list does not show it."""
    return demo.start(name, "reader", "--hub", demo.origin, "--kind", terminal["scope"],
                      "--client-id", terminal["client_id"], "--reader", reader,
                      "--bridge", bridge.removeprefix("http://"),
                      env={**_secret(terminal), **(env or {})})


def start_desk(demo: Demo, terminal: dict[str, Any], reader: str, pin: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.Popen:
    """The enrolment desk's reader daemon: it writes the console's issuance jobs onto
    blank cards put in `reader` (with `pin` as the new card's PIN, else one it draws)."""
    args = ["reader", "--hub", demo.origin, "--client-id", terminal["client_id"],
            "--reader", reader]
    return demo.start("reader-desk", *args, *(["--pin", pin] if pin else []),
                      env={**_secret(terminal), **(env or {})})


def _secret(terminal: dict[str, Any]) -> dict[str, str]:
    return {"SATUKARTU_TERMINAL_CLIENT_SECRET": terminal["client_secret"]}


def _start_pcsc(demo: Demo) -> tuple[list[Any], Any]:
    """Two private pcscd, two vpcd readers each (vpcd's readers share their slots across
    devices, so one pcscd serves two): the kiosk's and the shop's, then the counter's and
    the enrolment desk's, whose daemons are given the second one's socket."""
    from card_reader.stack import PrivatePcscd, VirtualCard

    click.echo(_bold("2. pcscd with four virtual readers, and a blank virtual card in one"))
    pcscds = []
    for name in ("pcscd", "pcscd-2"):
        workdir = demo.instance / name
        workdir.mkdir(exist_ok=True)
        pcscd = PrivatePcscd(workdir)
        pcscd.start()
        demo.stoppers.append(pcscd.stop)
        pcscds.append(pcscd)
    demo.env.update(pcscds[0].env)
    os.environ.update(pcscds[0].env)
    card = VirtualCard(pcscds[0], demo.instance / "demo-card.json", pcscds[0].readers[0])
    card.insert()
    demo.stoppers.append(lambda: card.remove(wait=False))
    return pcscds, card


def _reader_once(demo: Demo, terminal: dict[str, Any], pin: str | None) -> dict[str, Any]:
    args = ["reader", "--once", "--json", "--hub", demo.origin, "--kind", terminal["scope"],
            "--client-id", terminal["client_id"], "--client-secret", terminal["client_secret"]]
    if pin:
        args += ["--pin", pin]
    return json.loads(demo.satukartu(*args).strip().splitlines()[-1])


def _reader_places(pcscds: list[Any]) -> dict[str, tuple[Any, str]]:
    """Whose reader is which: (its pcscd, its name) for each screen and the desk."""
    return {"kiosk": (pcscds[0], pcscds[0].readers[0]),
            "agent": (pcscds[0], pcscds[0].readers[1]),
            "counter": (pcscds[1], pcscds[1].readers[0]),
            "desk": (pcscds[1], pcscds[1].readers[1])}


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def run_demo(instance: Path, bind: str, citizens: int, keep: bool) -> None:
    if instance.exists() and not keep:
        shutil.rmtree(instance)
    instance.mkdir(parents=True, exist_ok=True)
    demo = Demo(instance=instance.resolve(), bind=bind, citizens=citizens)
    for address in (bind, *(b.removeprefix("http://") for b in BRIDGES.values())):
        _check_port_free(address)
    signal.signal(signal.SIGTERM, _interrupt)
    demo.env = {**os.environ, "SATUKARTU_INSTANCE_DIR": str(demo.instance),
                "SATUKARTU_ORIGIN": demo.origin, "PYTHONUNBUFFERED": "1",
                "SATUKARTU_READER_BRIDGE": KIOSK_BRIDGE,
                "SATUKARTU_AGENT_READER_BRIDGE": AGENT_BRIDGE,
                "SATUKARTU_COUNTER_READER_BRIDGE": COUNTER_BRIDGE}
    try:
        setup = prepare(demo)
        citizen = pick_citizen(demo)
        pcscds, card = _start_pcsc(demo)
        reader = pcscds[0].readers[0]
        click.echo(_bold(f"3. issuing a card to {citizen['name']} ({citizen['number']})"))
        issued = json.loads(demo.satukartu("card", "issue", "--citizen", citizen["number"],
                                           "--reader", reader, "--pin", DEMO_PIN, "--json"))
        click.echo(_bold("4. the hub, a Celery worker and beat"))
        hub = demo.start("hub", "serve", "--bind", bind, "--workers", "2")
        demo.start("worker", "worker", "--concurrency", "1")
        demo.start("beat", "beat")
        _wait_http(f"{demo.origin}/api/v1/health", 60, hub, demo.instance / "hub.log")
        click.echo(_bold("5. a tap at the kiosk, then the PIN at the counter"))
        tap = _reader_once(demo, setup["kiosk"], None)
        pin = _reader_once(demo, setup["counter"], DEMO_PIN)
        click.echo(_bold("6. the kiosk's, the shop's and the counter's reader daemons"))
        card.remove()
        places = _reader_places(pcscds)
        for name, bridge in BRIDGES.items():
            pcscd, reader = places[name]
            # The shop's offline queue lives with the rest of the demo's files.
            offline = {"SATUKARTU_READER_OFFLINE_DIR": str(demo.instance / f"offline-{name}")}
            proc = start_reader(demo, f"reader-{name}", setup[name], reader, bridge,
                                env={**pcscd.env, **offline})
            wait_bridge(bridge, 30, proc, demo.instance / f"reader-{name}.log")
        start_desk(demo, setup["desk"], places["desk"][1], env=places["desk"][0].env)
        _report(demo, setup, citizen, issued, tap, pin, places)
        while True:
            for name, proc in demo.procs:
                if proc.poll() is not None:
                    raise click.ClickException(f"{name} stopped; see {demo.instance}/{name}.log")
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        demo.stop_all()


def _report(demo: Demo, setup: dict[str, Any], citizen: dict[str, Any],
            issued: dict[str, Any], tap: dict[str, Any], pin: dict[str, Any],
            places: dict[str, tuple[Any, str]]) -> None:
    kiosk = setup["kiosk"]
    satukartu = Path(sys.executable).with_name("satukartu")
    vcard = f"{satukartu} vcard --state {demo.instance / 'demo-card.json'} --port"
    lines = [
        "",
        _bold("SatuKartu is running. Open:"),
        f"  the kiosk              {demo.origin}/kiosk/",
        f"  the agent's shop       {demo.origin}/agent/   (sign in as agent)",
        f"  the clerk's counter    {demo.origin}/counter/ (sign in as clerk)",
        f"  the admin console      {demo.origin}/console/ (sign in as admin or admin2)",
        f"  the audit log          {demo.origin}/audit/   (sign in as auditor)",
        f"  staff sign-in          {demo.origin}/staff/sign-in",
        f"  home page and status   {demo.origin}/",
        f"  API reference          {demo.origin}/api",
        f"  OpenAPI document       {demo.origin}/api/v1/openapi.json",
        "",
        _bold("Insert the card (it stays in until you press Ctrl-C in that terminal):"),
        f"  at the kiosk           {vcard} {_port(places['kiosk'])}",
        f"  at the agent's shop    {vcard} {_port(places['agent'])}",
        f"  at the counter         {vcard} {_port(places['counter'])}",
        "",
        _bold("Issue a card at the enrolment desk: start it in the console (Issuance), then"),
        f"  put a blank card in    {satukartu} vcard --state "
        f"{demo.instance / 'desk-card.json'} --port {_port(places['desk'])}",
        f"  the desk's log         {demo.instance / 'reader-desk.log'} (the new PIN and PUK)",
        "",
        _bold("Demo identities"),
        *(f"  {role:<22} {username} / {setup['passwords'][username]}"
          for username, role, _name in STAFF),
        f"  kiosk terminal         {kiosk['client_id']} / {kiosk['client_secret']}",
        f"  card                   serial {issued.get('serial')} for {citizen['name']}, "
        f"PIN {DEMO_PIN}",
        "",
        _bold("The card was tapped and signed in:"),
        f"  tap  (key 9E, kiosk)   {json.dumps(tap)}",
        f"  PIN  (key 9A, counter) {json.dumps(pin)}",
        "",
        "Try it: the citizen's programmes as the kiosk sees them",
        f"  curl -s -H 'Authorization: Bearer {tap.get('session_token')}' "
        f"{demo.origin}/api/v1/services",
        f"Logs and state are in {demo.instance}. Ctrl-C stops everything.",
    ]
    click.echo("\n".join(lines))


def _port(place: tuple[Any, str]) -> int:
    pcscd, reader = place
    return pcscd.port_for(reader)


@click.command()
@click.option("--instance", "instance", type=click.Path(path_type=Path),
              default=Path("instance/demo"), show_default=True,
              help="Folder for the demo's database, keys, card and logs.")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--citizens", default=2000, show_default=True, type=int)
@click.option("--keep", is_flag=True, help="Keep the previous demo's folder instead of "
              "starting afresh.")
def demo(instance: Path, bind: str, citizens: int, keep: bool) -> None:
    """The whole system on embedded defaults, with a virtual card issued and tapped."""
    run_demo(instance, bind, citizens, keep)

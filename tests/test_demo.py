"""`satukartu demo` brings the whole system up, taps a card, and stops all it started."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# One demo run serves every test here, in file order, on one test worker.
pytestmark = [pytest.mark.pcsc, pytest.mark.slow, pytest.mark.xdist_group("demo")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SATUKARTU_") and k != "PCSCLITE_CSOCK_NAME"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "demo", "--instance", str(tmp_path / "demo"),
         "--bind", f"127.0.0.1:{port}", "--citizens", "150"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    yield proc, "".join(lines), port, tmp_path / "demo"
    if proc.poll() is None:  # stop it as a user would, so it stops what it started
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_demo_issues_and_taps_a_card_and_serves_the_hub(demo_run):
    proc, output, port, _ = demo_run
    assert "SatuKartu is running" in output, output
    tap = json.loads(re.search(r"tap  \(key 9E, kiosk\)\s+(\{.*\})", output).group(1))
    pin = json.loads(re.search(r"PIN  \(key 9A, counter\)\s+(\{.*\})", output).group(1))
    assert tap["assurance"] == "tap" and pin["assurance"] == "pin"
    assert tap["card_serial"] == pin["card_serial"]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/services",
                                     headers={"Authorization": f"Bearer {tap['session_token']}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        programmes = json.load(answer)["programmes"]
    assert {p["key"] for p in programmes} >= {"food", "health", "civil_documents"}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        assert answer.status == 200


def _bridge_state() -> dict:
    with urllib.request.urlopen("http://127.0.0.1:7468/state", timeout=5) as answer:
        return json.load(answer)


def test_the_printed_command_inserts_the_card_at_the_kiosk(demo_run):
    _, output, port, _ = demo_run
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/kiosk/", timeout=10) as answer:
        assert answer.status == 200
    assert f"http://127.0.0.1:{port}/agent/" in output
    command = re.search(r"at the kiosk\s+(\S+ vcard --state \S+ --port \d+)", output).group(1)
    card = subprocess.Popen(command.split(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (_bridge_state().get("session") or {}).get("session_token"):
            assert time.monotonic() < deadline, _bridge_state()
            time.sleep(0.2)
    finally:
        card.send_signal(signal.SIGINT)
        card.wait(10)
    deadline = time.monotonic() + 10
    while _bridge_state()["card"]:
        assert time.monotonic() < deadline, "the card stayed in after Ctrl-C"
        time.sleep(0.2)


def test_the_demo_prints_the_staff_screens_and_accounts_that_sign_in(demo_run):
    _, output, port, _ = demo_run
    for path in ("/counter/", "/console/", "/audit/", "/staff/sign-in"):
        assert f"http://127.0.0.1:{port}{path}" in output
    accounts = dict(re.findall(r"^\s+\w+\s+(admin|clerk|agent|auditor) / (\S+)$", output,
                               re.MULTILINE))
    assert set(accounts) == {"admin", "clerk", "agent", "auditor"}, output
    for username, password in accounts.items():
        login = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/auth/staff/login", method="POST",
            data=json.dumps({"username": username, "password": password}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=10) as answer:
            assert json.load(answer)["access_token"], username


def test_a_blank_card_at_the_enrolment_desk_waits_for_a_job_from_the_console(demo_run):
    _, output, _, instance = demo_run
    command = re.search(r"put a blank card in\s+(\S+ vcard --state \S+ --port \d+)",
                        output).group(1)
    card = subprocess.Popen(command.split(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = instance / "reader-desk.log"
    try:
        deadline = time.monotonic() + 30
        while '"waiting"' not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
    finally:
        card.send_signal(signal.SIGINT)
        card.wait(10)


def test_demo_stops_everything_it_started_on_ctrl_c(demo_run):
    proc, output, _, instance = demo_run
    assert "SatuKartu is running" in output, output
    children = _children_of(proc.pid)
    assert children
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    time.sleep(0.5)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()
             and "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])]
    assert alive == []
    pcscd_pids = [e.name for e in Path("/proc").iterdir() if e.name.isdigit()
                  and str(instance) in _cmdline(e)]
    assert pcscd_pids == []


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""

"""A kiosk's page comes from the city's hub, its reader's bridge is on the kiosk's own
loopback: Chromium lets the page reach it only when the kiosk's policy names the hub
(Local Network Access). Both ways, with the hub on an address that is not loopback, in
a network namespace the test makes (see lna_scenario.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.lna_scenario import HUB_ADDRESS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser"),
              pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace and a "
                                 "managed Chromium policy need root")]
POLICIES = Path("/etc/chromium/policies/managed")
POLICY = POLICIES / "satukartu-test-kiosk.json"
SCENARIO = Path(__file__).with_name("lna_scenario.py")


def _run_kiosk_elsewhere() -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SATUKARTU_") and k != "PCSCLITE_CSOCK_NAME"}
    done = subprocess.run(["unshare", "-n", sys.executable, str(SCENARIO)],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def kiosk_policy() -> Iterator[None]:
    """The policy admin/README.md asks kiosks to have, for any port of the test hub."""
    POLICIES.mkdir(parents=True, exist_ok=True)
    hub = [f"http://{HUB_ADDRESS}:*"]
    POLICY.write_text(json.dumps({"LoopbackNetworkAllowedForUrls": hub,
                                  "LocalNetworkAccessAllowedForUrls": hub}))
    yield
    POLICY.unlink(missing_ok=True)


def test_without_the_kiosks_policy_the_page_cannot_reach_the_reader():
    assert not POLICY.exists()
    outcome = _run_kiosk_elsewhere()
    assert not outcome["balances_shown"]
    assert any("loopback" in line for line in outcome["console"]), outcome
    assert "card reader is not connected" in outcome["page"], outcome


def test_with_the_kiosks_policy_a_tap_shows_the_balances(kiosk_policy):
    outcome = _run_kiosk_elsewhere()
    assert outcome["balances_shown"], outcome

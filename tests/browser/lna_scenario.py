"""A kiosk whose hub is elsewhere, run inside a network namespace of its own.

`test_local_network_access.py` runs this under `unshare -n`. Here the hub listens on
HUB_ADDRESS (a documentation address, RFC 5737, put on this namespace's loopback
device) while the reader's bridge listens on 127.0.0.1, as on a real kiosk PC: the
page's calls to the bridge are then Local Network Access requests, which Chromium
refuses unless the kiosk's policy names the hub. The HTTPS a city's hub has is stood in
for twice: Chromium treats the hub's plain-HTTP origin as secure
(`--unsafely-treat-insecure-origin-as-secure`), and the hub and the reader accept
OAuth over it (`AUTHLIB_INSECURE_TRANSPORT`, as behind a TLS proxy). Prints one JSON
line: did the balances appear, what the page said, and Chromium's console.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, KIOSK_VIEWPORT
from tests.browser.stack import running_stack, start_own_pcscd

HUB_ADDRESS = "192.0.2.10"


def _namespace_network() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{HUB_ADDRESS}/32", "dev", "lo"],
                   check=True)


def main() -> None:
    from playwright.sync_api import TimeoutError as PageTimeout
    from playwright.sync_api import sync_playwright

    _namespace_network()
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    workdir = Path(tempfile.mkdtemp(prefix="satukartu-lna-"))
    pcscd = start_own_pcscd(workdir)
    try:
        with running_stack(pcscd, workdir / "instance", citizens=40,
                           hub_host=HUB_ADDRESS) as stack, sync_playwright() as pw:
            secure = f"--unsafely-treat-insecure-origin-as-secure={stack.origin}"
            browser = pw.chromium.launch(executable_path=CHROMIUM,
                                         args=[*CHROMIUM_FLAGS, secure])
            page = browser.new_page(viewport=KIOSK_VIEWPORT)
            refusals: list[str] = []
            page.on("console", lambda message: refusals.append(message.text))
            page.goto(f"{stack.origin}/kiosk/?lang=en")
            card = stack.card("kiosk")
            card.insert()
            try:
                page.locator("[data-balance]").first.wait_for(state="visible", timeout=15_000)
                shown = True
            except PageTimeout:
                shown = False
            said = page.url + " " + page.inner_text("main")
            card.remove()
            browser.close()
    finally:
        pcscd.stop()
    print(json.dumps({"balances_shown": shown, "page": said,
                      "console": refusals}))


if __name__ == "__main__":
    main()

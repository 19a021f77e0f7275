"""The kiosk as a citizen meets it: card in -> balances on screen; card out -> blank.

Runs the screens' real stack (private pcscd + vpcd, the virtual card, the kiosk's
reader daemon and bridge, the hub under gunicorn on SQLite, Debian's Chromium) and, for
each of N taps, measures:
- end to end: from starting the virtual card's process (the card touching the reader)
  to the first balance visible on the page;
- the hub's part: the time gunicorn spent on that tap's four requests (challenge, card
  token, the page's hand-over, the programmes page), from its access log;
- removal: from stopping the card's process to the page leaving the citizen's data,
  and to the session's end at the hub.
Prints medians and p95 (goals from ../shared/SCREENS.md K1 and K5).

    .venv/bin/python bench/bench_screens.py --taps 50
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, KIOSK_VIEWPORT
from tests.browser.stack import running_stack, start_own_pcscd

TAP_REQUESTS = re.compile(r'"(POST /api/v1/auth/challenge|POST /api/v1/auth/token|'
                          r'POST /kiosk/session|GET /kiosk/home) HTTP/1\.1" \d+ .* (\d+)us$')


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def hub_part(log: Path, offset: int) -> tuple[float, int]:
    """Milliseconds the hub spent on the tap's requests logged after `offset`."""
    with open(log, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
        end = handle.tell()
    spent = [int(m.group(2)) for line in lines if (m := TAP_REQUESTS.search(line))]
    return sum(spent) / 1000, end


def _data_gone(page) -> bool:
    """The page blanked, or is already navigating away (it blanks before it leaves)."""
    from playwright.sync_api import Error

    try:
        return page.evaluate("document.body.classList.contains('blank') || "
                             "!document.querySelector('[data-balance]')")
    except Error:
        return True


def removal_ms(page, stack, card) -> tuple[float, float]:
    started = time.perf_counter()
    card.remove(wait=False)
    blank = ended = None
    while blank is None or ended is None:
        now = (time.perf_counter() - started) * 1000
        if now > 10_000:
            raise TimeoutError("the kiosk did not react to the card's removal")
        if blank is None and _data_gone(page):
            blank = now
        if ended is None and stack.sql("SELECT count(*) FROM card_sessions WHERE "
                                       "ended_at IS NULL AND terminal_kind = 'kiosk'") == [(0,)]:
            ended = now
        time.sleep(0.005)
    page.wait_for_url(re.compile(r"/kiosk/$"))
    return blank, ended


def run(taps: int) -> None:
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="bench-screens-"))
    pcscd = start_own_pcscd(workdir)
    try:
        with running_stack(pcscd, workdir / "instance") as stack, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport=KIOSK_VIEWPORT)
            card = stack.card("kiosk")
            log = stack.demo.instance / "hub.log"
            offset = log.stat().st_size
            e2e, hub, blank, ended = [], [], [], []
            page.goto(f"{stack.origin}/kiosk/")
            for _ in range(taps):
                started = time.perf_counter()
                card.insert(wait=False)
                page.locator("[data-balance]").first.wait_for(state="visible")
                e2e.append((time.perf_counter() - started) * 1000)
                time.sleep(0.3)  # let the access log flush the tap's lines
                spent, offset = hub_part(log, offset)
                hub.append(spent)
                gone, over = removal_ms(page, stack, card)
                blank.append(gone)
                ended.append(over)
            browser.close()
    finally:
        pcscd.stop()
    print(f"{taps} taps; load average {os.getloadavg()[0]:.1f}")
    for name, values, goal in (
            ("tap -> balances visible (end to end)", e2e, "<= 2000 ms"),
            ("  of which the hub (4 requests)", hub, "<= 300 ms"),
            ("card out -> citizen's data gone", blank, "<= 500 ms"),
            ("card out -> session ended at the hub", ended, "<= 1000 ms")):
        print(f"{name:40s} median {statistics.median(values):7.1f} ms   "
              f"p95 {p95(values):7.1f} ms   goal {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=50)
    run(parser.parse_args().taps)


if __name__ == "__main__":
    main()

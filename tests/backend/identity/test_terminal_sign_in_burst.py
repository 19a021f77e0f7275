"""A burst of right terminal sign-ins is not throttled; a burst of guesses still is.

The token endpoint counted each try before checking the secret and gave it back only
when the token was saved, so a terminal restarting its workers (or a shop network
behind one address at opening time) had, for a moment, more tries in flight than the
limit: 40 concurrent right sign-ins got 2 x 429 "too many failed sign-ins", though none
failed. A right secret now gives its try back in the same transaction that counted it,
so no other try ever sees it; wrong ones still count, in turn, concurrently too.

Every request here runs in its own thread with its own connections and real commits,
on both databases.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from backend import migrations
from backend.app import create_app
from backend.reasons import Reason
from backend.testing.identity import basic, make_terminal

pytestmark = pytest.mark.slow

TOKEN = "/api/v1/oauth/token"
RIGHT, WRONG = 50, 6
LIMIT = 5  # TERMINAL_POLICY.pair_limit
SHOP = "192.0.2.50"  # the terminal's own address (a shop network)
ELSEWHERE = "203.0.113.66"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, tmp_path: Path, instance_dir: Path) -> Iterator[Flask]:
    """A hub whose commits are real, so concurrent requests see each other's counts."""
    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'burst.db'}"
        migrations.upgrade(url)
    app = create_app(DATABASE_URL=url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="test-secret-key-not-for-production",
                     ORIGIN="https://hub.test.satukartu")
    with app.app_context():
        yield app
    app.extensions["satukartu.db"].engine.dispose()


def sign_in(app: Flask, client_id: str, secret: str, address: str) -> tuple[int, dict]:
    answer = app.test_client().post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret),
        environ_base={"REMOTE_ADDR": address})
    return answer.status_code, answer.get_json()


def all_at_once(app: Flask, tries: list[tuple[str, str, str, str]]) -> dict[str, list]:
    """Send every (group, client id, secret, address) from its own thread, released together."""
    barrier = threading.Barrier(len(tries))
    answers: dict[str, list] = {}
    lock = threading.Lock()

    def one(group: str, client_id: str, secret: str, address: str) -> None:
        barrier.wait()
        status, body = sign_in(app, client_id, secret, address)
        with lock:
            answers.setdefault(group, []).append((status, body))

    threads = [threading.Thread(target=one, args=t) for t in tries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a sign-in hung"
    return answers


def statuses(answers: list) -> Counter:
    return Counter(status for status, _ in answers)


def test_a_burst_of_right_sign_ins_is_never_refused_while_guesses_are(hub):
    shop = make_terminal(hub, "kiosk")
    other = make_terminal(hub, "kiosk")
    tries = [("right", shop.client_id, shop.client_secret, SHOP)] * RIGHT
    # Guesses at the same terminal from another address, and at another terminal
    # from the shop's own address, racing the burst and each other.
    tries += [("guess elsewhere", shop.client_id, "wrong-secret", ELSEWHERE)] * WRONG
    tries += [("guess at the shop", other.client_id, "wrong-secret", SHOP)] * WRONG

    answers = all_at_once(hub, tries)

    assert statuses(answers["right"]) == {200: RIGHT}, answers["right"]
    assert all(body["access_token"] for _, body in answers["right"])
    for group in ("guess elsewhere", "guess at the shop"):
        # As many wrong answers as a sequence of guesses gets, then the lock: the race
        # gets no extra guesses.
        assert statuses(answers[group]) == {401: LIMIT, 429: WRONG - LIMIT}, answers[group]
        refused = [body for status, body in answers[group] if status == 429]
        assert all(body["reason"] == Reason.RATE_LIMITED for body in refused)
        assert all(body["error"] == "invalid_client" for body in refused)

    # The guessed pairs stay locked even for the right secret; the shop is untouched.
    status, body = sign_in(hub, shop.client_id, shop.client_secret, ELSEWHERE)
    assert (status, body["reason"]) == (429, Reason.RATE_LIMITED)
    status, body = sign_in(hub, other.client_id, other.client_secret, SHOP)
    assert (status, body["reason"]) == (429, Reason.RATE_LIMITED)
    assert sign_in(hub, shop.client_id, shop.client_secret, SHOP)[0] == 200


def test_a_burst_of_guesses_gets_no_more_tries_than_a_sequence(hub):
    """Twenty wrong secrets at once for one terminal from one address: five are judged."""
    kiosk = make_terminal(hub, "kiosk")
    answers = all_at_once(hub, [("guess", kiosk.client_id, "wrong-secret", ELSEWHERE)] * 20)
    assert statuses(answers["guess"]) == {401: LIMIT, 429: 20 - LIMIT}, answers["guess"]
    status, body = sign_in(hub, kiosk.client_id, kiosk.client_secret, ELSEWHERE)
    assert (status, body["reason"]) == (429, Reason.RATE_LIMITED)

"""Who may call the local bridge, and where it listens: only the hub's pages, only on
loopback (card_reader/bridge.py over real HTTP; the page's side is `bridge_page.py`)."""

from __future__ import annotations

import urllib.parse

import pytest
from click.testing import CliRunner

from card_reader.bridge import Bridge
from card_reader.bridge_access import origin_of, parse_bind
from card_reader.cli import reader_command
from card_reader.event_feed import EventFeed
from tests.card_reader.bridge_page import (
    FOREIGN,
    ORIGIN,
    Stream,
    call,
)
from tests.card_reader.stub_hub import CLIENT_ID, CLIENT_SECRET

# --- who may call ---------------------------------------------------------------------


def test_a_foreign_origin_is_refused_403(bare):
    for method, path in (("POST", "/pin"), ("GET", "/events"), ("GET", "/state"),
                         ("OPTIONS", "/pin")):
        answer = call(bare.url, method, path, {"pin": "123456"} if method == "POST" else None,
                      origin=FOREIGN)
        assert (answer.status, answer.body) == (403, {"refused": "origin_not_allowed"}), path
        assert "Access-Control-Allow-Origin" not in answer.headers
    assert Stream(bare.url, origin=FOREIGN).status == 403
    assert bare.calls == []  # the card was never asked


def test_a_pin_post_without_an_origin_is_refused_403(bare):
    answer = call(bare.url, "POST", "/pin", {"pin": "123456"}, origin=None)
    assert (answer.status, answer.body) == (403, {"refused": "origin_not_allowed"})
    assert bare.calls == []


def test_a_plain_cross_site_form_is_refused(bare):
    answer = call(bare.url, "POST", "/pin", raw=b"pin=123456", origin="null",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 403 and bare.calls == []


def test_a_name_that_is_not_loopback_in_host_is_refused(bare):
    """DNS rebinding: a hostile name resolving to 127.0.0.1 makes its page same-origin
    with the bridge, and a same-origin GET carries no Origin; the Host still says."""
    port = urllib.parse.urlsplit(bare.url).port
    answer = call(bare.url, "GET", "/state", origin=None,
                  headers={"Host": f"rebind.example:{port}"})
    assert (answer.status, answer.body) == (421, {"refused": "host_not_allowed"})


def test_the_preflight_allows_the_hub_origin_only(bare):
    answer = call(bare.url, "OPTIONS", "/pin", headers={
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true"})
    assert answer.status == 204
    expected = {
        "Access-Control-Allow-Origin": ORIGIN,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "POST, GET",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Allow-Private-Network": "true",
        "Access-Control-Max-Age": "600",
    }
    assert {name: answer.headers[name] for name in expected} == expected
    assert call(bare.url, "OPTIONS", "/events").status == 204


def test_a_malformed_pin_never_reaches_the_card(bare):
    assert call(bare.url, "POST", "/pin", {"pin": "12ab"}).body == {"refused": "pin_format"}
    assert call(bare.url, "POST", "/pin", {"pin": 123456}).status == 400
    assert call(bare.url, "POST", "/pin", raw=b"{not json").status == 400
    assert call(bare.url, "POST", "/pin", raw=b"x" * 4096).status == 413
    assert bare.calls == []
    answer = call(bare.url, "POST", "/pin", {"pin": "123456"})
    assert (answer.status, answer.body) == (409, {"refused": "no_card"})
    assert repr(bare.calls) == "[OneTimePin(<hidden>)]"


# --- where it listens -------------------------------------------------------------------


def test_the_bridge_binds_to_loopback_only():
    assert parse_bind("127.0.0.1:7468") == ("127.0.0.1", 7468)
    assert parse_bind("[::1]:7468") == ("::1", 7468)
    assert parse_bind("localhost:0") == ("localhost", 0)
    for bad in ("0.0.0.0:7468", "192.168.1.10:7468", "kiosk.example:7468", "7468", ":7468"):
        with pytest.raises(ValueError):
            parse_bind(bad)
    with pytest.raises(ValueError):
        Bridge(EventFeed(), lambda pin: None, [ORIGIN], host="0.0.0.0", port=0)


def test_origins_are_compared_as_browsers_send_them():
    assert origin_of("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert origin_of("https://Hub.Example:443/kiosk") == "https://hub.example"
    assert origin_of("http://[::1]:8000") == "http://[::1]:8000"
    with pytest.raises(ValueError):
        origin_of("hub.example")


def test_the_reader_command_refuses_a_bridge_on_a_public_address(monkeypatch):
    monkeypatch.setenv("SATUKARTU_TERMINAL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SATUKARTU_TERMINAL_CLIENT_SECRET", CLIENT_SECRET)
    result = CliRunner().invoke(reader_command, ["--bridge", "0.0.0.0:7468"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output

"""The hub's origin is what cards sign: one spelling, whatever the operator wrote."""

from __future__ import annotations

import pytest

from backend import config


def _origin(written: str) -> str:
    return config.load(environ={"SATUKARTU_ORIGIN": written})["ORIGIN"]


@pytest.mark.parametrize("written", ["http://127.0.0.1:8000", "http://127.0.0.1:8000/",
                                     " http://127.0.0.1:8000/ "])
def test_both_spellings_give_the_origin_the_reader_signs(written):
    assert _origin(written) == "http://127.0.0.1:8000"


def test_the_host_is_written_in_lower_case():
    assert _origin("https://Hub.Example.City/") == "https://hub.example.city"


@pytest.mark.parametrize("written", ["http://hub.example.city/kiosk", "hub.example.city",
                                     "ftp://hub.example.city", "http://hub:99999",
                                     "https://hub.example.city/?x=1"])
def test_a_malformed_origin_stops_the_hub_with_a_clear_message(written):
    with pytest.raises(config.ConfigError, match="SATUKARTU_ORIGIN"):
        _origin(written)

"""Where the bridge may listen and whom it may answer: loopback only, the hub's origin.

The bridge carries a citizen's PIN from the page to the card, so it binds to loopback
and answers a `Host` that names loopback (a hostile DNS name resolving to 127.0.0.1
would otherwise make its page same-origin with the bridge); the page's `Origin` is
compared with the hub's as a browser spells it.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

LOOPBACK_NAMES = ("localhost",)


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and for loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_bind(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) on a loopback host; ValueError otherwise."""
    host, sep, port_text = value.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]")
    if not is_loopback_host(host):
        raise ValueError(f"{host} is not a loopback address: the bridge serves this PC's "
                         "browser only (use 127.0.0.1, ::1 or localhost)")
    return host, int(port_text)


def origin_of(url: str) -> str:
    """The origin a browser sends for pages under `url`: scheme://host[:port], no path."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname  # lower-cased, without brackets
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port not in (None, default) else ""
    return f"{parts.scheme}://{host}{port}"

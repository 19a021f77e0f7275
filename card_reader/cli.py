"""The reader-side `satukartu` commands, as plain click objects (no Flask).

The hub's CLI attaches `vcard_command` and `reader_command`; `python -m
card_reader.vcard` runs the virtual card alone.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from card_reader.logs import configure_logging
from card_reader.piv import MAX_PIN_RETRIES


@click.command("vcard")
@click.option("--state", "state_path", required=True, type=click.Path(dir_okay=False),
              help="The card's state file; a new file is a blank card.")
@click.option("--host", default="127.0.0.1", show_default=True, help="vpcd's address.")
@click.option("--port", default=35963, show_default=True, type=int,
              help="vpcd's port (35963 is reader 'Virtual PCD 00 00').")
@click.option("--delay-profile", type=click.Choice(["fast", "real"]), default="fast",
              show_default=True, help="'real' answers as slowly as a real PIV card.")
@click.option("--pin-retries", type=click.IntRange(1, MAX_PIN_RETRIES), default=3,
              show_default=True, help="PIN and PUK tries of a new blank card.")
def vcard_command(state_path: str, host: str, port: int, delay_profile: str,
                  pin_retries: int) -> None:
    """A virtual PIV card inserted in vpcd's reader until stopped."""
    from card_reader.vcard import VpcdLink, open_card

    configure_logging()
    link = VpcdLink(open_card(state_path, delay_profile, pin_retries), host, port)
    _stop_on_signals(link.stop)
    link.serve_forever()


def _stop_on_signals(stop: object) -> None:
    def handler(signum: int, frame: object) -> None:
        threading.Thread(target=stop, daemon=True).start()  # type: ignore[arg-type]

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@click.command("reader")
@click.option("--hub", "hub_url", envvar="SATUKARTU_HUB_URL", default="http://127.0.0.1:8000",
              show_default=True, help="The hub's canonical URL (the cards sign it).")
@click.option("--client-id", envvar="SATUKARTU_TERMINAL_CLIENT_ID", required=True,
              help="This terminal's OAuth2 client id.")
@click.option("--client-secret", envvar="SATUKARTU_TERMINAL_CLIENT_SECRET", required=True,
              help="This terminal's OAuth2 client secret.")
@click.option("--kind", "scope", envvar="SATUKARTU_TERMINAL_KIND", default="kiosk",
              show_default=True, type=click.Choice(["kiosk", "counter", "agent", "gate"]),
              help="Terminal kind, asked for as the token scope.")
@click.option("--reader", "reader_name", default=None,
              help="Use only readers whose name starts with this.")
@click.option("--once", is_flag=True, help="One authentication with the card in the reader.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the only output format).")
@click.option("--pin", default=None, help="Verify this PIN and sign with 9A (assurance pin).")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds per HTTP call.")
@click.option("--bridge", "bridge_bind", default="127.0.0.1:7468", show_default=True,
              metavar="HOST:PORT",
              help="Serve the screen's local bridge (events, PIN) here; loopback only.")
@click.option("--no-bridge", is_flag=True, help="Do not serve the local bridge.")
@click.option("--bridge-origin", "bridge_origins", multiple=True, metavar="URL",
              help="Origin of pages allowed to use the bridge (repeatable; default: the "
                   "--hub URL's origin).")
def reader_command(hub_url: str, client_id: str, client_secret: str, scope: str,
                   reader_name: str | None, once: bool, as_json: bool, pin: str | None,
                   timeout: float, bridge_bind: str, no_bridge: bool,
                   bridge_origins: tuple[str, ...]) -> None:
    """The card-reader daemon: a card inserted becomes a hub session, removed ends it.

    Beside it, unless --no-bridge, the local bridge of card_reader/bridge.py tells the
    screen's page about cards at once and takes the citizen's PIN to the card.
    """
    from card_reader.daemon import JsonLinesSink, ReaderDaemon, fan_out, run_once
    from card_reader.hub_client import HubClient

    bridge_args = None if once or no_bridge else _bridge_args(bridge_bind, bridge_origins,
                                                              hub_url)
    configure_logging()
    hub = HubClient(hub_url, client_id, client_secret, scope=scope, timeout=timeout)
    try:
        if once:
            sys.exit(run_once(hub, reader_name, pin))
        feed = None
        if bridge_args is not None:
            from card_reader.bridge import Bridge, EventFeed

            feed = EventFeed()
        daemon = ReaderDaemon(hub, sink=fan_out(JsonLinesSink(), feed) if feed else None,
                              pin_provider=(lambda reader: pin) if pin else None,
                              reader=reader_name)
        bridge = None
        if feed is not None:
            try:
                bridge = Bridge(feed, daemon.pin_login, **bridge_args).start()
            except OSError as exc:
                raise click.ClickException(
                    f"cannot serve the bridge on {bridge_bind}: {exc.strerror or exc}") from exc
        _stop_on_signals(daemon.stop)
        try:
            daemon.run()
        finally:
            if bridge is not None:
                bridge.stop()
    finally:
        hub.close()


def _bridge_args(bind: str, origins: tuple[str, ...], hub_url: str) -> dict[str, object]:
    """The bridge's address and allowed origins from the options, or a usage error."""
    from card_reader.bridge import origin_of, parse_bind

    try:
        host, port = parse_bind(bind)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bridge") from exc
    try:
        allowed = [origin_of(url) for url in origins or (hub_url,)]
    except ValueError as exc:
        hint = "--bridge-origin" if origins else "--hub"
        raise click.BadParameter(str(exc), param_hint=hint) from exc
    return {"host": host, "port": port, "allowed_origins": allowed}


def main() -> None:  # pragma: no cover - entry for `python -m card_reader.vcard`
    vcard_command(prog_name="satukartu vcard")


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig()
    sys.exit(main())

"""The reader-side `satukartu` commands, as plain click objects (no Flask).

The hub's CLI attaches `vcard_command` and `reader_command`; `python -m
card_reader.vcard` runs the virtual card alone.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import click

from card_reader.logs import configure_logging
from card_reader.piv import MAX_PIN_RETRIES

if TYPE_CHECKING:
    from card_reader.hub_client import HubClient

TERMINAL_KINDS = ("kiosk", "counter", "agent", "gate", "desk")


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
@click.option("--hub", "hub_url", envvar="SATUKARTU_HUB_URL", show_envvar=True,
              default="http://127.0.0.1:8000", show_default=True,
              help="The hub's canonical URL (the cards sign it).")
@click.option("--client-id", envvar="SATUKARTU_TERMINAL_CLIENT_ID", show_envvar=True,
              required=True, help="This terminal's OAuth2 client id.")
@click.option("--client-secret", envvar="SATUKARTU_TERMINAL_CLIENT_SECRET", show_envvar=True,
              default=None, help="This terminal's OAuth2 client secret. Prefer the "
              "variable or --client-secret-file: a command line shows in the process list.")
@click.option("--client-secret-file", envvar="SATUKARTU_TERMINAL_CLIENT_SECRET_FILE",
              show_envvar=True, default=None, type=click.Path(dir_okay=False),
              help="A file holding the client secret (its first line), e.g. a systemd "
                   "credential; instead of --client-secret.")
@click.option("--kind", "scope", envvar="SATUKARTU_TERMINAL_KIND", show_envvar=True,
              default=None, type=click.Choice(TERMINAL_KINDS),
              help="Ask for this terminal kind as the token scope (refused unless it is "
                   "the terminal's own). Default: ask for none; the hub grants the "
                   "terminal's own kind.")
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
@click.option("--offline-dir", "offline_dir", envvar="SATUKARTU_READER_OFFLINE_DIR",
              show_envvar=True, default=None, type=click.Path(file_okay=False),
              help="An agent terminal's offline mode keeps its bundle (CA chain, CRL, "
                   "caps) and its queue of offline redemptions here. Default: "
                   "$XDG_STATE_HOME (or ~/.local/state)/satukartu/offline-<client id>.")
@click.option("--link-interval", "link_interval", envvar="SATUKARTU_READER_LINK_INTERVAL",
              show_envvar=True, default=5.0, show_default=True,
              type=click.FloatRange(0.1, 3600),
              help="Seconds between an agent terminal's checks that the hub answers "
                   "(offline mode; the queue is sent once it does).")
def reader_command(hub_url: str, client_id: str, client_secret: str | None,
                   client_secret_file: str | None, scope: str | None,
                   reader_name: str | None, once: bool, as_json: bool, pin: str | None,
                   timeout: float, bridge_bind: str, no_bridge: bool,
                   bridge_origins: tuple[str, ...], offline_dir: str | None,
                   link_interval: float) -> None:
    """The card-reader daemon: a card inserted becomes a hub session, removed ends it.

    Beside it, unless --no-bridge, the local bridge of card_reader/bridge.py tells the
    screen's page about cards at once and takes the citizen's PIN to the card.
    With --kind desk (an enrolment desk) the daemon issues the hub's jobs onto blank
    cards instead (card_reader/desk.py), without the bridge; --once still authenticates
    the card in the reader once, e.g. to try a new card's PIN. An agent terminal with
    the bridge also works offline (card_reader/offline), keeping its state in
    --offline-dir.
    """
    from card_reader.daemon import JsonLinesSink, ReaderDaemon, fan_out, run_once
    from card_reader.hub_client import HubClient

    bridge_args = None if once or no_bridge else _bridge_args(bridge_bind, bridge_origins,
                                                              hub_url)
    client_secret = _client_secret(client_secret, client_secret_file)
    configure_logging()
    hub = HubClient(hub_url, client_id, client_secret, scope=scope, timeout=timeout)
    offline = None
    try:
        kind = None if once else scope or _granted_kind(hub)
        if kind == "desk":
            _run_desk(hub, reader_name, pin)
            return
        if once:
            sys.exit(run_once(hub, reader_name, pin))
        feed = None
        if bridge_args is not None:
            from card_reader.bridge import Bridge
            from card_reader.event_feed import EventFeed

            feed = EventFeed()
        sink = fan_out(JsonLinesSink(), feed) if feed else JsonLinesSink()
        if kind == "agent" and feed is not None:
            from card_reader.offline.mode import OfflineMode, default_offline_dir

            offline = OfflineMode(hub, Path(offline_dir) if offline_dir
                                  else default_offline_dir(client_id), sink, link_interval)
        daemon = ReaderDaemon(hub, sink=sink,
                              pin_provider=(lambda reader: pin) if pin else None,
                              reader=reader_name, link=offline)
        bridge = None
        if feed is not None:
            assert bridge_args is not None  # the feed is made for the bridge only
            if offline is not None:
                offline.attach(daemon).start()
            try:
                bridge = Bridge(feed, daemon.pin_login, **bridge_args, offline=offline).start()
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
        if offline is not None:
            offline.stop()
        hub.close()


def _run_desk(hub: HubClient, reader_name: str | None, pin: str | None) -> None:
    """An enrolment desk's loop: blank cards become citizens' cards, until a signal."""
    from card_reader.desk import DeskDaemon

    daemon = DeskDaemon(hub, pin_provider=(lambda reader: pin) if pin else None,
                        reader=reader_name)
    _stop_on_signals(daemon.stop)
    daemon.run()


def _granted_kind(hub: HubClient, wait: float = 5.0) -> str:
    """The terminal's kind as the hub grants it (no --kind given): a desk runs otherwise
    than a kiosk. Waits for a hub that is not up yet; wrong credentials end here."""
    from card_reader.hub_client import HubError, HubRefusal

    while True:
        try:
            return hub.kind
        except HubRefusal as exc:
            raise click.ClickException(f"the hub refused this terminal: {exc}") from exc
        except HubError as exc:
            logging.getLogger(__name__).warning("hub not reachable, trying again: %s", exc)
            time.sleep(wait)


def _client_secret(given: str | None, path: str | None) -> str:
    """The terminal's secret from the option (or its variable) or from a file, not both."""
    if given and path:
        raise click.UsageError("give the client secret once: --client-secret (or "
                               "SATUKARTU_TERMINAL_CLIENT_SECRET) or --client-secret-file")
    if given:
        return given
    if not path:
        raise click.UsageError("the terminal's client secret is needed: set "
                               "SATUKARTU_TERMINAL_CLIENT_SECRET, or give --client-secret-file")
    try:
        with open(path, encoding="utf-8") as source:
            secret = source.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}",
                                 param_hint="--client-secret-file") from exc
    if not secret:
        raise click.BadParameter(f"{path} holds no secret", param_hint="--client-secret-file")
    return secret


def environment_table() -> str:
    """README's table of the reader's variables, made from the options themselves."""
    rows = ["| variable | option | default | meaning |", "|---|---|---|---|"]
    for param in reader_command.params:
        if isinstance(param, click.Option) and param.envvar:
            given = param.default
            default = f"`{given}`" if isinstance(given, str | int | float) else (
                "required" if param.required else "")
            meaning = " ".join((param.help or "").split())
            rows.append(f"| `{param.envvar}` | `{param.opts[0]}` | {default} | {meaning} |")
    return "\n".join(rows)


class _BridgeArgs(TypedDict):
    host: str
    port: int
    allowed_origins: list[str]


def _bridge_args(bind: str, origins: tuple[str, ...], hub_url: str) -> _BridgeArgs:
    """The bridge's address and allowed origins from the options, or a usage error."""
    from card_reader.bridge_access import origin_of, parse_bind

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
    main()

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


def main() -> None:  # pragma: no cover - entry for `python -m card_reader.vcard`
    vcard_command(prog_name="satukartu vcard")


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig()
    sys.exit(main())

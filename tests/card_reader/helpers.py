"""In-process card for tests that need no pcscd: the engine behind a Connection."""

from __future__ import annotations

from pathlib import Path

from card_reader.vcard import CardEngine, open_card


class EngineConnection:
    """A client Connection straight onto a CardEngine (no PC/SC, no sockets)."""

    def __init__(self, engine: CardEngine) -> None:
        self.engine = engine
        self.log: list[tuple[bytes, bytes]] = []

    def transmit(self, apdu: bytes) -> bytes:
        resp = self.engine.process(apdu)
        self.log.append((apdu, resp))
        return resp


def engine_card(tmp_path: Path, name: str = "card.json", **kwargs) -> tuple[CardEngine, Path]:
    path = tmp_path / name
    engine = open_card(path, **kwargs)
    engine.power_on()
    return engine, path

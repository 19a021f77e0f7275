"""The identity behind a request, whatever proved it.

A request carries one bearer token: a staff token, a terminal token or a card session.
Resolvers (registered by the identity and card modules) turn it into a Principal; the
guard in `backend.api.routing` checks it against each endpoint's Requirement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Request, current_app, g

STAFF_ROLES = ("admin", "clerk", "agent", "auditor")
# A desk is an enrolment desk's reader: it personalises cards (backend/cards/desk.py).
TERMINAL_KINDS = ("kiosk", "counter", "agent", "gate", "desk")
ASSURANCE_ORDER = {"tap": 1, "pin": 2}


@dataclass(frozen=True)
class CardContext:
    """A citizen's card session: who the card belongs to and how it was proven."""

    session_id: str
    card_serial: str
    citizen_id: int
    assurance: str
    terminal_id: str


@dataclass(frozen=True)
class Principal:
    kind: str  # "staff" | "terminal" | "card"
    subject: str  # staff username, terminal id, or card serial
    role: str | None = None  # staff role or terminal kind
    terminal_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    card: CardContext | None = None

    @property
    def terminal_kind(self) -> str | None:
        return self.role if self.kind in {"terminal", "card"} else None

    @property
    def staff_role(self) -> str | None:
        return self.role if self.kind == "staff" else None


Resolver = Callable[[str, Request], "Principal | None"]
RESOLVERS = "satukartu.resolvers"


def register_resolver(app: Flask, resolver: Resolver) -> Resolver:
    """Add a way to turn a bearer token into a Principal, for `app` (first that
    answers wins); kept in `app.extensions`, so two apps in one process never share."""
    resolvers = app.extensions.setdefault(RESOLVERS, [])
    if resolver not in resolvers:
        resolvers.append(resolver)
    return resolver


def resolve(token: str, request: Request) -> Principal | None:
    """The Principal behind a bearer token: the first resolver that knows it."""
    for resolver in current_app.extensions.get(RESOLVERS, ()):
        principal = resolver(token, request)
        if principal is not None:
            return principal
    return None


def current_principal() -> Principal | None:
    return g.get("principal")


@dataclass(frozen=True)
class Requirement:
    """Who may call an endpoint or run a programme's action. Empty tuples mean "none
    of that kind". `card` and `assurance` bind terminals only: a terminal must be in a
    card session (the citizen is the card's holder) of at least that assurance; staff
    named in `roles` never carry a card session."""

    roles: tuple[str, ...] = ()
    terminal_kinds: tuple[str, ...] = ()
    card: bool = False
    assurance: str | None = None
    public: bool = False

    def describe(self) -> str:
        if self.public:
            return "public"
        parts = []
        if self.roles:
            parts.append("staff: " + ", ".join(self.roles))
        if self.terminal_kinds:
            parts.append("terminals: " + ", ".join(self.terminal_kinds))
        if self.card:
            parts.append(f"card session ({self.assurance or 'tap'} or better)")
        return "; ".join(parts)


PUBLIC = Requirement(public=True)

"""The citizen in front of the clerk: who they are, their family card, their card.

Read from the registry and the card table for the card holder only: the card is the
search key, so the counter has no name search at all. Each reader of a `Record`
records which of these fields its page shows (`screen.read`).
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.auth.principal import Principal
from backend.cards import lifecycle
from backend.cards.models import Card
from backend.db import session
from backend.registry import households, service
from backend.registry.models import Citizen, Household

# The fields the citizen's page shows, as the audit log names them.
RECORD_FIELDS = ("full_name", "national_number", "household", "card")


@dataclass(frozen=True)
class Member:
    citizen_id: int
    full_name: str
    relationship: str
    is_holder: bool


@dataclass(frozen=True)
class Record:
    citizen: Citizen
    family: Household | None
    relationship: str | None
    members: tuple[Member, ...]
    card: Card


def load(principal: Principal) -> Record:
    """The card holder's record, their household's members (head first) and their card."""
    assert principal.card is not None
    db = session()
    person = service.require_citizen(db, principal.card.citizen_id)
    found = households.membership(db, person.id)
    family, relationship = None, None
    members: tuple[Member, ...] = ()
    if found is not None:
        member, family = found
        relationship = member.relationship
        members = tuple(Member(c.id, c.full_name, m.relationship, c.id == person.id)
                        for m, c in households.members(db, family.id))
    return Record(person, family, relationship, members,
                  lifecycle.get_card(db, principal.card.card_serial))


def patients(record: Record) -> tuple[Member, ...]:
    """Whom a clinic visit can be for: the holder, then their household (a child has no
    card of their own)."""
    holder = Member(record.citizen.id, record.citizen.full_name,
                    record.relationship or "head", True)
    others = tuple(m for m in record.members if not m.is_holder)
    return (holder, *others)

"""Households from another registry, into ours: `satukartu registry pull` and the
notifications that follow it.

A peer's Group (a family card with its members) or Person becomes our households and
citizens through the registry's own service functions (`backend.registry.service`,
`households`), so every write keeps its history and audit record and a new person is
screened for duplicates (`dedup.review`, as an import). A person is the same person by
national number, exactly: a known number is updated, never registered again; a
record that says nothing new writes nothing, so a second pull imports nothing.

A person on another of our family cards who is listed on the peer's is moved (taken
off ours first); the head of another of our cards is not moved (`PullConflict`):
which card is right is a clerk's question, not an import's. Deceased people stay on
no new card (ours refuse them). What the peer does not send (a photo, school and
health facts, a language when it sends none) is left as we have it.

A peer speaks only for the region we pulled or subscribed to (`OutsideRegion`): a
record whose card or person is outside it, or that would update, bury or move off a
card one of our people or cards outside it, is refused, and with it the whole page or
notification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.dci import mapping
from backend.dci.client import PeerClient
from backend.dci.mapping import MappingError
from backend.dci.models import DciPullSubscription
from backend.registry import households, national_ids, service
from backend.registry.dedup import review
from backend.registry.history import Actor
from backend.registry.models import Citizen, Household
from backend.registry.names import clean_name

LANGUAGE_BACK = {code: ours for ours, code in mapping.LANGUAGE_639_3.items()}
UPDATABLE = ("full_name", "birth_date", "sex", "address", "region_code", "language")


class PullConflict(ValueError):
    """A record the peer sent cannot be taken without a clerk's decision."""


class OutsideRegion(PullConflict):
    """A record reaches outside the region we pulled or subscribed to."""


def _within(region_code: str | None, allowed: str, what: str) -> None:
    if not region_code or not region_code.startswith(allowed):
        raise OutsideRegion(f"{what} is in region {region_code or '(none)'}, outside "
                            f"{allowed}, the region taken from this peer")


@dataclass
class Counts:
    """What a pull or a notification did to our registry."""

    records: int = 0
    citizens_created: int = 0
    citizens_updated: int = 0
    citizens_unchanged: int = 0
    deaths: int = 0
    households_created: int = 0
    households_updated: int = 0
    duplicates_flagged: int = 0
    created_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {name: value for name, value in vars(self).items() if isinstance(value, int)}

    @property
    def wrote(self) -> bool:
        return any((self.citizens_created, self.citizens_updated, self.deaths,
                    self.households_created, self.households_updated))


def area_criteria(region: str) -> dict[str, Any]:
    """A search for every family card in an area (a region code prefix)."""
    return {"reg_type": mapping.REG_TYPE, "reg_record_type": "Group",
            "query_type": "predicate", "query": [_region(region)]}


def subscription_criteria(region: str) -> dict[str, Any]:
    """Changes to the family cards of that area, notified as Groups."""
    return {"reg_event_type": "REGISTER", "reg_type": mapping.REG_TYPE,
            "filter_type": "predicate", "filter": [_region(region)],
            "notify_record_type": "Group"}


def _region(region: str) -> dict[str, Any]:
    return {"seq_num": 1, "expression1": {"attribute_name": "region_code", "operator": "eq",
                                          "attribute_value": region}}


def pull(sess: Session, client: PeerClient, region: str, actor: Actor, *,
         page_size: int) -> Counts:
    """Import every family card of `region` at the peer, page by page, in the caller's
    transaction (committed by the caller only if all of it worked)."""
    counts = Counts()
    for record in client.search_all(area_criteria(region), page_size):
        import_record(sess, "Group", record, actor, counts, region)
    return counts


def subscribe(sess: Session, client: PeerClient, peer_id: str, region: str
              ) -> DciPullSubscription:
    """Subscribe at the peer to the changes of `region` and keep the subscription (the
    caller commits): only its notifications are taken, only inside the region. Called
    once the import is committed, so a notification never races an uncommitted pull."""
    subscribed = client.subscribe(subscription_criteria(region))
    row = DciPullSubscription(correlation_id=subscribed.correlation_id,
                              peer_id=peer_id, region_prefix=region,
                              transaction_id=subscribed.transaction_id,
                              reference_id=subscribed.reference_id, status="subscribe")
    sess.add(row)
    return row


def import_record(sess: Session, kind: str, record: Any, actor: Actor, counts: Counts,
                  region: str) -> None:
    """One Group or Person from the peer, into our registry, inside `region`."""
    counts.records += 1
    if kind == "Group":
        _group(sess, record, actor, counts, region)
    else:
        _person(sess, mapping.person_fields(record), _language(record), None, actor, counts,
                region)


def _language(record: Any) -> str | None:
    code = record.get("language_code") if isinstance(record, dict) else None
    return LANGUAGE_BACK.get(code, code) if isinstance(code, str) and code else None


def _group(sess: Session, record: Any, actor: Actor, counts: Counts, allowed: str) -> None:
    fields = mapping.group_fields(record)
    place = record.get("place") if isinstance(record.get("place"), dict) else {}
    region = str(place.get("address") or "") or None
    if region is not None:
        _within(region, allowed, f"family card {fields['family_card_number']}")
    listed: list[tuple[Citizen, str]] = []
    for (relationship, person_fields), shown in zip(fields["members"], _head_first(record),
                                                    strict=True):
        listed.append((_person(sess, person_fields, _language(shown), region, actor, counts,
                               allowed), relationship))
    _household(sess, fields["family_card_number"], fields["welfare_decile"], region, listed,
               actor, counts, allowed)


def _head_first(record: dict[str, Any]) -> list[Any]:
    """The members' `demographic_info`, in `group_fields`' order (the head first)."""
    members = [m for m in record["member_list"] if isinstance(m, dict)]
    members.sort(key=lambda m: str(m.get("relationship_head") or "").lower() != "head")
    return [m.get("demographic_info") for m in members]


def _person(sess: Session, fields: dict[str, Any], language: str | None,
            region: str | None, actor: Actor, counts: Counts, allowed: str) -> Citizen:
    number = national_ids.normalize(fields["national_number"])
    died_on: dt.date | None = fields.pop("died_on", None)
    if language:
        fields["language"] = language
    fields["region_code"] = fields.get("region_code") or region
    if not fields["region_code"]:
        raise MappingError(f"person {number}: no region code, on the person or the card")
    _within(fields["region_code"], allowed, f"person {number}")
    person = sess.scalar(select(Citizen).where(Citizen.national_number == number))
    if person is not None:  # ours: neither updated, buried nor moved from outside
        _within(person.region_code, allowed, f"our person {number}")
    if person is None:
        person = service.create_citizen(sess, {**fields, "address": fields.get("address", "")},
                                        actor)
        counts.citizens_created += 1
        counts.created_ids.append(person.id)
        counts.duplicates_flagged += len(review.check_citizen(sess, person, "import"))
    elif person.died_on is None:
        changed = {name: fields[name] for name in UPDATABLE if name in fields
                   and _differs(name, getattr(person, name), fields[name])}
        if changed:
            service.update_citizen(sess, person, changed, actor)
            counts.citizens_updated += 1
        elif died_on is None:
            counts.citizens_unchanged += 1
    else:
        counts.citizens_unchanged += 1
    if died_on is not None and person.died_on is None:
        service.record_death(sess, person, died_on, actor=actor)
        counts.deaths += 1
    return person


def _differs(name: str, ours: Any, theirs: Any) -> bool:
    if name == "full_name":
        return bool(ours != clean_name(theirs))
    return bool(ours != theirs)


def _household(sess: Session, number: str, decile: int | None, region: str | None,
               listed: list[tuple[Citizen, str]], actor: Actor, counts: Counts,
               allowed: str) -> None:
    living = [(p, rel) for p, rel in listed if p.died_on is None or rel == "head"]
    head = next(p for p, rel in listed if rel == "head")
    family = sess.scalar(select(Household).where(Household.family_card_number == number))
    if family is not None:
        _within(family.region_code, allowed, f"our family card {number}")
    for person, _rel in living:
        _free(sess, person, family, actor, allowed)
    if family is None:
        households.create_household(sess, {
            "family_card_number": number, "head_citizen_id": head.id,
            "region_code": region or head.region_code, "welfare_decile": decile},
            [(p.id, rel) for p, rel in living], actor)
        counts.households_created += 1
        return
    wrote = False
    current = {m.citizen_id: m.relationship for m, _c in households.members(sess, family.id)}
    for person, rel in living:
        if person.id not in current:
            households.add_member(sess, family, person.id,
                                  "other" if rel == "head" else rel, actor)
            wrote = True
    changes: dict[str, Any] = {}
    if family.head_citizen_id != head.id:
        changes["head_citizen_id"] = head.id
    if decile is not None and family.welfare_decile != decile:
        changes["welfare_decile"] = decile
    if region and family.region_code != region:
        changes["region_code"] = region
    if changes:
        old_head = family.head_citizen_id
        stays = dict((p.id, rel) for p, rel in listed).get(old_head, "other")
        households.update_household(sess, family, changes, stays, actor)
        wrote = True
    kept = {p.id for p, _rel in living}
    for citizen_id in current:
        if citizen_id not in kept and citizen_id != family.head_citizen_id:
            households.remove_member(sess, family, citizen_id, actor)
            wrote = True
    counts.households_updated += wrote


def _free(sess: Session, person: Citizen, family: Household | None, actor: Actor,
          allowed: str) -> None:
    """Take the person off another of our cards before they join this one."""
    found = households.membership(sess, person.id)
    if found is None or (family is not None and found[1].id == family.id):
        return
    other = found[1]
    _within(other.region_code, allowed, f"our family card {other.family_card_number}")
    if other.head_citizen_id == person.id:
        raise PullConflict(f"{person.national_number} heads our family card "
                           f"{other.family_card_number}, and the peer lists them on another")
    households.remove_member(sess, other, person.id, actor)


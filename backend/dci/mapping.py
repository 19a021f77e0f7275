"""Our registry's people and family cards as the standard's Person, Member and Group.

Pure functions over plain values (no session): `person`, `member` and `group` build
the records a search answers and a notification carries; `person_fields` and
`group_fields` read them back into the registry's fields, for the `registry pull`
client that will import households from a peer. MAPPING.md is the table, with what
is left out and why.

What a peer receives is limited by its scope (`Scope`): `dci.person` is a person's
identity (identifier, name, sex, birth and death dates); `dci.household` adds the
address and region, the family card with its members, and the welfare decile. Each
builder also says which of our fields it showed, for the read's audit record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.dci.envelope import timestamp

PERSON_SCOPE = "dci.person"
HOUSEHOLD_SCOPE = "dci.household"
SCOPES = (PERSON_SCOPE, HOUSEHOLD_SCOPE)
REG_TYPE = "ns:org:RegistryType:Social"
NATIONAL_ID = "NationalID"  # our NIK (Nomor Induk Kependudukan)
FAMILY_CARD = "FamilyCard"  # our KK number (Kartu Keluarga)
# Other names peers use for the same identifiers, as a query's `type`.
ID_TYPES = {"nationalid": NATIONAL_ID, "nik": NATIONAL_ID, "uin": NATIONAL_ID,
            "familycard": FAMILY_CARD, "kk": FAMILY_CARD, "householdid": FAMILY_CARD}
SEX = {"F": "female", "M": "male"}
SEX_BACK = {"female": "F", "f": "F", "male": "M", "m": "M"}
# Our relationship to the head -> the standard's RelationshipType, and back.
RELATIONSHIP = {"head": "head", "spouse": "spouse", "child": "child", "parent": "parent",
                "other": "other"}
LANGUAGE_639_3 = {"id": "ind", "en": "eng", "th": "tha", "vi": "vie", "jv": "jav",
                  "su": "sun"}


class MappingError(ValueError):
    """A record from a peer that cannot become one of ours; the message names the field."""


@dataclass(frozen=True)
class Scope:
    """What a peer may receive."""

    names: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Scope:
        return cls(frozenset(text.split()) & frozenset(SCOPES))

    @property
    def household(self) -> bool:
        return HOUSEHOLD_SCOPE in self.names


@dataclass(frozen=True)
class PersonIn:
    """One of our people, as the mapping needs it (a Citizen row fits)."""

    national_number: str
    full_name: str
    birth_date: dt.date
    sex: str
    address: str = ""
    region_code: str = ""
    language: str = "id"
    died_on: dt.date | None = None
    created_at: dt.datetime | None = None


@dataclass
class Shown:
    """Which of our fields went out, per citizen id: the read's audit record."""

    fields: dict[int, set[str]] = field(default_factory=dict)

    def add(self, citizen_id: int, names: Iterable[str]) -> None:
        self.fields.setdefault(citizen_id, set()).update(names)


def identifier(kind: str, value: str) -> dict[str, str]:
    return {"@type": "Identifier", "identifier_type": kind, "identifier_value": value}


def _time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)


def person(p: Any, scope: Scope) -> tuple[dict[str, Any], list[str]]:
    """An `SRPerson` and the names of our fields it shows."""
    record: dict[str, Any] = {
        "@type": "SRPerson",
        "identifier": [identifier(NATIONAL_ID, p.national_number)],
        "name": {"@type": "Name", "given_name": p.full_name},
        "sex": SEX.get(p.sex, "unknown"),
        "birth_date": p.birth_date.isoformat(),
    }
    shown = ["national_number", "full_name", "sex", "birth_date"]
    if p.died_on is not None:
        record["death_date"] = p.died_on.isoformat()
        shown.append("died_on")
    if scope.household:
        record["address"] = {"@type": "Address", "street_address": p.address,
                             "region_code": p.region_code}
        record["language_code"] = LANGUAGE_639_3.get(p.language, p.language)
        shown += ["address", "region_code", "language"]
    registered = _time(getattr(p, "created_at", None))
    if registered:
        record["registration_date"] = registered
    return record, shown


def member(p: Any, relationship: str, scope: Scope) -> tuple[dict[str, Any], list[str]]:
    """A `Member` of a family card: the person and their place on it."""
    demographic, shown = person(p, scope)
    record = {"@type": "Member",
              "member_identifier": [identifier(NATIONAL_ID, p.national_number)],
              "demographic_info": demographic,
              "relationship_head": RELATIONSHIP.get(relationship, "other")}
    registered = demographic.get("registration_date")
    if registered:
        record["registration_date"] = registered
    return record, shown + ["household"]


def group(family: Any, members: Sequence[tuple[str, Any]], scope: Scope, shown: Shown
          ) -> dict[str, Any]:
    """A `Group` (the family card) with its head and members, `(relationship, person)`
    each, head first; records in `shown` what it showed of each member."""
    listed = []
    head = None
    for relationship, p in members:
        record, names = member(p, relationship, scope)
        shown.add(p.id, names + ["welfare_decile"])
        listed.append(record)
        if relationship == "head":
            head = record
    out: dict[str, Any] = {
        "@type": "Group",
        "group_identifier": [identifier(FAMILY_CARD, family.family_card_number)],
        "group_type": "household",
        "group_size": len(listed),
        "place": {"@type": "Place", "address": family.region_code},
        "member_list": listed,
    }
    if head is not None:
        out["group_head_info"] = head
    if family.welfare_decile is not None:
        out["poverty_score"] = family.welfare_decile
        out["poverty_score_type"] = "welfare_decile"
    for name, moment in (("registration_date", family.created_at),
                         ("last_updated", family.updated_at)):
        text = _time(moment)
        if text:
            out[name] = text
    return out


# --- back: a peer's records as our fields (for the registry pull client) -------------

def _identifier_of(identifiers: Any, kind: str) -> str:
    for item in identifiers if isinstance(identifiers, list) else []:
        if isinstance(item, dict) and ID_TYPES.get(
                str(item.get("identifier_type", "")).lower()) == kind:
            value = item.get("identifier_value")
            if isinstance(value, str | int) and str(value).strip():
                return str(value).strip()
    raise MappingError(f"no {kind} identifier")


def _name(name: Any) -> str:
    if isinstance(name, str):
        return name.strip()
    if not isinstance(name, dict):
        raise MappingError("name is missing")
    parts = [name.get(k) for k in ("given_name", "second_name", "surname")]
    joined = " ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())
    if not joined:
        raise MappingError("name has no given name or surname")
    return joined


def _date(value: Any, what: str) -> dt.date:
    if not isinstance(value, str):
        raise MappingError(f"{what} is missing")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise MappingError(f"{what} is not an ISO date") from exc


def person_fields(record: Any) -> dict[str, Any]:
    """Our citizen fields from an `SRPerson` (or a Member's `demographic_info`)."""
    if not isinstance(record, dict):
        raise MappingError("a person is a JSON object")
    sex = SEX_BACK.get(str(record.get("sex", "")).lower())
    if sex is None:
        raise MappingError("sex must be female or male")
    fields: dict[str, Any] = {
        "national_number": _identifier_of(record.get("identifier"), NATIONAL_ID),
        "full_name": _name(record.get("name")),
        "birth_date": _date(record.get("birth_date"), "birth_date"),
        "sex": sex,
    }
    address = record.get("address")
    if isinstance(address, dict):
        fields["address"] = str(address.get("street_address") or "")
        if address.get("region_code"):
            fields["region_code"] = str(address["region_code"])
    if record.get("death_date"):
        fields["died_on"] = _date(record["death_date"], "death_date")
    return fields


def group_fields(record: Any) -> dict[str, Any]:
    """A family card from a `Group`: its number, decile, and members as
    `(relationship, person fields)`, head first."""
    if not isinstance(record, dict):
        raise MappingError("a group is a JSON object")
    members = []
    for item in record.get("member_list") or []:
        if not isinstance(item, dict):
            raise MappingError("member_list holds Member objects")
        relationship = str(item.get("relationship_head") or "other").lower()
        members.append((relationship if relationship in RELATIONSHIP else "other",
                        person_fields(item.get("demographic_info"))))
    if [r for r, _ in members].count("head") != 1:
        raise MappingError("a family card has exactly one head in member_list")
    members.sort(key=lambda pair: pair[0] != "head")
    decile = record.get("poverty_score")
    if decile is not None and (type(decile) is not int or not 1 <= decile <= 10
                               or record.get("poverty_score_type") != "welfare_decile"):
        decile = None  # another registry's score is not our welfare decile
    return {"family_card_number": _identifier_of(record.get("group_identifier"), FAMILY_CARD),
            "welfare_decile": decile, "members": members}

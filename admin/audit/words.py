"""The audit log in an auditor's words: who acted, what came of it, what the verifier found.

The log stores codes (`actor_kind`, a Reason value as the outcome, a finding's kind);
the page says them in the auditor's language and keeps the code beside the words (a
refusal's reason, which an auditor searches for) or in a `data-` attribute (what the
verifier found), so a script reads the code and a person reads the words.
Times are written in the city's time zone with seconds: in an audit, the order of two
events a few seconds apart matters.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_time, get_timezone_gmt
from babel.numbers import format_decimal
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin.common import i18n

ACTOR_KINDS = {"staff": _l("Staff"), "terminal": _l("Terminal"), "card": _l("Card holder"),
               "system": _l("The city's system"), "anonymous": _l("Not signed in")}
# Findings that name a record's sequence number (the others name a checkpoint's size).
RECORD_FINDINGS = ("edited", "deleted", "swapped", "truncated", "rewritten", "unchained")


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CITY_TIMEZONE"])


def zone_label() -> str:
    """"Asia/Jakarta, GMT+07:00": the zone every time on these pages is written in."""
    now = dt.datetime.now(zone())
    return f"{current_app.config['CITY_TIMEZONE']}, " \
           f"{get_timezone_gmt(now, locale=i18n.language())}"


def local(moment: dt.datetime) -> dt.datetime:
    """A stored time (UTC; SQLite hands it back without its zone) in the city's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone())


def when(moment: dt.datetime) -> str:
    """Date and time to the second, in the city's zone and the page's language."""
    at = local(moment)
    return f"{i18n.date(at, 'medium')}, {format_time(at, 'medium', locale=i18n.language())}"


def utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def number(value: int) -> str:
    return format_decimal(value, locale=i18n.language())


def seconds(value: float) -> str:
    return format_decimal(value, format="#,##0.###", locale=i18n.language())


def actor_kind(kind: str) -> str:
    return str(ACTOR_KINDS.get(kind, kind))


def outcome(value: str) -> str:
    """"Done" for ok, else "Refused" (the page shows the refusal's reason code beside it:
    an auditor needs the exact reason, not a citizen's advice)."""
    return _("Done") if value == "ok" else _("Refused")


def finding(kind: str, position: int, count: int) -> str:
    """What the verifier found, in a sentence that names where."""
    if kind == "edited":
        text = _("Record %(position)s was changed after it was written: it no longer "
                 "matches its hash.", position=position)
    elif kind == "deleted":
        text = _("Records are missing from the log, starting at record %(position)s.",
                 position=position)
    elif kind == "swapped":
        text = _("Record %(position)s and another record were put in each other's place.",
                 position=position)
    elif kind == "truncated":
        text = _("The log ends too early: a signed checkpoint vouches for records from "
                 "%(position)s on, and they are gone.", position=position)
    elif kind == "rewritten":
        text = _("Records from %(position)s on were rewritten with new hashes: a signed "
                 "checkpoint disagrees with them.", position=position)
    elif kind == "fork":
        text = _("Two validly signed checkpoints for %(position)s records disagree about "
                 "the log.", position=position)
    elif kind == "bad_checkpoint":
        text = _("A checkpoint for %(position)s records is damaged, or its signature does "
                 "not verify.", position=position)
    elif kind == "unchained":
        text = _("Records written more than 5 minutes ago are still not in the chain "
                 "(they would start at record %(position)s): the part of the hub that "
                 "chains them is failing.", position=position)
    else:
        text = _("The verifier found a problem at position %(position)s.", position=position)
    if count > 1:
        text += " " + _("Found in %(count)s places.", count=count)
    return text

"""The screens' languages: which one a page speaks, and how it writes money and dates.

A citizen's screen speaks the citizen's registry language once their card is read,
and the citizen can switch it on screen; before a card (the idle screen) and on staff
screens it follows the choice made on screen, then the browser, then Indonesian.
Catalogues live in `admin/translations` (msgids are English, so `en` needs no
catalogue of its own beyond an empty one).

Babel formats Thai dates in the Gregorian calendar, while Thai citizens read years in
the Buddhist era (B.E. = C.E. + 543): the date filters write the Thai year themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import overload
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale

LANGUAGES = ("id", "en", "th", "vi")
DEFAULT_LANGUAGE = "id"
# Each language's name in itself, for the switcher.
NATIVE_NAMES = {"id": "Bahasa Indonesia", "en": "English", "th": "ไทย", "vi": "Tiếng Việt"}
LANGUAGE_COOKIE = "sk_lang"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
BUDDHIST_ERA_OFFSET = 543


def choose(value: str | None) -> str | None:
    """A language code we speak, from what a person, a cookie or the registry says."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def select_locale() -> str:
    """Flask-Babel's selector: the page's language, decided once per request."""
    chosen = g.get("screen_language")
    if chosen:
        return chosen
    return (choose(request.args.get("lang")) or choose(request.cookies.get(LANGUAGE_COOKIE))
            or request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE)


def language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def money(amount: int | None, currency: str | None = None) -> str:
    """The city's currency in the reader's locale: "Rp200.000", "฿200,000.00", "200.000 ₫"."""
    if amount is None:
        return "–"
    return format_currency(amount, currency or current_app.config["CURRENCY"],
                           locale=language())


def _affixes() -> tuple[str, str]:
    """What stands before and after the digits of an amount, for a keypad's display."""
    sample = format_currency(1, current_app.config["CURRENCY"], locale=language())
    before, _, after = sample.partition("1")
    return before, re.sub(r"^[.,]0+", "", after)


def currency_prefix() -> str:
    return _affixes()[0]


def currency_suffix() -> str:
    return _affixes()[1]


@overload
def _local(moment: dt.datetime | str) -> dt.datetime: ...


@overload
def _local(moment: dt.date) -> dt.date: ...


def _local(moment: dt.datetime | dt.date | str) -> dt.datetime | dt.date:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:  # the hub stores UTC; SQLite hands it back naive
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(ZoneInfo(current_app.config["CITY_TIMEZONE"]))
    return moment


def date(moment: dt.datetime | dt.date | str, width: str = "long") -> str:
    """A date in the city's time zone; Thai years in the Buddhist era."""
    local = _local(moment)
    lang = language()
    if lang == "th":
        month = "MMMM" if width == "long" else "MMM"
        return f"{format_date(local, f'd {month}', locale='th')} " \
               f"พ.ศ. {local.year + BUDDHIST_ERA_OFFSET}"
    return format_date(local, width, locale=lang)


def time(moment: dt.datetime | str) -> str:
    return format_time(_local(moment), "short", locale=language())


def datetime(moment: dt.datetime | str) -> str:
    return f"{date(moment, 'medium')}, {time(moment)}"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DOMAIN", "messages")
    if "babel" not in app.extensions:
        Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(money=money, date=date, time=time,
                                 datetime=datetime)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, NATIVE_NAMES=NATIVE_NAMES,
                                 current_language=language, currency_prefix=currency_prefix,
                                 currency_suffix=currency_suffix)

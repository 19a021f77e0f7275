"""Purse rules as programme data: read from services files, checked once, at start.

A purse's rules (whose it is, cashable, carry-over and expiry, what it buys, daily and
monthly caps, which agent categories may redeem it) are the city's policy, so they are
data in TOML, not code in each module: a city changes a cap by editing its services
file and restarting, and a reviewer reads every programme's rules in one place. The
ledger enforces them (`backend.services.context`), the same way for every programme.

Three layers, each laid over the one before key by key (per purse), so a city changes
one rule without restating the others:

1. the hub's default, `services/services.toml`, shipped as package data with the
   city's own programmes;
2. a third-party programme's fragment: a `services.toml` in the package that holds
   its module (beside the entry point's target), declaring only that programme. A
   plugin is installed with its rules, as it is with its code, so installing one
   needs no edit of the city's file; a fragment cannot touch another programme's
   purses, so a plugin never loosens the city's rules;
3. the city's `SATUKARTU_SERVICES_FILE` (the file that also holds parameters, one
   `[key]` table per programme), whose `[key.purses.<purse>]` tables come last.

A purse is `[<programme>.purses.<purse>]` with the keys of `PURSE_KEYS`; anything
else (an unknown key, a wrong type, a purse of a programme not installed, no
`holder` once the layers are laid) stops the hub with the file, programme, purse
and key named. A layer cannot remove a key a lower one set (TOML has no null): a
city that wants no cap where the default has one sets a larger cap.
"""

from __future__ import annotations

import importlib.resources
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.config import ConfigError
from backend.services.purses import PurseRule

FILE_NAME = "services.toml"
DEFAULT_PACKAGE = "services"  # the city's own programmes; the file is package data
PURSES = "purses"

# key -> (what it must be, checker)
_BOOL = ("true or false", lambda v: isinstance(v, bool))
_COUNT = ("a whole number of 0 or more",
          lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0)
_AMOUNT = ("a whole number above 0 (the programme's smallest unit)",
           lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0)
_NAMES = ("a non-empty list of non-empty strings",
          lambda v: isinstance(v, list) and bool(v)
          and all(isinstance(x, str) and x.strip() for x in v))
PURSE_KEYS: dict[str, tuple[str, Any]] = {
    "holder": ('"citizen" or "household"', lambda v: v in ("citizen", "household")),
    "cashable": _BOOL,
    "carry_over": _BOOL,
    "categories": _NAMES,
    "expires_after_days": _COUNT,
    "daily_cap": _AMOUNT,
    "monthly_cap": _AMOUNT,
    "agent_categories": _NAMES,
}

Tables = dict[str, dict[str, dict[str, Any]]]  # programme -> purse -> key -> value


@dataclass(frozen=True)
class Source:
    """One services file: where it is (for error messages) and what it may declare."""

    label: str
    text: str
    only: str | None = None  # a plugin's fragment declares only its own programme
    parameters: bool = False  # only the city's file also holds parameters


def default_source() -> Source:
    """The hub's default file, read from the installed `services` package."""
    path = importlib.resources.files(DEFAULT_PACKAGE) / FILE_NAME
    try:
        return Source(f"{DEFAULT_PACKAGE}/{FILE_NAME}", path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{DEFAULT_PACKAGE}/{FILE_NAME}: cannot be read: {exc}") from exc


def fragment_source(key: str, module_name: str) -> Source | None:
    """The `services.toml` beside a plugin's module (in the package holding `module_name`,
    the entry point's module), or None when it ships none."""
    if module_name == DEFAULT_PACKAGE or module_name.startswith(DEFAULT_PACKAGE + "."):
        return None  # the city's own programmes are in the default file
    loaded = sys.modules.get(module_name)
    package = getattr(loaded, "__package__", None) if loaded else None
    if not package:
        return None
    try:
        path = importlib.resources.files(package) / FILE_NAME
        if not path.is_file():
            return None
        return Source(f"{package}/{FILE_NAME}", path.read_text(encoding="utf-8"), only=key)
    except (ModuleNotFoundError, OSError, TypeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{package}/{FILE_NAME}: cannot be read: {exc}") from exc


def city_source(path: str) -> Source:
    where = f"SATUKARTU_SERVICES_FILE {path}"
    try:
        return Source(where, Path(path).read_text(encoding="utf-8"), parameters=True)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot be read: {exc}") from exc


def purse_tables(source: Source, installed: Iterable[str]) -> Tables:
    """The purse tables of one file, each key checked; ConfigError names the file,
    programme, purse and key of the first problems found."""
    try:
        document = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source.label}: not valid TOML: {exc}") from exc
    known = set(installed)
    problems: list[str] = []
    found: Tables = {}
    for programme, table in document.items():
        if not isinstance(table, dict):
            problems.append(f"{programme}: must be a [{programme}] table")
            continue
        if not source.parameters:
            problems += [f"{programme}: unknown key {key!r} (this file holds only "
                         f"[{programme}.{PURSES}.<purse>] tables; parameters are the "
                         "city's, in SATUKARTU_SERVICES_FILE)"
                         for key in table if key != PURSES]
        purses = table.get(PURSES)
        if purses is None:
            continue  # no purse, or (the city's file) parameters only
        if source.only is not None and programme != source.only:
            problems.append(f"{programme}: a plugin's file declares only its own "
                            f"programme ({source.only})")
            continue
        if programme not in known:
            problems.append(f"{programme}: purses for a programme that is not installed")
            continue
        if not isinstance(purses, dict):
            problems.append(f"{programme}.{PURSES}: must be [{programme}.{PURSES}.<purse>] "
                            "tables")
            continue
        for purse, keys in purses.items():
            where = f"{programme}.{PURSES}.{purse}"
            if not isinstance(keys, dict):
                problems.append(f"{where}: must be a [{where}] table")
                continue
            for key, value in keys.items():
                problem = _key_problem(where, key, value)
                if problem:
                    problems.append(problem)
            found.setdefault(programme, {})[purse] = dict(keys)
    if problems:
        raise ConfigError(f"{source.label}: " + "; ".join(problems))
    return found


def _key_problem(where: str, key: str, value: Any) -> str:
    if key not in PURSE_KEYS:
        return f"{where}: unknown key {key!r} (known: {', '.join(PURSE_KEYS)})"
    expected, check = PURSE_KEYS[key]
    return "" if check(value) else f"{where}.{key}: must be {expected}, not {value!r}"


def lay(layers: Iterable[Tables]) -> Tables:
    """Each layer over the ones before, key by key within a purse."""
    merged: Tables = {}
    for layer in layers:
        for programme, purses in layer.items():
            for purse, keys in purses.items():
                merged.setdefault(programme, {}).setdefault(purse, {}).update(keys)
    return merged


def rules_from(tables: Tables, labels: str) -> dict[str, dict[str, PurseRule]]:
    """`PurseRule`s by programme and purse; a purse with no `holder` in any layer stops
    the hub (whose account a purse is decides every posting, so it is never guessed)."""
    problems = [f"{programme}.{PURSES}.{purse}: no holder (\"citizen\" or \"household\")"
                for programme, purses in tables.items()
                for purse, keys in purses.items() if "holder" not in keys]
    if problems:
        raise ConfigError(f"{labels}: " + "; ".join(problems))
    return {programme: {purse: _rule(keys) for purse, keys in purses.items()}
            for programme, purses in tables.items()}


def _rule(keys: Mapping[str, Any]) -> PurseRule:
    def names(key: str) -> frozenset[str] | None:
        return frozenset(keys[key]) if key in keys else None

    return PurseRule(holder=keys["holder"], cashable=keys.get("cashable", False),
                     carry_over=keys.get("carry_over", True),
                     categories=names("categories"),
                     expires_after_days=keys.get("expires_after_days"),
                     daily_cap=keys.get("daily_cap"), monthly_cap=keys.get("monthly_cap"),
                     agent_categories=names("agent_categories"))


def load_rules(installed: Mapping[str, str], city_file: str | None
               ) -> dict[str, dict[str, PurseRule]]:
    """Every installed programme's purse rules: the default file, plugins' fragments,
    then the city's file. `installed` maps each programme's key to its entry point's
    module (loaded already, so its package can be found)."""
    sources = [default_source()]
    sources += [found for key, module in sorted(installed.items())
                if (found := fragment_source(key, module)) is not None]
    if city_file:
        sources.append(city_source(city_file))
    tables = [purse_tables(source, installed) for source in sources]
    return rules_from(lay(tables), ", ".join(source.label for source in sources))

"""The catalogue of programme modules: found, checked and configured once, at start.

The loader finds modules through the `satukartu.services` entry point group, checks
their names and declarations, keeps those enabled by `SATUKARTU_SERVICES` and gives
each its parameters (`SATUKARTU_SERVICES_FILE`, then `SATUKARTU_SERVICE_<KEY>_<PARAM>`)
and its purses' rules (`backend.services.purse_rules`: the default file, a plugin's
own, then the city's).
A module that is misnamed or misdeclared stops the hub at start, never at a citizen's
request. What admins change while the hub runs (enabled, parameters) is kept in the
database and laid over this configuration by `backend.programmes.live`: `modules()`
is always the modules as they are now, in every process of the hub.
"""

from __future__ import annotations

import copy
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from pydantic import BaseModel

from backend.auth.principal import ASSURANCE_ORDER, STAFF_ROLES, TERMINAL_KINDS
from backend.config import ConfigError
from backend.reasons import Reason
from backend.services import purse_rules
from backend.services.interface import ENTRY_POINT_GROUP, KEY_PATTERN, ServiceModule
from backend.services.purses import PurseRule

if TYPE_CHECKING:
    from backend.programmes.live import LiveProgrammes

log = logging.getLogger(__name__)
EXTENSION = "satukartu.services"
ENV_PREFIX = "SATUKARTU_SERVICE_"


def discover() -> dict[str, EntryPoint]:
    """Installed modules by entry point name; a bad or doubled name stops the hub."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if not KEY_PATTERN.match(point.name):
            raise ConfigError(f"service entry point {point.name!r}: a key is 2-40 lowercase "
                              "letters, digits or _, starting with a letter")
        if point.name in found and found[point.name].value != point.value:
            raise ConfigError(f"two service modules named {point.name!r}: "
                              f"{found[point.name].value} and {point.value}")
        found[point.name] = point
    return found


@dataclass
class Catalogue:
    """Every installed module as the city's configuration makes it, read once at start.

    The configuration is never read again (a changed file or variable needs a restart,
    as before), so every process of one hub starts from the same catalogue; admins'
    changes are laid over it from the database (`backend.programmes.live`).
    `base` holds each module configured with the city's parameters; `problems` the
    installed modules that could not be (not enabled by SATUKARTU_SERVICES, so they
    did not stop the hub, but they cannot be enabled at run time either).
    """

    exposed: dict[str, Any]
    enabled: tuple[str, ...]
    params: dict[str, dict[str, str]]
    base: dict[str, ServiceModule]
    problems: dict[str, str]
    purse_rules: dict[str, dict[str, PurseRule]] = field(default_factory=dict)

    @property
    def installed(self) -> tuple[str, ...]:
        return tuple(sorted({*self.base, *self.problems}))

    def build(self, key: str, overrides: Mapping[str, str]) -> ServiceModule:
        """A fresh copy of `key` configured with the city's parameters, then `overrides`
        (ValueError names a parameter the module refuses)."""
        if not overrides:
            return self.base[key]
        module = _instantiate(key, self.exposed[key], self.purse_rules.get(key, {}))
        module.configure(self.params.get(key, {}))
        module.configure(overrides)
        return module

    def enabled_modules(self) -> dict[str, ServiceModule]:
        return {key: self.base[key] for key in self.enabled}


def load_catalogue(config: Mapping[str, Any], environ: Mapping[str, str] | None = None
                   ) -> Catalogue:
    """Load and configure every installed module. A module SATUKARTU_SERVICES enables
    that cannot be loaded or configured stops the hub (ConfigError); any other is
    set aside with its problem."""
    installed = discover()
    enabled = tuple(config.get("SERVICES") or sorted(installed))
    missing = sorted(set(enabled) - set(installed))
    if missing:
        raise ConfigError(f"SATUKARTU_SERVICES names modules not installed: {missing}")
    params = _parameters(tuple(sorted(installed)), config,
                         os.environ if environ is None else environ)
    exposed: dict[str, Any] = {}
    base: dict[str, ServiceModule] = {}
    problems: dict[str, str] = {}
    order = (*enabled, *sorted(set(installed) - set(enabled)))
    for key in order:
        try:
            exposed[key] = installed[key].load()
        except Exception as exc:  # a module nobody enabled must not stop the hub
            if key in enabled:
                raise
            problems[key] = f"{key}: cannot be loaded: {exc!r}"
    rules = purse_rules.load_rules({key: point.module for key, point in installed.items()},
                                   config.get("SERVICES_FILE") or None)
    for key in (k for k in order if k in exposed):
        try:
            module = _instantiate(key, exposed[key], rules.get(key, {}))
            module.configure(params.get(key, {}))
        except ConfigError as exc:  # misnamed or misdeclared
            if key in enabled:
                raise
            problems[key] = str(exc)
        except ValueError as exc:  # a parameter the module refuses
            if key in enabled:
                raise ConfigError(str(exc)) from exc
            problems[key] = str(exc)
        except Exception as exc:  # a module nobody enabled must not stop the hub
            if key in enabled:
                raise
            problems[key] = f"{key}: cannot be loaded: {exc!r}"
        else:
            base[key] = module
    for key, problem in problems.items():
        log.warning("service %s cannot be enabled: %s", key, problem)
    return Catalogue(exposed, enabled, params, base, problems, rules)


def load_modules(config: Mapping[str, Any], environ: Mapping[str, str] | None = None
                 ) -> dict[str, ServiceModule]:
    """The enabled modules, each a configured copy of what its entry point exposes."""
    return load_catalogue(config, environ).enabled_modules()


def _instantiate(key: str, exposed: Any, purses: Mapping[str, PurseRule]) -> ServiceModule:
    """A copy of what the entry point exposes, with its purse rules from the services
    files attached (a module declaring purses in Python is refused: the rules are the
    city's data, see `backend.services.purse_rules`)."""
    if isinstance(exposed, type) and issubclass(exposed, ServiceModule):
        exposed = exposed()
    module = copy.copy(exposed)
    if not isinstance(module, ServiceModule):
        raise ConfigError(f"service {key!r}: the entry point must expose a ServiceModule")
    if module.key != key:
        raise ConfigError(f"service {key!r}: the module calls itself {module.key!r}")
    if module.purses:
        raise ConfigError(f"service {key!r}: declares purses in Python; purse rules are "
                          f"data: declare them as [{key}.purses.<purse>] tables in the "
                          "module's package's services.toml or the city's services file")
    module.purses = dict(purses)
    module.config = {name: p.default for name, p in module.params.items()}
    _check_declarations(module)
    return module


def _check_declarations(module: ServiceModule) -> None:
    problems = []
    for name, action in module.actions.items():
        where = f"{module.key}.{name}"
        if not KEY_PATTERN.match(name):
            problems.append(f"{where}: bad action name")
        if action.assurance not in ASSURANCE_ORDER:
            problems.append(f"{where}: assurance must be tap or pin")
        if set(action.terminal_kinds) - set(TERMINAL_KINDS):
            problems.append(f"{where}: unknown terminal kinds")
        if set(action.staff_roles) - set(STAFF_ROLES):
            problems.append(f"{where}: unknown staff roles")
        if not (isinstance(action.input, type) and issubclass(action.input, BaseModel)):
            problems.append(f"{where}: input must be a pydantic model")
        if not action.purpose:
            problems.append(f"{where}: an audit purpose is required")
    problems += _reason_problems(module)
    for allocation in module.allocations:
        if allocation.purse not in module.purses:
            problems.append(f"{module.key}: allocation to undeclared purse {allocation.purse}"
                            f" (no [{module.key}.purses.{allocation.purse}] in the services "
                            "files)")
    if problems:
        raise ConfigError("; ".join(problems))


def _reason_problems(module: ServiceModule) -> list[str]:
    """A module's own reasons must be codes no hub reason has, so a client reading
    `error.reason` never mistakes one for the other."""
    reasons = module.reasons
    if reasons is None:
        return []
    if not (isinstance(reasons, type) and issubclass(reasons, StrEnum)):
        return [f"{module.key}: reasons must be a StrEnum"]
    hub = {reason.value for reason in Reason}
    return [f"{module.key}: reason {value!r} is "
            + ("the hub's own" if value in hub else "not a lowercase code")
            for value in (r.value for r in reasons)
            if value in hub or not KEY_PATTERN.match(value)]


def _parameters(enabled: tuple[str, ...], config: Mapping[str, Any],
                environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    params: dict[str, dict[str, str]] = {key: {} for key in enabled}
    if config.get("SERVICES_FILE"):
        for key, values in _services_file(config["SERVICES_FILE"]).items():
            if key in params:  # its purses are rules, not parameters (`purse_rules`)
                params[key].update({k: _text(v) for k, v in values.items()
                                    if k != purse_rules.PURSES})
    longest_first = sorted(enabled, key=len, reverse=True)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        owner = next((k for k in longest_first if rest.startswith(k + "_")), None)
        if owner is not None:
            params[owner][rest[len(owner) + 1:]] = value
    for key, values in (config.get("SERVICE_PARAMS") or {}).items():
        if key in params:
            params[key].update({k: _text(v) for k, v in values.items()})
    return params


def _services_file(path: str) -> dict[str, dict[str, Any]]:
    """The file's `[key]` tables; a file that cannot be read or is not such tables stops
    the hub with the variable's name."""
    where = "SATUKARTU_SERVICES_FILE"
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: {path}: {exc}") from exc
    bad = sorted(key for key, values in table.items() if not isinstance(values, dict))
    if bad:
        raise ConfigError(f"{where}: {path}: {', '.join(bad)} must be [tables] of parameters")
    return table


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def init_app(app: Flask) -> None:
    """Load the catalogue now (a bad configuration stops the hub here); the database's
    overrides are read at the first use, so `db upgrade` runs on an empty database."""
    from backend.programmes.live import LiveProgrammes

    if EXTENSION not in app.extensions:
        refresh_ms = app.config.get("PROGRAMME_REFRESH_MS", 1000)
        app.extensions[EXTENSION] = LiveProgrammes(load_catalogue(app.config),
                                                   refresh_ms / 1000)


def live() -> LiveProgrammes:
    """This hub's programmes: the catalogue and what admins changed."""
    return current_app.extensions[EXTENSION]


def modules() -> dict[str, ServiceModule]:
    """The enabled modules as they are now (admins' changes included): the same set for
    the whole of one request, at most `SATUKARTU_PROGRAMME_REFRESH_MS` old."""
    return live().modules()

"""Configuration, from environment variables only.

Every setting is declared once in SETTINGS with its default and meaning; the README's
table is generated from it (`satukartu config show --markdown`), so the documentation
cannot drift from the code.

A secret setting may instead name a file holding it, `SATUKARTU_<NAME>_FILE` (the
file's first line), as container secrets are mounted; and the database's and broker's
passwords may come alone from `SATUKARTU_DATABASE_PASSWORD_FILE` and
`SATUKARTU_BROKER_PASSWORD_FILE`, put into the URL's user part, so the URL stays plain
configuration and each password lives in the one file its server reads too.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    doc: str
    parse: Callable[[str], Any] = str
    secret: bool = False  # may come from a file (SATUKARTU_<NAME>_FILE); never shown


class ConfigError(ValueError):
    """A setting whose value cannot be used; the message names the variable."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _int(value: str) -> int:
    return int(value.strip())


def _list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _positive(value: str) -> int:
    number = _int(value)
    if number < 1:
        raise ValueError(f"must be at least 1, not {number}")
    return number


def _count(value: str) -> int:
    number = _int(value)
    if number < 0:
        raise ValueError(f"must be 0 or more, not {number}")
    return number


def _at_most(limit: int) -> Callable[[str], int]:
    """A positive whole number no larger than `limit` (a day count that fits a date)."""
    def parse(value: str) -> int:
        number = _positive(value)
        if number > limit:
            raise ValueError(f"must be at most {limit}, not {number}")
        return number
    return parse


def _sender_id(value: str) -> str:
    """An SPDCI sender id, as a peer's is checked (backend/dci/peers.py): it is the first
    part of every signature's kidId, so no `|`, no spaces."""
    name = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,98}", name):
        raise ValueError("1-99 letters, digits, '.', '_', ':' or '-', starting with a letter "
                         "or digit")
    return name


def _zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"not an IANA time zone: {value!r} (e.g. Asia/Jakarta)") from None
    return name


def _log_level(value: str) -> str:
    name = value.strip().upper()
    if name not in logging.getLevelNamesMapping():
        raise ValueError(f"not a logging level: {value!r} (DEBUG, INFO, WARNING, ERROR)")
    return name


DATABASE_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg"}


def _database_url(value: str) -> str:
    """A URL the hub can open, checked at start (the URL itself is not repeated: it may
    hold a password)."""
    if not value.strip():
        return ""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        scheme = make_url(value).drivername
    except (ArgumentError, ValueError):
        raise ValueError("not a database URL (sqlite:///path or "
                         "postgresql://user@host/db)") from None
    if scheme not in DATABASE_DRIVERS:
        raise ValueError(f"{scheme!r} is not a database the hub runs on (sqlite, postgresql)")
    return value


def _postgres_url(value: str) -> str:
    """`_database_url`, for PostgreSQL alone."""
    checked = _database_url(value)
    if checked and _database_backend(checked) != "postgresql":
        raise ValueError("not a PostgreSQL URL (postgresql://user@host/db)")
    return checked


def _database_backend(url: str) -> str:
    """`postgresql` or `sqlite`, for a URL `_database_url` accepted."""
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


POOLERS = ("", "transaction")


def _pooler(value: str) -> str:
    mode = value.strip().lower()
    if mode not in POOLERS:
        raise ValueError(f"not a pooling mode: {value!r} (empty or transaction)")
    return mode


def _origin(value: str) -> str:
    """The origin as cards sign it: scheme, host and port, never a path. The reader signs
    its hub URL without a trailing slash, so a hub that kept one would refuse every
    card's signature."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin like https://hub.example.city")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{value!r} has more than scheme, host and port; write "
                         f"{parts.scheme}://{parts.netloc}")
    try:
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError as exc:
        raise ValueError(f"{value!r}: {exc}") from exc
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _currency(value: str) -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError("a three-letter ISO 4217 code, e.g. IDR")
    return code


def _loopback_url(value: str) -> str:
    """The reader bridge listens on the screen's own PC only: loopback, http, no path."""
    parts = urllib.parse.urlsplit(value.strip())
    host = parts.hostname or ""
    if parts.scheme != "http" or host not in ("127.0.0.1", "localhost", "::1") or \
            parts.path not in ("", "/") or parts.query or not parts.port:
        raise ValueError("http://127.0.0.1:PORT (the reader daemon on the screen's own PC)")
    return f"http://{parts.netloc}"


def _optional_loopback_url(value: str) -> str:
    return _loopback_url(value) if value.strip() else ""


LOG_FORMATS = ("text", "json")


def _log_format(value: str) -> str:
    name = value.strip().lower()
    if name not in LOG_FORMATS:
        raise ValueError(f"not a log format: {value!r} (text or json)")
    return name


def _networks(value: str) -> tuple[str, ...]:
    """IP networks, each written as CIDR (a bare address is one host); normalised so that
    `config show` prints what is enforced."""
    import ipaddress

    try:
        return tuple(str(ipaddress.ip_network(part, strict=False)) for part in _list(value))
    except ValueError as exc:
        raise ValueError(f"not a list of networks like 127.0.0.0/8,10.0.0.0/8: {exc}") from None


def _answer_time(value: str) -> int:
    seconds = _positive(value)
    if seconds < 20:
        raise ValueError("at least 20 seconds (WCAG 2.2.1)")
    return seconds


SETTINGS: tuple[Setting, ...] = (
    Setting("INSTANCE_DIR", "instance", "Folder for the embedded database, keys and checkpoints."),
    Setting("DATABASE_URL", "", "Database URL as a user writes it: `sqlite:///path` or "
            "`postgresql://user@host/db`. Empty: an SQLite file in the instance folder.",
            _database_url, secret=True),
    Setting("DATABASE_POOLER", "", "`transaction` when the hub reaches PostgreSQL through a "
            "pooler in transaction mode (PgBouncer): the driver then prepares no statement "
            "on the server, since a transaction's next one may run on another server "
            "connection. Empty: the hub's connections are its own.", _pooler),
    Setting("DATABASE_LISTEN_URL", "", "A direct PostgreSQL URL (not through a transaction "
            "pooler) on which each hub process listens for changes to terminals, so that a "
            "card challenge is answered from the terminal's row it remembers "
            "(backend/identity/terminal_rows.py). Empty: the hub's own URL, or, behind a "
            "transaction pooler, every challenge reads the row.", _postgres_url, secret=True),
    Setting("DATABASE_REPLICA_URL", "", "A streaming replica of the PostgreSQL database "
            "that serves the audit log's readers (a citizen's access log, the auditors' "
            "search, export and verification) once it has replayed what they must see; "
            "their own audit records still go to the primary. Empty: the primary serves "
            "them.", _database_url, secret=True),
    Setting("DATABASE_REPLICA_WAIT_MS", "1000", "Milliseconds a reader waits for the "
            "replica to catch up before the primary serves it instead.", _count),
    Setting("SECRET_KEY", "", "Key for signing staff and terminal tokens. Empty: generated "
            "once and kept in the instance folder.", secret=True),
    Setting("ORIGIN", "http://127.0.0.1:8000", "The hub's canonical URL; cards sign it. "
            "Written scheme://host[:port]; a trailing slash is dropped.", _origin),
    Setting("BROKER_URL", "", "Celery broker. Empty: an SQLite-backed broker in the instance "
            "folder (no server needed). City: RabbitMQ, `amqp://...`, which hands a task back "
            "when its worker dies. A `redis://...` broker can lose a task taken by a worker "
            "that crashes, and a killed worker's task waits out the visibility timeout.",
            secret=True),
    Setting("RESULT_BACKEND", "", "Celery result backend. Empty: the hub's database.",
            secret=True),
    Setting("NATIONAL_ID_FORMATS", "nik", "Accepted national number formats, comma separated: "
            "`nik` (Indonesia, 16 digits), `thai` (13 digits, check digit), `generic`."),
    Setting("CITY_NAME", "Kota Contoh", "The city's name on documents and reports."),
    Setting("CA_DIR", "", "Folder with the issuing CA's certificate and key. Empty: "
            "`ca/` in the instance folder."),
    Setting("AUDIT_CHECKPOINT_DIR", "", "Where signed audit checkpoints are also written "
            "(outside the database). Empty: `checkpoints/` in the instance folder."),
    Setting("AUDIT_SIGNING_KEY", "", "Ed25519 private key (PEM) that signs audit checkpoints. "
            "Empty: `audit-signing.key` in the instance folder. `satukartu keys rotate "
            "--purpose checkpoints` replaces it; retired public keys stay in "
            "`audit-signing.keyring.json` beside it."),
    Setting("SERVICES", "", "Enabled service modules, comma separated. Empty: all installed."),
    Setting("SERVICES_FILE", "", "TOML file of service parameters, a `[key]` table per "
            "module; `SATUKARTU_SERVICE_<KEY>_<PARAM>` variables override it. Its "
            "`[key.purses.<purse>]` tables change the purse rules of the default "
            "`services/services.toml` (caps, agent categories, ...), key by key."),
    Setting("PROGRAMME_REFRESH_MS", "1000", "Milliseconds a hub process (web or Celery "
            "worker) trusts its programmes before checking the database for an admin's "
            "change (one single-row read); 0: every request.", _count),
    Setting("ALLOCATION_BATCH", "50000", "Beneficiary ids per allocation batch (one "
            "transaction each; a killed run resumes at the last committed batch).", _positive),
    Setting("SESSION_TTL", "300", "Seconds a card session lives.", _positive),
    Setting("ACCESS_TOKEN_TTL", "900", "Seconds a staff or terminal token lives.", _positive),
    Setting("PIN_MAX_TRIES", "3", "Wrong PINs before a card blocks (at most 10).", _int),
    Setting("OIDC_ISSUER", "", "The city's OpenID Connect provider; empty disables SSO."),
    Setting("OIDC_CLIENT_ID", "", "Client id at the OIDC provider."),
    Setting("OIDC_CLIENT_SECRET", "", "Client secret at the OIDC provider.", secret=True),
    Setting("PROXY_HOPS", "0", "Reverse proxies in front of the hub whose X-Forwarded-For, "
            "-Proto and -Host to trust (a TLS proxy: 1).", _count),
    Setting("LOG_LEVEL", "INFO", "Python logging level.", _log_level),
    Setting("LOG_FORMAT", "text", "`text` (lines for people) or `json` (one object per line: "
            "time, level, logger, message, request_id; the access line adds method, path, "
            "status, duration_ms), for a log shipper.", _log_format),
    Setting("METRICS_NETWORKS", "127.0.0.0/8,::1/128", "Networks from which "
            "`/api/v1/metrics` answers without a token, comma separated (an admin's token "
            "is accepted from anywhere). The address is the client's as the hub sees it: a "
            "proxy's X-Forwarded-For counts only with SATUKARTU_PROXY_HOPS.", _networks),
    # cards
    Setting("CA_KEY_URI", "", "Where the issuing CA's private key is. Empty: "
            "`issuing-ca.key` in the CA folder. A `pkcs11:` URI (RFC 7512) names a key "
            "on an HSM; see backend/cards/README.md."),
    Setting("CA_PKCS11_MODULE", "", "The PKCS#11 library for a `pkcs11:` CA key."),
    Setting("CARD_VALIDITY_DAYS", "1826", "Days a newly issued card (and its certificates) "
            "is valid.", _positive),
    Setting("CHALLENGE_TTL", "300", "Seconds a card-authentication challenge is valid.", _positive),
    Setting("CRL_VALIDITY_HOURS", "24", "Hours until a published CRL's nextUpdate.", _positive),
    Setting("OFFLINE_CRL_GRACE_HOURS", "24", "Hours past a CRL's nextUpdate that an agent's "
            "reader still redeems offline by it (and the hub accepts what it redeemed).",
            _count),
    # two-person approval and bulk jobs
    Setting("APPROVAL_REVOKE_THRESHOLD", "10", "Cards one revocation may end without a second "
            "admin's approval; more need one (0: every bulk revocation does).", _count),
    Setting("APPROVAL_EXPIRY_DAYS", "7", "Days a request waits for its decision, and an "
            "approval for its carrying out, before it expires (expiry never approves).",
            _at_most(3650)),
    Setting("APPROVAL_FILES_DIR", "", "Where files awaiting approval (registry imports) are "
            "kept, read by the hub and its workers. Empty: `approvals/` in the instance "
            "folder."),
    Setting("BULK_BATCH", "200", "Rows per bulk-job batch: one transaction, one CRL and one "
            "progress update each; a cancelled or killed job resumes after the last one.",
            _at_most(10000)),
    # appeals (backend/grievances)
    Setting("GRIEVANCE_RESOLUTION_DAYS", "14", "The city's service level for appeals: calendar "
            "days, in the city's time zone, from the day an appeal is filed to the day it is "
            "due to be resolved.", _at_most(365)),
    # documents
    Setting("DOCUMENT_SIGNING_KEY", "", "Ed25519 private key (PEM) that signs the city's "
            "documents and receipts. Empty: `document-signing.key` in the instance folder. "
            "`satukartu keys rotate --purpose documents` replaces it; retired public keys "
            "stay in `document-signing.keyring.json` beside it."),
    # the SPDCI Social Registry API (backend/dci)
    Setting("DCI_SENDER_ID", "satukartu", "This registry's id towards SPDCI peers: the "
            "`sender_id` of what it sends, the `receiver_id` it expects, the first part of "
            "its signatures' `kidId`.", _sender_id),
    Setting("DCI_SIGNING_KEY", "", "Ed25519 private key (PEM) that signs the SPDCI "
            "messages this registry sends. Empty: `dci-signing.key` in the instance "
            "folder. Published, with its retired keys, at `/dci/.well-known/jwks.json`; "
            "`satukartu keys rotate --purpose dci` replaces it."),
    Setting("DCI_PEER_CREDENTIALS_FILE", "", "JSON file (keep it mode 0600) of this "
            "registry's own OAuth2 client credentials at its SPDCI peers, by their sender "
            "id: `{\"<sender_id>\": {\"token_uri\": ..., \"client_id\": ..., "
            "\"client_secret\": ...}}`. A callback or notification to a peer listed there "
            "carries a bearer token from its token endpoint; to others, only our signature. "
            "Empty: none."),
    Setting("DCI_PULL_PEERS", "", "Sender ids of the registered SPDCI peers whose "
            "notifications (after `satukartu registry pull` subscribed there) may change "
            "our registry; comma separated. Other peers' notifications are refused. Empty: "
            "none.", _list),
    Setting("CITY_TIMEZONE", "Asia/Jakarta", "IANA time zone of the times printed on "
            "documents, receipts and reports.", _zone),
    Setting("FONT_DIRS", "/usr/share/fonts/truetype/dejavu,/usr/share/fonts/truetype/noto",
            "Folders searched for the TrueType fonts of PDFs (DejaVu Sans for Latin text, "
            "Noto Sans Thai for Thai), comma separated.", _list),
    # screens
    Setting("CURRENCY", "IDR", "ISO 4217 code of the city's currency, as screens show "
            "amounts (IDR, THB, VND...).", _currency),
    Setting("READER_BRIDGE", "http://127.0.0.1:7468", "Where a kiosk's or agent's own reader "
            "daemon serves its local bridge, as the screens' browser reaches it (see "
            "admin/README.md).", _loopback_url),
    Setting("AGENT_READER_BRIDGE", "", "The agent screens' reader bridge, where it differs "
            "from SATUKARTU_READER_BRIDGE (a kiosk and a shop on one PC, as in the demo).",
            _optional_loopback_url),
    Setting("COUNTER_READER_BRIDGE", "", "The clerk's counter screens' reader bridge, where it "
            "differs from SATUKARTU_READER_BRIDGE (a kiosk, a shop and a counter on one PC, "
            "as in the demo).", _optional_loopback_url),
    Setting("AGENT_SHIFT_HOURS", "10", "Hours an agent's sign-in at a shop screen lasts (one "
            "shift); signing out ends it at once.", _positive),
    Setting("SCREEN_IDLE_WARNING", "60", "Seconds without a touch before a citizen's screen "
            "asks whether they need more time.", _positive),
    Setting("SCREEN_IDLE_ANSWER", "30", "Seconds that question stays before the screen "
            "resets (at least 20).", _answer_time),
    Setting("STAFF_IDLE_WARNING", "780", "Seconds without a request before a staff screen "
            "warns that it will sign out.", _positive),
    Setting("STAFF_IDLE_SIGNOUT", "900", "Seconds without a request after which a staff "
            "screen's sign-in ends (checked at the hub, whatever the page does).", _positive),
    Setting("STAFF_SHIFT_HOURS", "10", "Hours a sign-in at the staff screens (counter, "
            "console, audit) lasts at most, however busy; idle, it ends sooner "
            "(SATUKARTU_STAFF_IDLE_SIGNOUT).", _positive),
)

PREFIX = "SATUKARTU_"
# A URL setting whose password may come alone from a file: the variable naming it.
PASSWORD_FILES = {"DATABASE_URL": "DATABASE_PASSWORD_FILE", "BROKER_URL": "BROKER_PASSWORD_FILE",
                  "DATABASE_REPLICA_URL": "DATABASE_REPLICA_PASSWORD_FILE",
                  "DATABASE_LISTEN_URL": "DATABASE_LISTEN_PASSWORD_FILE"}


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Read every setting from the environment, apply `overrides`, derive the paths."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = _raw(setting, environ)
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{setting.name}: {exc}") from exc
    values.update(overrides)
    _derive(values)
    return values


def _raw(setting: Setting, environ: Mapping[str, str]) -> str:
    """The setting's text: the variable, or for a secret its file; a URL's password file
    is then put into the URL."""
    name = PREFIX + setting.name
    path = environ.get(name + "_FILE", "") if setting.secret else ""
    if path and environ.get(name):
        raise ConfigError(f"{name} and {name}_FILE are both set: give one of them")
    raw = _first_line(path, name + "_FILE") if path else environ.get(name, setting.default)
    password_variable = PREFIX + PASSWORD_FILES.get(setting.name, "")
    if setting.name in PASSWORD_FILES and environ.get(password_variable):
        password = _first_line(environ[password_variable], password_variable)
        raw = _with_password(raw, password, password_variable)
    return raw


def _first_line(path: str, variable: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{variable}: cannot read {path}: {reason}") from exc


def _with_password(url: str, password: str, variable: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if not parts.username:
        raise ConfigError(f"{variable}: the URL it completes names no user "
                          f"({parts.scheme}://{parts.hostname or ''}...)")
    host = parts.netloc.rsplit("@", 1)[1]
    user = f"{urllib.parse.quote(parts.username, safe='')}:{urllib.parse.quote(password, safe='')}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def _derive(values: dict[str, Any]) -> None:
    instance = Path(values["INSTANCE_DIR"]).resolve()
    values["INSTANCE_DIR"] = str(instance)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance / 'satukartu.db'}"
    if not values["BROKER_URL"]:
        values["BROKER_URL"] = f"sqla+sqlite:///{instance / 'broker.db'}"
    if not values["CA_DIR"]:
        values["CA_DIR"] = str(instance / "ca")
    if not values["AUDIT_CHECKPOINT_DIR"]:
        values["AUDIT_CHECKPOINT_DIR"] = str(instance / "checkpoints")
    if not values["AUDIT_SIGNING_KEY"]:
        values["AUDIT_SIGNING_KEY"] = str(instance / "audit-signing.key")
    if not values["DOCUMENT_SIGNING_KEY"]:
        values["DOCUMENT_SIGNING_KEY"] = str(instance / "document-signing.key")
    if not values["DCI_SIGNING_KEY"]:
        values["DCI_SIGNING_KEY"] = str(instance / "dci-signing.key")
    if not values["APPROVAL_FILES_DIR"]:
        values["APPROVAL_FILES_DIR"] = str(instance / "approvals")
    if not 1 <= values["PIN_MAX_TRIES"] <= 10:
        raise ConfigError(f"{PREFIX}PIN_MAX_TRIES: must be between 1 and 10")
    if values["DATABASE_REPLICA_URL"] and not all(
            _database_backend(values[name]) == "postgresql"
            for name in ("DATABASE_URL", "DATABASE_REPLICA_URL")):
        raise ConfigError(f"{PREFIX}DATABASE_REPLICA_URL: a replica is a PostgreSQL standby "
                          "of a PostgreSQL primary (both URLs postgresql://...)")
    values["NATIONAL_ID_FORMATS"] = _list(values["NATIONAL_ID_FORMATS"]) if isinstance(
        values["NATIONAL_ID_FORMATS"], str) else tuple(values["NATIONAL_ID_FORMATS"])
    values["SERVICES"] = _list(values["SERVICES"]) if isinstance(
        values["SERVICES"], str) else tuple(values["SERVICES"])


def secret_key(values: dict[str, Any]) -> str:
    """The configured key, or one generated on first start and kept in the instance folder."""
    if values["SECRET_KEY"]:
        return values["SECRET_KEY"]
    path = Path(values["INSTANCE_DIR"]) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{PREFIX}{s.name}` | `{s.default}` | {s.doc}"
             f"{f' Secret: or a file, `{PREFIX}{s.name}_FILE`.' if s.secret else ''} |"
             for s in SETTINGS]
    return "\n".join(rows)

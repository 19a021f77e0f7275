#!/usr/bin/env python3
"""The hub image's entrypoint: secrets from files (e.g. under /run/secrets), then the command.

- SATUKARTU_<NAME>_FILE, for NAME in SECRETS: the file's first line becomes
  SATUKARTU_<NAME> (unless that is set already).
- SATUKARTU_DATABASE_PASSWORD_FILE, SATUKARTU_BROKER_PASSWORD_FILE: the password is put
  into SATUKARTU_DATABASE_URL's or SATUKARTU_BROKER_URL's user part, so the URL itself
  (user, host, database) can stay in plain configuration and each password lives in one
  file, the same one the database or broker container reads.

The hub reads only SATUKARTU_* variables (backend/config.py); this keeps files out of it.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import quote, urlsplit, urlunsplit

PREFIX = "SATUKARTU_"
SECRETS = ("SECRET_KEY", "DATABASE_URL", "BROKER_URL", "RESULT_BACKEND", "OIDC_CLIENT_SECRET")
PASSWORDS = ("DATABASE", "BROKER")


def first_line(path: str, variable: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    except OSError as exc:
        sys.exit(f"{variable}: cannot read {path}: {exc.strerror}")


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    if not parts.username:
        sys.exit(f"a password file needs a user in the URL: {parts.scheme}://{parts.hostname}")
    host = parts.netloc.rsplit("@", 1)[1]
    userinfo = f"{quote(parts.username, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def prepare(environ: dict[str, str]) -> None:
    for name in SECRETS:
        path = environ.pop(f"{PREFIX}{name}_FILE", "")
        if path and not environ.get(PREFIX + name):
            environ[PREFIX + name] = first_line(path, f"{PREFIX}{name}_FILE")
    for name in PASSWORDS:
        path = environ.pop(f"{PREFIX}{name}_PASSWORD_FILE", "")
        if path:
            url = environ.get(f"{PREFIX}{name}_URL", "")
            password = first_line(path, f"{PREFIX}{name}_PASSWORD_FILE")
            environ[f"{PREFIX}{name}_URL"] = with_password(url, password)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: hub-entrypoint COMMAND [ARG...]")
    environ = dict(os.environ)
    prepare(environ)
    os.execvpe(sys.argv[1], sys.argv[1:], environ)  # noqa: S606 - the container's command

"""Staff in the browser tests: one way to make a staff account and one way to sign a staff
member in, so that the auditor's, the admins' and the clerks' tests do both alike (and a
change to the sign-in page is made here once). Also the staff screens' viewport, and the
current page shown again in another language."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

STAFF_VIEWPORT = {"width": 1366, "height": 900}
SIGN_IN_WAIT = 10_000


def staff_account(stack: Any, prefix: str, role: str, name: str) -> tuple[str, str]:
    """A new staff account with `role`, made the way a city makes one (`satukartu staff
    add`, the password on stdin): its username (`prefix-` and a random part, so each test
    module has its own) and its password."""
    username = f"{prefix}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(15)
    stack.demo.satukartu("staff", "add", username, "--role", role, "--name", name,
                         "--password-stdin", stdin=password + "\n")
    return username, password


def sign_in(page: Any, stack: Any, account: tuple[str, str], landing: str | None, *,
            lang: str | None = "en", next_path: str | None = None) -> None:
    """The staff member signs in on `page` at the staff sign-in (`?lang=`, `&next=` when
    given) and lands on the page whose URL matches `landing` (a regex); with no `landing`,
    the page after the sign-in is only waited for until the network is idle."""
    query = "&".join(f"{key}={value}" for key, value in (("lang", lang), ("next", next_path))
                     if value)
    page.goto(f"{stack.origin}/staff/sign-in" + (f"?{query}" if query else ""))
    page.fill("#username", account[0])
    page.fill("#password", account[1])
    page.click("button[type=submit].primary")
    if landing is None:
        page.wait_for_load_state("networkidle")
    else:
        page.wait_for_url(re.compile(landing), timeout=SIGN_IN_WAIT)


def in_language(page: Any, lang: str) -> None:
    """The current page again, in `lang`."""
    parts = urlsplit(page.url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"]
    page.goto(urlunsplit(parts._replace(query=urlencode([*query, ("lang", lang)]))))

"""One submit, one change: every console form that changes the hub is idempotent.

The one way, used by every such form: the page puts a fresh random key in a hidden
field (`{{ once_field() }}`); the view claims it with `claim()` before it changes
anything, in the same transaction as the change, through the hub's own idempotency
store (`backend.ledger.idempotency`, the one the service API's `Idempotency-Key` uses)
under the scope `console:<admin>`. `finish()` writes down where the answer led and
commits the change, its audit record and the claim together.

- A second submit of the same form (a double click, a reload that resends the POST, a
  retry after a lost answer) finds the key taken and is sent, without doing anything,
  where the first went (POST-redirect-GET). On PostgreSQL a submit racing the first
  waits on the key's unique index until the first commits, then does the same.
- A refusal rolls the transaction back, the claim with it: the corrected form may be
  sent again under the same key.
- The same key sent with other answers is refused (`idempotency_key_reused`).
- A page that shows a secret once (a terminal's new secret, a first password) is the
  answer to the POST itself, never stored: a repeat is sent to the account's or the
  terminal's page, which says the secret was shown on the first answer.

Forms that change nothing at the hub (search, a report's month, the purpose of a
read, which the browser session keeps) need no key.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import redirect, request
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from admin.console.blueprint import admin
from backend.api.routing import commit
from backend.db import session
from backend.errors import ApiError
from backend.ledger import idempotency
from backend.reasons import Reason

FIELD = "once"
SCOPE = "console:"
# Fields that say how the form was sent, not what it asks for.
NOT_ASKED = frozenset({FIELD, "csrf_token", "step"})


def field() -> Markup:
    """The hidden field of a form that changes something: a fresh key per page."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        FIELD, secrets.token_urlsafe(24))


def _scope() -> str:
    return SCOPE + admin().subject


def _digest() -> str:
    asked = sorted((name, value) for name, value in request.form.items(multi=True)
                   if name not in NOT_ASKED)
    return idempotency.request_hash(request.endpoint, request.view_args or {}, asked)


def _key() -> str:
    key = request.form.get(FIELD, "")
    if not idempotency.KEY_SHAPE.match(key):
        raise ApiError(Reason.IDEMPOTENCY_KEY_REQUIRED, "the form carried no key", 400)
    return key


def claim() -> BaseResponse | None:
    """Claim this submit's key. None: go ahead and make the change. A response: this
    submit was carried out already; answer it (the change is not made again)."""
    replay = idempotency.claim(session(), _scope(), _key(), _digest())
    if replay is None:
        return None
    session().rollback()
    answer = replay.response or {}
    return redirect(str(answer.get("next") or request.path), 303)


def finish(response: Any, replay_to: str | None = None) -> Any:
    """Remember where this submit led, and commit it with the change it made.

    `response` is a redirect (a repeat is sent to the same place) or a page shown once
    (then `replay_to` says where a repeat goes instead)."""
    target = replay_to or getattr(response, "location", None) or request.path
    idempotency.remember(session(), _scope(), _key(), 303, {"next": target})
    commit()
    return response

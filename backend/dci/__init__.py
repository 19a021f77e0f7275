"""The SPDCI Social Registry API, server side (`/dci/`): peers search our registry,
subscribe to its changes, and are answered by signed callbacks.

- `spec`: the standard's OpenAPI document (a copy beside it, NOTICE.md), mended;
- `envelope`: the `{signature, header, message}` envelope, ids, the standard's codes;
- `signing`: Ed25519 signatures in the document's `Signature:` form; `jwks`: keys as JWKS;
- `mapping`: our people and family cards as Person, Member and Group, and back
  (MAPPING.md);
- `models`: peers, transactions, subscriptions; `peers`: registering and recognising
  peers; `oauth`: their tokens (client credentials, as terminals);
- `search`: a search's criteria as a registry query; `subscriptions`: subscribe,
  unsubscribe, which subscriptions a change touches; `answers`: each action's answer;
- `outbox`: sealing and posting what we send; `tasks`: callbacks and notifications by
  Celery, with retries; `changes`: registry changes caught at commit;
- `views`: the routes; `cli`: `satukartu dci peer ...` (add, list, set-keys, disable, enable).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from backend.dci import changes, oauth, views

    app.register_blueprint(views.blueprint)
    oauth.make_server(app)
    changes.install()

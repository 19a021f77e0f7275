"""The auditor's screen (`/audit/`): search the audit log by citizen, staff member,
terminal, action and time; verify the chain (naming the first bad record); download a
signed export; see the signed checkpoints and the public key that checks them.

For auditors and admins. It changes no data: verifying and exporting only add their
own audit records, as the API's do (`views.py` calls the API's functions).
"""

from __future__ import annotations

from flask import Flask

from admin.audit.views import blueprint


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

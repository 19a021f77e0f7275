"""Staff sign-in for the screens: one page for clerks, admins and auditors.

The page signs in through the same domain function as the API
(`backend.identity.signin`: the throttle, the audit record, the disabled-account
rule) and keeps the staff token in an HttpOnly, SameSite=Strict cookie; each role then
starts on its own screen (`admin.common.staff.ROLE_HOME`). Agents keep their shift
sign-in on the agent screen.
"""

from __future__ import annotations

from flask import Flask

from admin.staff.views import blueprint


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

"""The staff sign-in's own refusals in plain words (the rest are in common/messages.py).

A clerk or an admin reads these, not a citizen: they still say what happened and what
to do next, never a reason code (that goes in a data attribute, for scripts and tests).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from admin.common.messages import Advice, advice

STAFF_ADVICE: dict[str, Advice] = {
    "missing_code": Advice(_l("Enter the 6-digit code"),
                           _l("Open the authenticator app on your phone and type the code "
                              "it shows for SatuKartu.")),
    "totp_required": Advice(_l("Enter the 6-digit code"),
                            _l("Open the authenticator app on your phone and type the code "
                               "it shows for SatuKartu.")),
    "totp_invalid": Advice(_l("That code is not right"),
                           _l("Codes change every 30 seconds and each works once. Type the "
                              "code your app shows now.")),
    "code_expired": Advice(_l("The sign-in took too long"),
                           _l("For your safety, enter your password again.")),
    "sign_in_again": Advice(_l("Please sign in again"),
                            _l("Your account changed while you were signing in.")),
    "sso_disabled": Advice(_l("Signing in with the city's account is not set up"),
                           _l("Sign in with your username and password, or ask your "
                              "supervisor.")),
    "sso_failed": Advice(_l("Signing in with the city's account did not work"),
                         _l("Please try again. If it happens again, sign in with your "
                            "username and password, or ask your supervisor.")),
    "sso_no_account": Advice(_l("Your city account has no SatuKartu account"),
                             _l("Ask your supervisor to create your staff account with your "
                                "city e-mail address.")),
    "role_not_allowed": Advice(_l("This account cannot use this screen"),
                               _l("Agents sign in on the agent screen.")),
}


def staff_advice(reason: str | None) -> Advice:
    """Advice for a refusal on the staff sign-in: ours first, then the common table."""
    return STAFF_ADVICE.get(reason or "") or advice(reason)

"""The counter's words for the registry's and the programmes' codes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

RELATIONSHIPS = {
    "head": _l("Head of the family"), "spouse": _l("Spouse"), "child": _l("Child"),
    "parent": _l("Parent"), "other": _l("Other family member"),
}
VISIT_KINDS = {
    "general": _l("A general consultation"), "antenatal": _l("A pregnancy check-up"),
    "child_growth": _l("A child growth check"), "immunisation": _l("An immunisation"),
}
DOCUMENTS = {
    "domicile_letter": _l("Letter of domicile"),
    "family_card_extract": _l("Family card extract"),
}
# A domicile letter states its purpose in Indonesian, whatever the screen speaks (as at
# the kiosk): the citizen picks one, nobody types it.
LETTER_PURPOSES = {
    "general": ("umum", _l("General use")),
    "school": ("pendaftaran sekolah", _l("School registration")),
    "bank": ("pembukaan rekening bank", _l("Opening a bank account")),
    "work": ("melamar pekerjaan", _l("A job application")),
}
CARD_STATUSES = {
    "active": _l("Active"), "suspended": _l("On hold"), "revoked": _l("No longer works"),
    "superseded": _l("Replaced"),
}


def relationship_words(code: str | None) -> str:
    return str(RELATIONSHIPS.get(code or "", RELATIONSHIPS["other"]))


def card_status_words(code: str) -> str:
    return str(CARD_STATUSES.get(code, code))

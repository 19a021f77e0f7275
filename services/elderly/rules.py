"""Who gets the elderly allowance: citizens aged 60 or more of low-decile households."""

from __future__ import annotations

from backend.services import beneficiaries_by_age_and_decile, decide_by_age_and_decile

# The shared rule, with this programme's `min_age` and amount from its parameters.
decide = decide_by_age_and_decile
beneficiaries = beneficiaries_by_age_and_decile

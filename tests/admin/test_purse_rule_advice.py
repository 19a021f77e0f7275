"""A refusal by a purse rule reaches the agent and the citizen as a sentence saying what
to do next, never as "something went wrong"."""

from __future__ import annotations

import pytest

from admin.common.messages import GENERIC, advice
from backend.reasons import Reason


@pytest.mark.parametrize("reason", [Reason.DAILY_CAP_EXCEEDED, Reason.MONTHLY_CAP_EXCEEDED,
                                    Reason.AGENT_CATEGORY_NOT_ALLOWED])
def test_a_purse_rule_refusal_has_advice_of_its_own(reason):
    assert advice(reason) is not GENERIC

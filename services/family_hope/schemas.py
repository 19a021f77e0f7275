"""What a counter sends for a family hope withdrawal."""

from __future__ import annotations

from backend.services import CashWithdrawal

# A withdrawal is the hub's one cash pay-out shape.
Withdraw = CashWithdrawal

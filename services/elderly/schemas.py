"""What a counter sends for an allowance withdrawal."""

from __future__ import annotations

from backend.services import CashWithdrawal

# A withdrawal is the hub's one cash pay-out shape.
Withdraw = CashWithdrawal

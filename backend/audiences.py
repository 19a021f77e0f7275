"""Who sees what of a card holder's programmes: one allow-list per audience.

`GET /api/v1/services` and the kiosk's and agent's screens
show a card holder's programmes to whoever holds the card session: the citizen at a
kiosk, a shop's terminal, a clerk at a counter, a transport gate. They are not the
same audience, so they do not see the same fields. An audience is the terminal's kind
and the card session's assurance; each names the fields of a programme entry and of a
`recent` line it may see, and nothing else is sent (a field added to the programme or
to the ledger's lines is seen by nobody until it is put on a list here, with a reason).

- A tap (any terminal): the programme, eligibility (yes/no and its reason), balances
  and the actions this terminal may run. No movements, no eligibility details (they
  carry the welfare decile, household and member facts), no overview.
- The citizen at a kiosk after the PIN (`CITIZEN`): their own statement. Eligibility
  details and the overview (what the module writes for the card holder: their school,
  clinic, documents left today), and the latest movements of their purses with where
  (terminal) and when, what was bought (`items`) and the fare's `route`. Not the hub's
  internals a line's `details` may carry: an allocation batch's `grants` count, an
  expiry run's `accounts` count (line details are an allow-list of keys too).
- A shop's terminal (agent) after the PIN (`SHOP`): what it needs to sell: balances,
  eligibility, actions, and its own sales to this household: only lines this very
  terminal wrote, without their terminal id (its own) or balance after (which would
  tell what was spent at other shops since). Nothing of other shops, no allocation
  lines, no eligibility details. A gate after the PIN sees its own fares the same way.
- A clerk at a counter after the PIN (`CLERK`): what the counter's screens read
  (balances to pay out, the actions offered, eligibility); the counter shows the
  citizen's record and household itself, read and recorded by its own pages.
- Anything not named (a desk's card session, a new kind): the tap's view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Every audience: the programme, whether the holder is in it and why not, the balances
# (what the terminal serves from) and the actions this terminal may run.
BASE = frozenset({"key", "title", "eligible", "reason", "balances", "actions"})
# A movement as the citizen sees it on their statement.
STATEMENT_LINE = frozenset({"entry_id", "purse", "kind", "amount", "balance_after",
                            "period", "terminal_id", "at", "details"})
# A shop's (or gate's) own sale: its receipt number, what, how much, when, the basket.
OWN_SALE_LINE = frozenset({"entry_id", "purse", "kind", "amount", "at", "details"})
# Keys of a line's `details` a reader of that line may see: a basket's items, a fare's
# route. Not `grants` (an allocation batch's count) or `accounts` (an expiry run's).
LINE_DETAILS = frozenset({"items", "route"})


@dataclass(frozen=True)
class Audience:
    """The fields one audience may see of a programme entry and of a `recent` line."""

    name: str
    programme: frozenset[str]
    line: frozenset[str] = frozenset()  # empty: no `recent` at all
    line_details: frozenset[str] = frozenset()
    own_lines_only: bool = False  # only lines this terminal wrote

    @property
    def sees_recent(self) -> bool:
        return "recent" in self.programme

    def programme_view(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if k in self.programme}

    def line_view(self, line: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in line.items() if k in self.line}
        if "details" in shown:
            shown["details"] = {k: v for k, v in (line.get("details") or {}).items()
                                if k in self.line_details}
        return shown


TAP = Audience("tap", BASE)
CITIZEN = Audience("citizen", BASE | {"details", "overview", "recent"},
                   line=STATEMENT_LINE, line_details=LINE_DETAILS)
SHOP = Audience("shop", BASE | {"recent"}, line=OWN_SALE_LINE, line_details=LINE_DETAILS,
                own_lines_only=True)
CLERK = Audience("clerk", BASE)

# (terminal kind, card assurance) -> audience; anything else sees the tap's view.
AUDIENCES: dict[tuple[str, str], Audience] = {
    ("kiosk", "tap"): TAP,
    ("kiosk", "pin"): CITIZEN,
    ("agent", "tap"): TAP,
    ("agent", "pin"): SHOP,
    ("gate", "tap"): TAP,
    ("gate", "pin"): SHOP,
    ("counter", "tap"): TAP,
    ("counter", "pin"): CLERK,
}


def audience_of(terminal_kind: str | None, assurance: str | None) -> Audience:
    return AUDIENCES.get((terminal_kind or "", assurance or ""), TAP)

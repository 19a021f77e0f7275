"""Which purses may be redeemed offline, and their caps: programme parameters.

A programme allows offline redemption of its purses when both `offline_card_daily` and
`offline_agent_daily` are above 0 (a module declares them as `Param`s, default 0);
`max_redemption`, where the programme has it, caps one redemption (otherwise the card's
day cap does). Read from the live modules, so an admin's change holds from the next
request, for the bundle and for the sync alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from backend.services import ServiceModule
from card_reader.offline_wire import OfflineProgramme

CARD_DAILY = "offline_card_daily"
AGENT_DAILY = "offline_agent_daily"
PER_REDEMPTION = "max_redemption"


def _whole(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def offline_purse(module: ServiceModule, purse: str) -> OfflineProgramme | None:
    """The purse's offline terms, or None when it is not redeemed offline."""
    rule = module.purses.get(purse)
    card_daily, agent_daily = _whole(module.config, CARD_DAILY), _whole(module.config,
                                                                        AGENT_DAILY)
    if rule is None or card_daily <= 0 or agent_daily <= 0:
        return None
    cap = _whole(module.config, PER_REDEMPTION)
    return OfflineProgramme(
        programme=module.key, purse=purse, title=dict(module.title),
        categories=tuple(sorted(rule.categories or ())), card_daily_cap=card_daily,
        agent_daily_cap=agent_daily,
        max_redemption=min(cap, card_daily) if cap > 0 else card_daily)


def offline_programmes(modules: Iterable[ServiceModule]) -> list[OfflineProgramme]:
    """Every enabled programme's purses that may be redeemed offline, by key and purse."""
    found = [terms for module in modules for purse in sorted(module.purses)
             if (terms := offline_purse(module, purse)) is not None]
    return sorted(found, key=lambda p: (p.programme, p.purse))

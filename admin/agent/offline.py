"""What the agent's idle page carries for a sale made while the hub is out of reach.

The idle page is loaded while the link is up; when it goes down, the page can reach
only the reader's bridge on this PC. So every word the offline sale may need is
rendered into the page beforehand, in the page's language: the plain words for each
refusal the bridge's `POST /offline/redeem` may answer, and the words for the goods
categories (the same as the online sale's). `admin/common/static/common/offline.js`
reads them.
"""

from __future__ import annotations

from admin.common.messages import CATEGORY_WORDS, Advice, advice, category_words

# The refusals of the bridge's `POST /offline/redeem` (card_reader/bridge.py), and the
# generic words for anything else.
REFUSALS = ("no_card", "card_removed", "pin_format", "pin_invalid", "pin_blocked",
            "link_online", "offline_not_ready", "offline_not_allowed", "amount_invalid",
            "amount_above_cap", "offline_card_cap_exceeded", "offline_agent_cap_exceeded",
            "card_untrusted", "card_revoked", "card_expired", "signature_invalid",
            "reader_error")
OTHER = "card_error"


def refusal_words() -> dict[str, Advice]:
    """Each refusal's title and next step, `card_error` standing for any other."""
    return {reason: advice(reason) for reason in (*REFUSALS, OTHER)}


def category_names() -> dict[str, str]:
    """Every goods category's name in the page's language, by its code."""
    return {code: category_words(code) for code in CATEGORY_WORDS}

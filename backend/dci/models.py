"""What the hub keeps of its SPDCI peers: who they are, what they asked, what they follow.

- `DciPeer`: a registry or programme system that calls our `/dci/` endpoints. It is an
  OAuth2 confidential client (client credentials, as a terminal is) and a signer: its
  Ed25519 public keys (a JWKS) verify every message it sends. `scope` limits what its
  answers carry (`dci.person`: a person's identity; `dci.household`: also the family
  card, its members and the welfare decile).
- `DciTransaction`: one message received (search, subscribe, unsubscribe, txn-status),
  under the correlation id we answered with; a search's message until its callback is
  sent (the search is run, and its reads audited, then; the criteria are dropped once
  delivered), the status and each reference's status, for `txn/status`. Never the
  personal data answered: a status asks nothing of it.
- `DciSubscription`: a peer's standing request to be told when records change.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

TXN_STATUSES = ("rcvd", "pdng", "succ", "rjct")
SUBSCRIPTION_STATUSES = ("subscribe", "unsubscribe")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.current_timestamp())


class DciPeer(Base):
    """A peer system: OAuth2 client, message signer, callback receiver.

    The secret is 256 random bits, kept as a SHA-256 digest (as a terminal's).
    """

    __tablename__ = "dci_peers"

    sender_id: Mapped[str] = mapped_column(String(99), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Where its callbacks go: a message's sender_uri must start with it.
    callback_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(100))
    # Its public signing keys as a JWKS document (JSON text).
    jwks: Mapped[str] = mapped_column(Text, default='{"keys": []}')
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = _now()


class DciTransaction(Base):
    __tablename__ = "dci_transactions"
    __table_args__ = (
        UniqueConstraint("peer_id", "message_id", name="uq_dci_transactions_message"),
        CheckConstraint(_in("status", TXN_STATUSES), name="status"),
    )

    correlation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    peer_id: Mapped[str] = mapped_column(ForeignKey("dci_peers.sender_id"), index=True)
    message_id: Mapped[str] = mapped_column(String(99))
    transaction_id: Mapped[str] = mapped_column(String(99), index=True)
    action: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(4))
    # {reference_id: status}, JSON text, in the order received.
    references: Mapped[str] = mapped_column(Text, default="{}")
    request: Mapped[str] = mapped_column(Text, default="{}")
    # The callback's message, once made, when it holds no personal data (subscribe,
    # unsubscribe, txn-status): a retry resends it. A search's is made at each try.
    answer: Mapped[str | None] = mapped_column(Text)
    callback_uri: Mapped[str | None] = mapped_column(String(500))
    # The scopes of the token the request came with (None: before 0024, the peer's).
    scope: Mapped[str | None] = mapped_column(String(100))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _now()


class DciSubscription(Base):
    __tablename__ = "dci_subscriptions"
    __table_args__ = (CheckConstraint(_in("status", SUBSCRIPTION_STATUSES), name="status"),)

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    peer_id: Mapped[str] = mapped_column(ForeignKey("dci_peers.sender_id"), index=True)
    transaction_id: Mapped[str] = mapped_column(String(99))
    reference_id: Mapped[str] = mapped_column(String(99))
    reg_event_type: Mapped[str] = mapped_column(String(99))
    notify_record_type: Mapped[str] = mapped_column(String(99))
    # The filter as received (JSON text) and what it selects, resolved at subscription:
    # a citizen's id, a household's id, or a region code prefix.
    filter: Mapped[str] = mapped_column(Text)
    citizen_id: Mapped[int | None] = mapped_column(Integer, index=True)
    household_id: Mapped[int | None] = mapped_column(Integer, index=True)
    region_prefix: Mapped[str | None] = mapped_column(String(10))
    # The scopes of the token it was made with (None: before 0024, the peer's).
    scope: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12), default="subscribe")
    created_at: Mapped[dt.datetime] = _now()
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DciPullSubscription(Base):
    """A subscription of ours at a registry we pull from (`satukartu registry pull`):
    the only thing that lets that peer's notifications change our registry, and only
    inside its region. A notify names it by the transaction id of our subscribe
    request (its events by our reference id)."""

    __tablename__ = "dci_subscriptions_out"
    __table_args__ = (
        UniqueConstraint("peer_id", "transaction_id", name="uq_dci_subscriptions_out_txn"),
        CheckConstraint(_in("status", SUBSCRIPTION_STATUSES), name="status"),
    )

    correlation_id: Mapped[str] = mapped_column(String(99), primary_key=True)
    peer_id: Mapped[str] = mapped_column(ForeignKey("dci_peers.sender_id"), index=True)
    region_prefix: Mapped[str] = mapped_column(String(10))
    transaction_id: Mapped[str] = mapped_column(String(99))
    reference_id: Mapped[str] = mapped_column(String(99))
    status: Mapped[str] = mapped_column(String(12), default="subscribe")
    created_at: Mapped[dt.datetime] = _now()
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

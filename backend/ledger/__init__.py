"""The entitlement ledger: accounts, immutable balanced journal entries, grants,
idempotency keys and purse rules, shared by every service module."""

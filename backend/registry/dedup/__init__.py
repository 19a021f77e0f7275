"""Duplicate screening: the same person registered twice under another spelling.

A national number already registered is refused outright (the registry's service and
the importer). What this package finds is the rest: a record whose name, birth date
and place say it may be someone already registered. Such a record is created and
flagged, and the pair goes to the clerks' review queue; nothing is merged or dropped
without a person deciding (`review` says why created-and-flagged rather than held).

- `thai`: Thai script to a rough Latin spelling;
- `keys`: a name's order-free folded form and phonetic key;
- `score`: how alike two records are, and the thresholds (from bench/bench_dedup.py);
- `screen`: blocking, for one new record and for a whole registry;
- `models`, `review`, `schemas`, `api`: the queue, the checks at registration and
  import, the clerks' decisions.
"""

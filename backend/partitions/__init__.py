"""Monthly partitions of the hub's largest tables on PostgreSQL: the audit log
(migration 0016) and the journal's entries and lines (migration 0017).

`upkeep` makes the coming months' partitions and lists them, `cli` is
`satukartu db partitions`, `tasks` is the daily beat task. SQLite has no partitions:
there every function here does nothing. The constants live here, free of SQLAlchemy,
because `satukartu` builds its `db` group (and this command's options) even on a
reader-only install.
"""

SCHEMA = "partitions"  # the partitions' own schema: the hub's role may not use it
MONTHS_AHEAD = 3
MAX_MONTHS_AHEAD = 36  # partitions_ensure() refuses more

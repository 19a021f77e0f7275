#!/bin/sh
# satukartu-migrate: run as the database owner after every deployment, before the hub
# starts. Applies the migrations, makes the coming months' partitions, makes Celery's
# result tables (the hub's processes, as the application role, may not create tables),
# then gives the application role (SATUKARTU_APP_ROLE, default satukartu_app) its
# grants: it may read and write every table but may only INSERT and SELECT the audit
# log (backend/audit/README.md, "PostgreSQL roles").
set -eu
satukartu db upgrade
satukartu db partitions  # the coming months' partitions, made by the owner
satukartu audit roles-sql --app-role "${SATUKARTU_APP_ROLE:-satukartu_app}" > /tmp/roles.sql
python3 - /tmp/roles.sql <<'PY'
import os
import sys

import celery.backends.database.models  # noqa: F401 - defines the result tables
import psycopg
from celery.backends.database.session import ResultModelBase
from sqlalchemy import create_engine

from backend import config

# The URL as the hub reads it: SATUKARTU_DATABASE_PASSWORD_FILE's password put into it.
url = config.load()["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
engine = create_engine("postgresql+psycopg://" + url[len("postgresql://"):])
ResultModelBase.metadata.create_all(engine)
engine.dispose()
print("celery result tables:", ", ".join(sorted(ResultModelBase.metadata.tables)))
with psycopg.connect(url, autocommit=False) as conn:
    for statement in open(sys.argv[1]).read().split(";"):
        if statement.strip():
            conn.execute(statement)
print("grants applied to", os.environ.get("SATUKARTU_APP_ROLE", "satukartu_app"))
PY

"""On PostgreSQL the application role may append to the log and read it, nothing more."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from tests.support.audit_store import as_role

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_role_conn(pg_roles, fresh_pg_url, engine_for):
    with engine_for(as_role(fresh_pg_url, pg_roles.app)).connect() as conn:
        yield conn


@pytest.fixture
def owner_conn(pg_roles, fresh_pg_url, engine_for):
    with engine_for(as_role(fresh_pg_url, pg_roles.owner)).connect() as conn:
        yield conn


@pytest.fixture
def stored(audit_store):
    """A log with records, written by the hub as the application role."""
    if audit_store.dialect != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    audit_store.fill(3)
    audit_store.checkpoint()  # which chains what is queued first
    return audit_store


@pytest.mark.parametrize("statement", [
    "UPDATE audit_records SET purpose = 'x' WHERE seq = 1",
    "DELETE FROM audit_records WHERE seq = 3",
    "TRUNCATE audit_records",
    "UPDATE audit_checkpoints SET size = 1",
    "DELETE FROM audit_checkpoints",
    "TRUNCATE audit_checkpoints",
    "DELETE FROM audit_queue",
    "UPDATE audit_queue SET purpose = 'x'",
    "TRUNCATE audit_queue",
])
@pytest.mark.parametrize("audit_store", ["postgresql"], indirect=True)
def test_application_role_cannot_change_the_log(stored, app_role_conn, statement):
    with pytest.raises(ProgrammingError, match="permission denied"):
        app_role_conn.execute(text(statement))


@pytest.mark.parametrize("statement", [
    "UPDATE audit_records SET purpose = 'x' WHERE seq = 1",
    "DELETE FROM audit_records WHERE seq = 3",
    "TRUNCATE audit_records",
    "DELETE FROM audit_checkpoints",
])
@pytest.mark.parametrize("audit_store", ["postgresql"], indirect=True)
def test_even_the_owner_is_refused_while_the_triggers_stand(stored, owner_conn, statement):
    with pytest.raises(ProgrammingError, match="append-only"):
        owner_conn.execute(text(statement))


@pytest.mark.parametrize("audit_store", ["postgresql"], indirect=True)
def test_application_role_can_still_change_other_tables(stored, app_role_conn):
    tables = app_role_conn.execute(text(
        "SELECT count(*) FROM information_schema.table_privileges WHERE grantee = "
        "current_user AND privilege_type = 'UPDATE' AND table_name NOT LIKE 'audit_%'"
    )).scalar()
    assert tables > 0


@pytest.mark.parametrize("audit_store", ["postgresql"], indirect=True)
def test_application_role_appends_and_reads(stored, app_role_conn):
    assert app_role_conn.execute(text("SELECT count(*) FROM audit_records")).scalar() == 3

import pytest

from backend import migrations


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_engine(request, tmp_path, engine_for):
    """An engine on a migrated database whose commits are real (triggers that fire at
    commit fire), on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        migrations.upgrade(url)
    else:
        url = request.getfixturevalue("fresh_pg_url")
    return engine_for(url)

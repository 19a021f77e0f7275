"""The command line against a real database, for the CLI tests of this package."""

import pytest
from click.testing import CliRunner

from backend import migrations
from backend.app import create_app
from backend.cli import main


@pytest.fixture(params=["sqlite", "postgresql"])
def cli_hub(request, tmp_path, instance_dir):
    """A migrated database the CLI writes to for real, and an app to check the result."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
        migrations.upgrade(url)
    else:
        url = request.getfixturevalue("fresh_pg_url")
    env = {"SATUKARTU_DATABASE_URL": url, "SATUKARTU_INSTANCE_DIR": str(instance_dir),
           "SATUKARTU_SECRET_KEY": "cli-test-secret", "SATUKARTU_LOG_LEVEL": "WARNING"}
    app = create_app(DATABASE_URL=url, INSTANCE_DIR=str(instance_dir),
                     SECRET_KEY="cli-test-secret")
    runner = CliRunner()

    def run(*args, stdin=None):
        return runner.invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)

    yield run, app.test_client()
    app.extensions["satukartu.db"].engine.dispose()

# The hub's fixtures for module authors (citizen, card_session, call_service, audit_log,
# ...) come from the `satukartu` pytest plugin the package registers (entry point
# pytest11, `backend.testing.plugin`). What only this repository's tests need is here.
pytest_plugins = [
    "tests.pcsc_fixtures",
    "tests.support.private_services",
    "tests.support.audit_store",
]

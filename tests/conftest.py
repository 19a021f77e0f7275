pytest_plugins = [
    "backend.testing.plugin",
    "backend.testing.registry",
    "backend.testing.identity",
    "backend.testing.cards",
    "backend.testing.services",
    "backend.testing.eligibility",
    "tests.pcsc_fixtures",
    "backend.testing.audit",
    "backend.testing.private_services",
]

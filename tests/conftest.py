pytest_plugins = [
    "backend.testing.plugin",
    "backend.testing.registry",
    "backend.testing.services",
]

pytest_plugins = [
    "backend.testing.plugin",
]

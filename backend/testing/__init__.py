"""Pytest fixtures for the hub and for third-party service modules.

Use them with `pytest_plugins = ["backend.testing.plugin"]` in a conftest.py.
"""

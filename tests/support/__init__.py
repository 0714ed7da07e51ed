"""Helpers and fixtures the tests share; the fixtures are registered in tests/conftest.py (pytest_plugins)."""

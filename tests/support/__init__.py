"""Helpers shared by the tests (no fixtures, no tests: fixtures live in the conftest.py files)."""

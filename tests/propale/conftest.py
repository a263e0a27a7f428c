"""Fixtures of the tests that run on both ledger backends: SQLite and, when it is reachable, PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.postgres import postgres_unavailable, schema_of_its_own


@pytest.fixture(scope="session")
def postgres_skip_reason() -> str | None:
    return postgres_unavailable()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, postgres_skip_reason) -> Iterator[str]:
    """A fresh, empty database on each backend (on PostgreSQL, a schema of the test's own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'propale.db'}"
        return
    if postgres_skip_reason:
        pytest.skip(postgres_skip_reason)
    with schema_of_its_own() as url:
        yield url

"""Fixtures of the ledger's tests: each runs on SQLite and, when it is reachable, PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy

from support.postgres import POSTGRES_URL, postgres_unavailable


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
    schema = f"propale_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

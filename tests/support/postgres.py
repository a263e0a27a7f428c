"""The PostgreSQL server tests use when it answers: 127.0.0.1:5432, database `test`, trust auth
(override with PROPALE_TEST_POSTGRES_URL); tests skip, saying why, when it does not."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy

POSTGRES_URL = os.environ.get("PROPALE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def postgres_unavailable() -> str | None:
    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as error:  # any failure to connect means: skip, and say why
        return f"PostgreSQL unreachable at {POSTGRES_URL}: {type(error).__name__}: {str(error).strip()[:200]}"


@contextmanager
def schema_of_its_own() -> Iterator[str]:
    """The URL of a fresh, empty schema on the test server (its `search_path`), dropped afterwards."""
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

"""The PostgreSQL server tests use when it answers: 127.0.0.1:5432, database `test`, trust auth
(override with PROPALE_TEST_POSTGRES_URL); tests skip, saying why, when it does not."""

from __future__ import annotations

import os

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

"""Alembic's environment for the ledger: runs on the connection `propale.ledger.schema` hands it.

That connection is already inside a transaction, which Alembic then leaves to its owner (the
upgrade commits once, after the lock it holds): see Alembic's "Sharing a Connection across one or
more programmatic migration commands" (https://alembic.sqlalchemy.org/en/latest/cookbook.html).
"""

from __future__ import annotations

from typing import Any

from alembic import context

from propale.ledger.schema import VERSION_TABLE, is_ledger_table, render_ledger_type
from propale.ledger.tables import metadata


def _include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    # The ledger may share its database with Airflow's metadata: only Propale's tables are its own.
    return type_ != "table" or is_ledger_table(name)


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("the ledger's migrations run through propale.ledger.schema (`propale db upgrade`)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=_include_name,
        render_item=render_ledger_type,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

"""The ledger's schema: Alembic's migrations in propale/migrations/, run to head.

Production runs them first and explicitly (`propale db upgrade`, in docker-compose's airflow-init);
a `Ledger` also runs them when it opens, which costs one read of the version table once at head, so
dev, tests and the demo need no step of their own. Two processes opening a fresh or outdated ledger
at once queue on a lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE's write lock) and the
second finds the ledger at head.

The version table is `propale_alembic_version`: the ledger may share its database with Airflow's
metadata, whose own Alembic keeps `alembic_version`.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from propale.ledger.tables import UTCDateTime

VERSION_TABLE = "propale_alembic_version"
# What the release before migrations created with `metadata.create_all`: revision 0001, these tables.
BASELINE_REVISION = "0001"
PREVIOUS_RELEASE_TABLES = frozenset(
    {
        "propale_proposals",
        "propale_proposal_numbers",
        "propale_deliveries",
        "propale_acceptances",
        "propale_checkout_sessions",
        "propale_stripe_events",
        "propale_cursors",
    }
)
SCRIPT_LOCATION = "propale:migrations"  # a package resource: no alembic.ini to ship or find
TABLE_PREFIX = "propale_"
# The previous release's create_all took this same lock, so an old and a new process also queue.
_SCHEMA_LOCK = "propale_ledger_schema"


class _WithoutContextLines(logging.Filter):
    """Alembic says which backend it found each time it looks at the version table, i.e. each time a
    Ledger opens: noise in every task's log. What it runs (and anything it warns of) still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_WithoutContextLines())


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, in code; env.py runs the migrations on `connection`."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The ledger's revision, or None if it has no version table (empty, or made by create_all)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def is_ledger_table(name: str | None) -> bool:
    return name is not None and name.startswith(TABLE_PREFIX) and name != VERSION_TABLE


def upgrade_schema(engine: Engine) -> bool:
    """Bring the ledger to the latest revision; True if anything changed (idempotent).

    A ledger made by the previous release (its tables, no version table) is stamped at the
    baseline first, since its tables are the baseline's, then upgraded like any other.
    """
    if _at_head(engine):
        return False
    with engine.connect() as connection:
        # SQLite: BEGIN IMMEDIATE (see propale.ledger.engine), i.e. wait for the write lock.
        connection.execution_options(propale_write=True)
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _SCHEMA_LOCK})
            current = current_revision(connection)
            if current == head_revision():
                return False  # another process upgraded it while this one waited for the lock
            # Alembic runs inside this transaction and leaves its commit to us (env.py).
            config = alembic_config(connection)
            if current is None and _has_previous_release_tables(connection):
                command.stamp(config, BASELINE_REVISION)
            command.upgrade(config, "head")
            return True


def _at_head(engine: Engine) -> bool:
    with engine.connect() as connection, connection.begin():
        return current_revision(connection) == head_revision()


def _has_previous_release_tables(connection: Connection) -> bool:
    existing = set(inspect(connection).get_table_names())
    ledger_tables = PREVIOUS_RELEASE_TABLES
    if existing >= ledger_tables:
        return True
    if existing & ledger_tables:
        # create_all made them all in one transaction: a part means someone else's tables.
        raise RuntimeError(
            "the ledger's database has some of Propale's tables but no version table "
            f"({VERSION_TABLE}): " + ", ".join(sorted(existing & ledger_tables))
        )
    return False


def render_ledger_type(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes the ledger's UTCDateTime as the plain type it stores, so revisions never
    import propale (they must keep working when the tables module changes)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def draft_revision(message: str) -> Path:
    """Write a new revision with what autogenerate finds between the tables and the migrations.

    Compares against a scratch SQLite ledger upgraded to head; the draft must be read and adjusted
    (PostgreSQL specifics, data migrations) before it is committed.
    """
    from propale.ledger.engine import create_ledger_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_ledger_engine(f"sqlite:///{Path(scratch) / 'ledger.db'}")
        try:
            upgrade_schema(engine)
            head = head_revision()
            next_id = f"{int(head) + 1:04d}" if head is not None and head.isdigit() else None
            with engine.connect() as connection:
                scripts = command.revision(
                    alembic_config(connection), message=message, autogenerate=True, rev_id=next_id
                )
        finally:
            engine.dispose()
    script = scripts[0] if isinstance(scripts, list) else scripts
    assert script is not None
    head_revision.cache_clear()
    return Path(script.path)

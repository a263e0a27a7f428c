"""The ledger's schema comes from its Alembic migrations: they agree with the tables declared in
propale/ledger/tables.py, take over a ledger made by the release before them (create_all, no version
table) without losing its data, keep to their own version table beside Airflow's, and run once however
many processes open the ledger at once. On SQLite and, when it answers, PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from propale.cli import main as propale_main
from propale.ledger import (
    PROPOSAL_EMAIL,
    DeliveryStatus,
    Ledger,
    NewDelivery,
    ProposalStatus,
    delivery_key,
    hash_token,
    new_token,
)
from propale.ledger.engine import create_ledger_engine
from propale.ledger.schema import (
    BASELINE_REVISION,
    VERSION_TABLE,
    current_revision,
    head_revision,
    is_ledger_table,
    upgrade_schema,
)
from propale.ledger.tables import metadata
from propale.proposals import build_snapshot
from support.factories import sample_deal, sample_settings

# The ledger as the release before migrations created it (`metadata.create_all`), frozen here: it must
# not follow later changes to the tables. Generated from that release's tables on each backend.
_PREVIOUS_RELEASE_DDL = """
CREATE TABLE propale_proposals (
    id {serial} NOT NULL, deal_id VARCHAR(64) NOT NULL, version INTEGER NOT NULL, number VARCHAR(32) NOT NULL,
    status VARCHAR(16) NOT NULL, request_key VARCHAR(255) NOT NULL, source_fingerprint VARCHAR(64) NOT NULL,
    snapshot JSON, pdf {blob}, pdf_sha256 VARCHAR(64), token_hash VARCHAR(64), issued_at {timestamp} NOT NULL,
    valid_until DATE NOT NULL, expires_at {timestamp} NOT NULL, created_at {timestamp} NOT NULL, sent_at {timestamp},
    PRIMARY KEY (id), UNIQUE (deal_id, version), UNIQUE (number), UNIQUE (token_hash)
);
CREATE INDEX ix_propale_proposals_deal_id ON propale_proposals (deal_id);
CREATE TABLE propale_proposal_numbers (year INTEGER NOT NULL, last_number INTEGER NOT NULL, PRIMARY KEY (year));
CREATE TABLE propale_stripe_events (
    event_id VARCHAR(255) NOT NULL, type VARCHAR(255) NOT NULL, processed_at {timestamp} NOT NULL, PRIMARY KEY (event_id)
);
CREATE TABLE propale_cursors (
    name VARCHAR(255) NOT NULL, value TEXT NOT NULL, updated_at {timestamp} NOT NULL, PRIMARY KEY (name)
);
CREATE TABLE propale_deliveries (
    id {serial} NOT NULL, "key" VARCHAR(255) NOT NULL, kind VARCHAR(64) NOT NULL, proposal_id INTEGER,
    status VARCHAR(16) NOT NULL, payload {blob}, attempts INTEGER NOT NULL, last_error TEXT,
    created_at {timestamp} NOT NULL, started_at {timestamp}, completed_at {timestamp},
    PRIMARY KEY (id), UNIQUE ("key"), FOREIGN KEY(proposal_id) REFERENCES propale_proposals (id)
);
CREATE INDEX ix_propale_deliveries_proposal_id ON propale_deliveries (proposal_id);
CREATE TABLE propale_acceptances (
    id {serial} NOT NULL, proposal_id INTEGER NOT NULL, method VARCHAR(32) NOT NULL, accepted_at {timestamp} NOT NULL,
    ip VARCHAR(64), user_agent TEXT, number VARCHAR(32) NOT NULL, version INTEGER NOT NULL,
    pdf_sha256 VARCHAR(64) NOT NULL,
    PRIMARY KEY (id), UNIQUE (proposal_id), FOREIGN KEY(proposal_id) REFERENCES propale_proposals (id)
);
CREATE TABLE propale_checkout_sessions (
    id {serial} NOT NULL, proposal_id INTEGER NOT NULL, method VARCHAR(32) NOT NULL,
    stripe_session_id VARCHAR(255) NOT NULL, url TEXT NOT NULL, status VARCHAR(16) NOT NULL,
    created_at {timestamp} NOT NULL, expires_at {timestamp} NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(proposal_id) REFERENCES propale_proposals (id), UNIQUE (stripe_session_id)
);
CREATE UNIQUE INDEX uq_propale_checkout_open ON propale_checkout_sessions (proposal_id, method) WHERE status = 'open'
"""
_PREVIOUS_RELEASE_TYPES = {
    "sqlite": {"serial": "INTEGER", "blob": "BLOB", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "blob": "BYTEA", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}


@pytest.fixture
def engine(db_url) -> Iterator[sqlalchemy.Engine]:
    engine = create_ledger_engine(db_url)
    yield engine
    engine.dispose()


def _schema_differences(engine: sqlalchemy.Engine) -> list:
    """What autogenerate would put in a new revision: the tables against the database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLE,
                "include_name": lambda name, type_, _parents: type_ != "table" or is_ledger_table(name),
            },
        )
        return compare_metadata(context, metadata)


def _table_names(engine: sqlalchemy.Engine) -> set[str]:
    return set(sqlalchemy.inspect(engine).get_table_names())


def _revision(engine: sqlalchemy.Engine) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection)


def test_a_fresh_ledger_is_migrated_to_head_in_propale_s_own_version_table(engine) -> None:
    assert upgrade_schema(engine) is True
    assert _revision(engine) == head_revision()
    assert _table_names(engine) == set(metadata.tables) | {VERSION_TABLE}  # no `alembic_version`: Airflow's name


def test_the_tables_and_the_migrations_agree(engine) -> None:
    """Fails when tables.py changes without a migration (`propale db revision -m ...` drafts it)."""
    upgrade_schema(engine)
    assert _schema_differences(engine) == []


def test_upgrading_a_ledger_at_head_changes_nothing_and_opening_it_keeps_it_there(engine, db_url) -> None:
    upgrade_schema(engine)
    assert upgrade_schema(engine) is False
    with Ledger(db_url) as ledger:
        ledger.set_cursor("stripe-events", "evt_1")
    with Ledger(db_url) as ledger:
        assert ledger.get_cursor("stripe-events") == "evt_1"
    assert _revision(engine) == head_revision()


def _previous_release_ledger(engine: sqlalchemy.Engine) -> str:
    """A ledger as the previous release left it, with a sent proposal, its delivered email, a
    pending note, an acceptance-free Stripe event and a cursor; returns the proposal's token."""
    token = new_token()
    issued_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    tables = metadata.tables
    with engine.begin() as connection:
        for statement in _PREVIOUS_RELEASE_DDL.format(**_PREVIOUS_RELEASE_TYPES[engine.dialect.name]).split(";"):
            connection.exec_driver_sql(statement)
        snapshot = build_snapshot(
            sample_deal(), sample_settings(), "DEV-2026-00007", 1, issued_at, date(2026, 4, 1)
        ).to_dict()
        connection.execute(
            tables["propale_proposals"].insert(),
            {
                "deal_id": "9001", "version": 1, "number": "DEV-2026-00007", "status": "sent",
                "request_key": "req-1", "source_fingerprint": "source-a", "snapshot": snapshot, "pdf": b"%PDF-old",
                "pdf_sha256": "0" * 64, "token_hash": hash_token(token), "issued_at": issued_at,
                "valid_until": date(2026, 4, 1), "expires_at": issued_at + timedelta(days=30),
                "created_at": issued_at, "sent_at": issued_at,
            },
        )  # fmt: skip
        connection.execute(tables["propale_proposal_numbers"].insert(), {"year": 2026, "last_number": 7})
        connection.execute(
            tables["propale_deliveries"].insert(),
            [
                {"key": delivery_key(PROPOSAL_EMAIL, "DEV-2026-00007", 1), "kind": PROPOSAL_EMAIL, "proposal_id": 1,
                 "status": "done", "payload": None, "attempts": 1, "created_at": issued_at, "completed_at": issued_at},
                {"key": "proposal-note:DEV-2026-00007:v1", "kind": "proposal-note", "proposal_id": 1,
                 "status": "pending", "payload": b"note", "attempts": 0, "created_at": issued_at, "completed_at": None},
            ],
        )  # fmt: skip
        connection.execute(
            tables["propale_stripe_events"].insert(),
            {"event_id": "evt_old", "type": "invoice.paid", "processed_at": issued_at},
        )
        connection.execute(
            tables["propale_cursors"].insert(), {"name": "stripe-events", "value": "evt_old", "updated_at": issued_at}
        )
    return token


def test_a_ledger_of_the_release_before_migrations_is_taken_over_with_its_data(engine, db_url) -> None:
    token = _previous_release_ledger(engine)
    assert _revision(engine) is None

    assert upgrade_schema(engine) is True
    assert _revision(engine) == head_revision()
    assert _schema_differences(engine) == []

    with Ledger(db_url) as ledger:
        proposal = ledger.find_by_token(token)
        assert proposal is not None and proposal.number == "DEV-2026-00007" and proposal.status == ProposalStatus.SENT
        assert proposal.issued_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert ledger.proposal_pdf(proposal.id) == b"%PDF-old"
        assert [d.key for d in ledger.pending_deliveries()] == ["proposal-note:DEV-2026-00007:v1"]
        assert ledger.is_stripe_event_processed("evt_old") and ledger.get_cursor("stripe-events") == "evt_old"
        # The ledger works on: the numbering goes on from where it was, the customer can accept.
        accepted = ledger.record_acceptance(
            proposal.id, method="card", accepted_at=datetime(2026, 3, 3, 9, 0, tzinfo=UTC), ip=None, user_agent=None
        )
        assert accepted.number == "DEV-2026-00007"
        new = ledger.issue_proposal(
            "9002",
            request_key="req-2",
            source_fingerprint="source-b",
            issued_at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
            validity_days=30,
        )
        assert new.number == "DEV-2026-00008"
        assert ledger.record_stripe_event("evt_new", "invoice.paid", [NewDelivery(key="k", kind="proposal-note")])
        assert ledger.delivery("k").status == DeliveryStatus.PENDING


def test_a_database_holding_only_some_of_propale_s_tables_is_refused_not_stamped(engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE propale_cursors (name VARCHAR(255) PRIMARY KEY)")
    with pytest.raises(RuntimeError, match="propale_cursors"):
        upgrade_schema(engine)
    assert _revision(engine) is None


def test_the_ledger_shares_a_database_with_airflow_s_metadata_without_touching_it(engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('airflow-rev')")
        connection.exec_driver_sql("CREATE TABLE dag_run (id INTEGER PRIMARY KEY)")
    upgrade_schema(engine)
    assert _revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == ["airflow-rev"]
    assert _schema_differences(engine) == []


def test_processes_opening_a_fresh_ledger_at_once_migrate_it_once(db_url) -> None:
    ready = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_ledger() -> None:
        try:
            ready.wait()
            with Ledger(db_url) as ledger:
                ledger.get_cursor("anything")
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=open_ledger) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_ledger_engine(db_url)
    try:
        assert _revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_propale_db_upgrade_migrates_the_ledger_it_is_given(db_url, capsys) -> None:
    assert propale_main(["db", "upgrade", "--url", db_url]) == 0
    assert f"upgraded to revision {head_revision()}" in capsys.readouterr().out
    assert propale_main(["db", "upgrade", "--url", db_url]) == 0
    assert f"already at revision {head_revision()}" in capsys.readouterr().out


def test_the_baseline_is_the_first_revision() -> None:
    from alembic.script import ScriptDirectory

    from propale.ledger.schema import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_base() == BASELINE_REVISION

"""The ledger's tables, declared with SQLAlchemy's ORM (the migrations in propale/migrations/ create them).

Changing a table here means adding a migration: tests/propale/ledger/test_migrations.py fails while
the two disagree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the ledger only stores timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ProposalRow(Base):
    __tablename__ = "propale_proposals"
    __table_args__ = (UniqueConstraint("deal_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    # What the rep's request was (so a retry of the same request is recognised) and what was read
    # from HubSpot (so a changed deal is recognised).
    request_key: Mapped[str] = mapped_column(String(255))
    source_fingerprint: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # The link's token encrypted with propale_secret_key, which only the DAGs hold: they can write the
    # link again (HubSpot, the rep's emails), the customer page and a stolen ledger cannot.
    token_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The Checkout Session recorded first as paid: the proposal's payment. Set once (compare-and-set),
    # so that a second payment that completes anyway is reported, never taken for this one.
    paid_session_id: Mapped[str | None] = mapped_column(String(255), nullable=True)


class NumberSequenceRow(Base):
    __tablename__ = "propale_proposal_numbers"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class DeliveryRow(Base):
    __tablename__ = "propale_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("propale_proposals.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AcceptanceRow(Base):
    __tablename__ = "propale_acceptances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("propale_proposals.id"), unique=True)
    method: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)
    number: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    pdf_sha256: Mapped[str] = mapped_column(String(64))


class CheckoutSessionRow(Base):
    __tablename__ = "propale_checkout_sessions"
    __table_args__ = (
        # One open session per proposal and method: a second click reuses it, an expired one is replaced.
        Index(
            "uq_propale_checkout_open",
            "proposal_id",
            "method",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("propale_proposals.id"))
    method: Mapped[str] = mapped_column(String(32))
    stripe_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckoutClaimRow(Base):
    """SQLite's per-proposal checkout lock: a row claimed by compare-and-set, with a lease (see
    `Ledger.checkout_claim`; PostgreSQL uses an advisory lock instead)."""

    __tablename__ = "propale_checkout_claims"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("propale_proposals.id"), primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StripeEventRow(Base):
    __tablename__ = "propale_stripe_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CursorRow(Base):
    __tablename__ = "propale_cursors"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InstallationRow(Base):
    """This ledger's installation id: one row, made once (see `Ledger.installation_id`)."""

    __tablename__ = "propale_installation"

    singleton: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    installation_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RateLimitRow(Base):
    """The customer page's POST counter per client (a hash of its address), shared by its processes."""

    __tablename__ = "propale_rate_limits"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    requests: Mapped[int] = mapped_column(Integer)


metadata = Base.metadata

"""Propale's own ledger: proposals, numbering, the outbox of side effects, acceptances, Stripe state.

SQLite by default, PostgreSQL in production. Every public method is one short transaction and
returns plain frozen records, never live ORM objects, so callers cannot lazy-load after commit.

How a proposal survives crashes and retries (the DAG's point of view):

1. `issue_proposal` allocates the number and inserts the draft row in the same transaction, so a
   number is never lost (gap-free) and a retry of the same rep request gets the same draft back.
2. The caller builds the snapshot for that number (`stage_snapshot` may freeze it first, so that
   later tasks render exactly it), renders the PDF and email, then `attach_document` stores them
   together with the token's hash and one outbox row per side effect (email, HubSpot
   write-back…) whose payload is the exact bytes to send. The token itself is never stored, except
   inside those payloads, which are erased once delivered.
3. For each pending delivery: `start_delivery`, send the payload, `complete_delivery`. A retry
   skips what is done and re-sends the identical payload (same Message-ID) for what is not, so the
   only possible duplicate is a crash between the SMTP server accepting and `complete_delivery`,
   and even then the customer's mail client can tell it is the same message.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
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
    create_engine,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from propale.proposals import TIMEZONE, ProposalSnapshot, proposal_number, validity_period
from propale.settings import Settings

PROPOSAL_EMAIL = "proposal-email"
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) produces


class ProposalStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    REPLACED = "replaced"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"  # its proposal was replaced before it went out


class CheckoutStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


class LedgerError(Exception):
    pass


class ProposalAlreadyAccepted(LedgerError):
    """The rep asked for a new proposal on a deal whose proposal the customer already accepted."""

    def __init__(self, number: str):
        super().__init__(
            f"La proposition {number} a déjà été acceptée par le client : pour une nouvelle offre, "
            "créez une nouvelle transaction."
        )
        self.number = number


class ProposalNotAcceptable(LedgerError):
    """The customer tried to accept a proposal that is not open (`reason`: its status)."""

    def __init__(self, number: str, reason: str):
        super().__init__(f"proposal {number} cannot be accepted: {reason}")
        self.number = number
        self.reason = reason


def new_token() -> str:
    """An unguessable token for a customer link."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def delivery_key(kind: str, number: str, version: int) -> str:
    """The idempotency key of one side effect of one proposal version, e.g. proposal-email:DEV-2026-00042:v1."""
    return f"{kind}:{number}:v{version}"


# --- Tables -------------------------------------------------------------------------------------


class _UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the ledger only stores timezone-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class _Base(DeclarativeBase):
    pass


class _ProposalRow(_Base):
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
    issued_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    valid_until: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(_UTCDateTime(), nullable=True)


class _NumberSequenceRow(_Base):
    __tablename__ = "propale_proposal_numbers"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class _DeliveryRow(_Base):
    __tablename__ = "propale_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("propale_proposals.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(_UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(_UTCDateTime(), nullable=True)


class _AcceptanceRow(_Base):
    __tablename__ = "propale_acceptances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("propale_proposals.id"), unique=True)
    method: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)
    number: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    pdf_sha256: Mapped[str] = mapped_column(String(64))


class _CheckoutSessionRow(_Base):
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
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(_UTCDateTime())


class _StripeEventRow(_Base):
    __tablename__ = "propale_stripe_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    processed_at: Mapped[datetime] = mapped_column(_UTCDateTime())


class _CursorRow(_Base):
    __tablename__ = "propale_cursors"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(_UTCDateTime())


# --- Records handed to callers ------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    id: int
    deal_id: str
    version: int
    number: str
    status: ProposalStatus
    request_key: str
    source_fingerprint: str
    snapshot: ProposalSnapshot | None
    pdf_sha256: str | None
    issued_at: datetime
    valid_until: date
    expires_at: datetime
    created_at: datetime
    sent_at: datetime | None

    @property
    def has_document(self) -> bool:
        """True once the PDF and the link are attached (the snapshot may be staged before)."""
        return self.pdf_sha256 is not None

    def is_expired(self, now: datetime) -> bool:
        return self.status == ProposalStatus.EXPIRED or now >= self.expires_at

    @classmethod
    def _of(cls, row: _ProposalRow) -> Proposal:
        return cls(
            id=row.id,
            deal_id=row.deal_id,
            version=row.version,
            number=row.number,
            status=ProposalStatus(row.status),
            request_key=row.request_key,
            source_fingerprint=row.source_fingerprint,
            snapshot=ProposalSnapshot.from_dict(row.snapshot) if row.snapshot is not None else None,
            pdf_sha256=row.pdf_sha256,
            issued_at=row.issued_at,
            valid_until=row.valid_until,
            expires_at=row.expires_at,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


@dataclass(frozen=True)
class NewDelivery:
    """A side effect to record with a proposal's document; `payload` is what to send, if anything."""

    key: str
    kind: str
    payload: bytes | None = None
    proposal_id: int | None = None  # `attach_document` sets its own proposal; Stripe events name theirs


@dataclass(frozen=True)
class Delivery:
    key: str
    kind: str
    proposal_id: int | None
    status: DeliveryStatus
    payload: bytes | None
    attempts: int
    last_error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def is_pending(self) -> bool:
        return self.status == DeliveryStatus.PENDING

    @classmethod
    def _of(cls, row: _DeliveryRow) -> Delivery:
        return cls(
            key=row.key,
            kind=row.kind,
            proposal_id=row.proposal_id,
            status=DeliveryStatus(row.status),
            payload=row.payload,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            started_at=row.started_at,
            completed_at=row.completed_at,
        )


@dataclass(frozen=True)
class Acceptance:
    proposal_id: int
    method: str
    accepted_at: datetime
    ip: str | None
    user_agent: str | None
    number: str
    version: int
    pdf_sha256: str

    @classmethod
    def _of(cls, row: _AcceptanceRow) -> Acceptance:
        return cls(
            proposal_id=row.proposal_id,
            method=row.method,
            accepted_at=row.accepted_at,
            ip=row.ip,
            user_agent=row.user_agent,
            number=row.number,
            version=row.version,
            pdf_sha256=row.pdf_sha256,
        )


@dataclass(frozen=True)
class CheckoutSession:
    proposal_id: int
    method: str
    stripe_session_id: str
    url: str
    status: CheckoutStatus
    created_at: datetime
    expires_at: datetime

    @classmethod
    def _of(cls, row: _CheckoutSessionRow) -> CheckoutSession:
        return cls(
            proposal_id=row.proposal_id,
            method=row.method,
            stripe_session_id=row.stripe_session_id,
            url=row.url,
            status=CheckoutStatus(row.status),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )


# --- The ledger ---------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Ledger:
    """Propale's ledger on one database; creates its tables on first use."""

    def __init__(self, url: str):
        self._engine = _create_engine(url)
        with self._transaction(write=True) as session:
            if self._engine.dialect.name == "postgresql":
                # Parallel tasks may all open a fresh database at once; one creates, the others wait.
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext('propale_ledger_schema'))"))
            _Base.metadata.create_all(session.connection())

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        return cls(settings.db_url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Session]:
        with self._engine.connect() as connection:
            connection.execution_options(propale_write=write)
            with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                yield session

    # --- proposals ------------------------------------------------------------------------------

    def issue_proposal(
        self,
        deal_id: str,
        *,
        request_key: str,
        source_fingerprint: str,
        issued_at: datetime,
        validity_days: int,
    ) -> Proposal:
        """The proposal answering the rep's request `request_key` on this deal, numbered, maybe without document.

        - the same request again (a retry, a rerun) gets the same proposal back, whatever its state;
        - a new request on a deal whose draft was never sent (nor perhaps sent, nor refused) and whose
          source is unchanged reuses it;
        - otherwise a new version with the next number is drafted and the previous one is replaced
          (its pending deliveries are cancelled, its link then says it was replaced).
        `request_key` identifies the rep's request, e.g. when `propale_status` was set to `to_propose`.
        """
        with self._transaction(write=True) as session:
            self._lock_deal(session, deal_id)
            return Proposal._of(self._issue(session, deal_id, request_key, source_fingerprint, issued_at, validity_days))

    def _lock_deal(self, session: Session, deal_id: str) -> None:
        """Serialise issuing per deal until commit. A row lock is not enough on PostgreSQL: before a
        deal's first proposal there is no row to lock, and under READ COMMITTED a second issuer would
        see the first one's version only after deciding to draft its own. SQLite's BEGIN IMMEDIATE
        already serialises all writers."""
        if self._engine.dialect.name == "postgresql":
            lock_id = int.from_bytes(hashlib.sha256(f"propale-deal:{deal_id}".encode()).digest()[:8], "big", signed=True)
            session.execute(text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": lock_id})

    def _issue(
        self,
        session: Session,
        deal_id: str,
        request_key: str,
        source_fingerprint: str,
        issued_at: datetime,
        validity_days: int,
    ) -> _ProposalRow:
        current = session.scalars(
            select(_ProposalRow)
            .where(_ProposalRow.deal_id == deal_id, _ProposalRow.status != ProposalStatus.REPLACED)
            .order_by(_ProposalRow.version.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if current is not None:
            if current.request_key == request_key:
                return current
            if current.status == ProposalStatus.ACCEPTED:
                raise ProposalAlreadyAccepted(current.number)
            if (
                current.status == ProposalStatus.DRAFT
                and current.source_fingerprint == source_fingerprint
                and issued_at < current.expires_at
                and self._email_still_to_send(session, current.id)
            ):
                current.request_key = request_key
                return current
            current.status = ProposalStatus.REPLACED
            session.execute(
                update(_DeliveryRow)
                .where(_DeliveryRow.proposal_id == current.id, _DeliveryRow.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.CANCELLED, payload=None)
            )

        last_version = session.scalar(select(func.max(_ProposalRow.version)).where(_ProposalRow.deal_id == deal_id))
        valid_until, expires_at = validity_period(issued_at, validity_days)
        year = issued_at.astimezone(TIMEZONE).year
        row = _ProposalRow(
            deal_id=deal_id,
            version=(last_version or 0) + 1,
            number=proposal_number(year, self._next_sequence(session, year)),
            status=ProposalStatus.DRAFT,
            request_key=request_key,
            source_fingerprint=source_fingerprint,
            issued_at=issued_at,
            valid_until=valid_until,
            expires_at=expires_at,
            created_at=_now(),
        )
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def _email_still_to_send(session: Session, proposal_id: int) -> bool:
        """Whether the draft's email, if any, is still to be sent: no attempt that may have reached
        the customer (started, outcome unknown) and not given up (refused address). Otherwise a new
        request of the rep must get a new version: reusing the draft would only hand back the same
        unconfirmed or refused email, and the deal could never be sent again."""
        deliveries = session.scalars(
            select(_DeliveryRow).where(_DeliveryRow.proposal_id == proposal_id, _DeliveryRow.kind == PROPOSAL_EMAIL)
        )
        return all(
            row.status == DeliveryStatus.PENDING and (row.started_at is None or row.last_error is not None)
            for row in deliveries
        )

    def _next_sequence(self, session: Session, year: int) -> int:
        """The next number of the year, atomically: the upsert locks the year's row until commit,
        so concurrent issuers queue and a rolled-back issue gives its number back (no gaps)."""
        table = _NumberSequenceRow.__table__
        statement = (
            self._insert()(table)
            .values(year=year, last_number=1)
            .on_conflict_do_update(index_elements=[table.c.year], set_={"last_number": table.c.last_number + 1})
            .returning(table.c.last_number)
        )
        return session.execute(statement).scalar_one()

    def stage_snapshot(self, proposal_id: int, snapshot: ProposalSnapshot) -> Proposal:
        """Freeze a draft's content before its PDF is rendered; the first snapshot staged is kept."""
        with self._transaction(write=True) as session:
            row = self._draft_row(session, proposal_id, snapshot)
            if row.snapshot is None:
                row.snapshot = snapshot.to_dict()
                session.flush()
            return Proposal._of(row)

    def attach_document(
        self,
        proposal_id: int,
        *,
        snapshot: ProposalSnapshot,
        pdf: bytes,
        token: str,
        deliveries: Sequence[NewDelivery] = (),
    ) -> Proposal:
        """Store a draft's PDF and token hash with the side effects to perform, atomically.

        The snapshot must be the staged one, if any (the PDF has to show what was frozen). If the
        draft already has its document (a concurrent or repeated call), nothing changes and the
        stored proposal is returned: the caller's token and deliveries are then discarded.
        """
        with self._transaction(write=True) as session:
            row = session.get(_ProposalRow, proposal_id, with_for_update=True)
            if row is not None and row.pdf_sha256 is not None:
                return Proposal._of(row)
            row = self._draft_row(session, proposal_id, snapshot)
            if row.snapshot is not None and row.snapshot != snapshot.to_dict():
                raise ValueError(f"the snapshot differs from the one staged for {row.number} v{row.version}")
            row.snapshot = snapshot.to_dict()
            row.pdf = pdf
            row.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
            row.token_hash = hash_token(token)
            now = _now()
            for delivery in deliveries:
                session.add(
                    _DeliveryRow(
                        key=delivery.key,
                        kind=delivery.kind,
                        proposal_id=row.id,
                        status=DeliveryStatus.PENDING,
                        payload=delivery.payload,
                        attempts=0,
                        created_at=now,
                    )
                )
            session.flush()
            return Proposal._of(row)

    @staticmethod
    def _draft_row(session: Session, proposal_id: int, snapshot: ProposalSnapshot) -> _ProposalRow:
        row = session.get(_ProposalRow, proposal_id, with_for_update=True)
        if row is None:
            raise LedgerError(f"no proposal with id {proposal_id}")
        if row.status != ProposalStatus.DRAFT:
            raise LedgerError(f"proposal {row.number} is {row.status}: its content can no longer change")
        if (snapshot.number, snapshot.version, snapshot.deal_id) != (row.number, row.version, row.deal_id):
            raise ValueError(f"the snapshot is for {snapshot.number} v{snapshot.version}, not {row.number} v{row.version}")
        return row

    def has_document(self, proposal_id: int) -> bool:
        """Whether the proposal's PDF and link are attached (see `Proposal.has_document`)."""
        with self._transaction() as session:
            return session.scalar(select(_ProposalRow.pdf_sha256).where(_ProposalRow.id == proposal_id)) is not None

    def get_proposal(self, proposal_id: int) -> Proposal | None:
        with self._transaction() as session:
            row = session.get(_ProposalRow, proposal_id)
            return Proposal._of(row) if row else None

    def proposal_by_number(self, number: str) -> Proposal | None:
        with self._transaction() as session:
            row = session.scalars(select(_ProposalRow).where(_ProposalRow.number == number)).first()
            return Proposal._of(row) if row else None

    def current_proposal(self, deal_id: str) -> Proposal | None:
        """The deal's latest proposal that has not been replaced."""
        with self._transaction() as session:
            row = session.scalars(
                select(_ProposalRow)
                .where(_ProposalRow.deal_id == deal_id, _ProposalRow.status != ProposalStatus.REPLACED)
                .order_by(_ProposalRow.version.desc())
                .limit(1)
            ).first()
            return Proposal._of(row) if row else None

    def find_by_token(self, token: str) -> Proposal | None:
        """The proposal a customer link points to, whatever its state (expired, replaced…), or None."""
        if not _TOKEN_SHAPE.fullmatch(token):
            return None
        wanted = hash_token(token)
        with self._transaction() as session:
            row = session.scalars(select(_ProposalRow).where(_ProposalRow.token_hash == wanted)).first()
            # The index lookup compares hashes of a 256-bit secret, which tells an attacker nothing; the
            # constant-time comparison keeps it that way should the lookup ever become a prefix match.
            if row is None or row.token_hash is None or not hmac.compare_digest(row.token_hash, wanted):
                return None
            return Proposal._of(row)

    def proposal_pdf(self, proposal_id: int) -> bytes | None:
        with self._transaction() as session:
            return session.scalar(select(_ProposalRow.pdf).where(_ProposalRow.id == proposal_id))

    def expire_due(self, now: datetime) -> list[Proposal]:
        """Mark sent proposals past their validity as expired; returns those just expired."""
        with self._transaction(write=True) as session:
            rows = session.scalars(
                select(_ProposalRow)
                .where(_ProposalRow.status == ProposalStatus.SENT, _ProposalRow.expires_at <= now)
                .with_for_update()
            ).all()
            for row in rows:
                row.status = ProposalStatus.EXPIRED
            session.flush()
            return [Proposal._of(row) for row in rows]

    # --- deliveries (the outbox) ----------------------------------------------------------------

    def delivery(self, key: str) -> Delivery | None:
        with self._transaction() as session:
            row = session.scalars(select(_DeliveryRow).where(_DeliveryRow.key == key)).first()
            return Delivery._of(row) if row else None

    def ensure_delivery(
        self, key: str, *, kind: str, proposal_id: int | None = None, payload: bytes | None = None
    ) -> Delivery:
        """The delivery with this key, created pending if it does not exist yet (Slack posts, notes…)."""
        for _ in range(2):
            try:
                with self._transaction(write=True) as session:
                    row = session.scalars(select(_DeliveryRow).where(_DeliveryRow.key == key)).first()
                    if row is None:
                        row = _DeliveryRow(
                            key=key,
                            kind=kind,
                            proposal_id=proposal_id,
                            status=DeliveryStatus.PENDING,
                            payload=payload,
                            attempts=0,
                            created_at=_now(),
                        )
                        session.add(row)
                        session.flush()
                    return Delivery._of(row)
            except IntegrityError:
                continue  # created concurrently: read it back
        raise LedgerError(f"could not create delivery {key}")

    def pending_deliveries(self, *, kind: str | None = None, proposal_id: int | None = None) -> list[Delivery]:
        with self._transaction() as session:
            query = select(_DeliveryRow).where(_DeliveryRow.status == DeliveryStatus.PENDING)
            if kind is not None:
                query = query.where(_DeliveryRow.kind == kind)
            if proposal_id is not None:
                query = query.where(_DeliveryRow.proposal_id == proposal_id)
            return [Delivery._of(row) for row in session.scalars(query.order_by(_DeliveryRow.id))]

    def start_delivery(self, key: str) -> Delivery:
        """Record an attempt before performing it, so operators can tell a delivery that may have happened."""
        with self._transaction(write=True) as session:
            row = self._delivery_row(session, key)
            if row.status == DeliveryStatus.PENDING:
                row.attempts += 1
                row.started_at = _now()
                # Until `complete_delivery` or `fail_delivery`, this attempt's outcome is unknown.
                row.last_error = None
            return Delivery._of(row)

    def complete_delivery(self, key: str) -> Delivery:
        """Mark done and erase the payload; a proposal email being done makes the proposal sent."""
        with self._transaction(write=True) as session:
            row = self._delivery_row(session, key)
            if row.status != DeliveryStatus.PENDING:
                return Delivery._of(row)
            now = _now()
            row.status = DeliveryStatus.DONE
            row.completed_at = now
            row.payload = None
            row.last_error = None
            if row.kind == PROPOSAL_EMAIL and row.proposal_id is not None:
                session.execute(
                    update(_ProposalRow)
                    .where(_ProposalRow.id == row.proposal_id, _ProposalRow.status == ProposalStatus.DRAFT)
                    .values(status=ProposalStatus.SENT, sent_at=now)
                )
            session.flush()
            return Delivery._of(row)

    def cancel_delivery(self, key: str) -> Delivery:
        """Give up a pending delivery for good (it will never be sent); its payload is erased."""
        with self._transaction(write=True) as session:
            row = self._delivery_row(session, key)
            if row.status == DeliveryStatus.PENDING:
                row.status = DeliveryStatus.CANCELLED
                row.payload = None
            return Delivery._of(row)

    def fail_delivery(self, key: str, error: str) -> Delivery:
        """Record why an attempt failed; the delivery stays pending for the next retry."""
        with self._transaction(write=True) as session:
            row = self._delivery_row(session, key)
            row.last_error = error
            return Delivery._of(row)

    @staticmethod
    def _delivery_row(session: Session, key: str) -> _DeliveryRow:
        row = session.scalars(select(_DeliveryRow).where(_DeliveryRow.key == key).with_for_update()).first()
        if row is None:
            raise LedgerError(f"no delivery {key!r}")
        return row

    # --- acceptances ----------------------------------------------------------------------------

    def record_acceptance(
        self,
        proposal_id: int,
        *,
        method: str,
        accepted_at: datetime,
        ip: str | None,
        user_agent: str | None,
    ) -> Acceptance:
        """Record the customer's acceptance once; later clicks get the first acceptance back."""
        with self._transaction(write=True) as session:
            # `_accept` locks the proposal row first, so concurrent clicks queue and the later ones
            # find the first acceptance.
            return Acceptance._of(self._accept(session, proposal_id, method, accepted_at, ip, user_agent))

    def _accept(
        self,
        session: Session,
        proposal_id: int,
        method: str,
        accepted_at: datetime,
        ip: str | None,
        user_agent: str | None,
    ) -> _AcceptanceRow:
        proposal = session.get(_ProposalRow, proposal_id, with_for_update=True)
        if proposal is None:
            raise LedgerError(f"no proposal with id {proposal_id}")
        existing = session.scalars(select(_AcceptanceRow).where(_AcceptanceRow.proposal_id == proposal_id)).first()
        if existing is not None:
            return existing
        if proposal.status != ProposalStatus.SENT:
            raise ProposalNotAcceptable(proposal.number, str(proposal.status))
        if accepted_at >= proposal.expires_at:
            raise ProposalNotAcceptable(proposal.number, ProposalStatus.EXPIRED)
        assert proposal.snapshot is not None and proposal.pdf_sha256 is not None  # a sent proposal has both
        if method not in proposal.snapshot["payment_methods"]:
            raise ProposalNotAcceptable(proposal.number, f"payment method {method!r} is not offered")
        row = _AcceptanceRow(
            proposal_id=proposal_id,
            method=method,
            accepted_at=accepted_at,
            ip=ip,
            user_agent=user_agent,
            number=proposal.number,
            version=proposal.version,
            pdf_sha256=proposal.pdf_sha256,
        )
        session.add(row)
        proposal.status = ProposalStatus.ACCEPTED
        session.flush()
        return row

    def acceptance(self, proposal_id: int) -> Acceptance | None:
        with self._transaction() as session:
            row = session.scalars(select(_AcceptanceRow).where(_AcceptanceRow.proposal_id == proposal_id)).first()
            return Acceptance._of(row) if row else None

    # --- Stripe Checkout sessions ---------------------------------------------------------------

    def open_checkout_session(self, proposal_id: int, method: str, *, now: datetime) -> CheckoutSession | None:
        """The session a second click can reuse: open and not yet expired."""
        with self._transaction() as session:
            row = session.scalars(
                select(_CheckoutSessionRow).where(
                    _CheckoutSessionRow.proposal_id == proposal_id,
                    _CheckoutSessionRow.method == method,
                    _CheckoutSessionRow.status == CheckoutStatus.OPEN,
                    _CheckoutSessionRow.expires_at > now,
                )
            ).first()
            return CheckoutSession._of(row) if row else None

    def checkout_sessions(self, proposal_id: int) -> list[CheckoutSession]:
        """Every session recorded for the proposal, oldest first, whatever its status (the customer
        page checks them with Stripe, and counts them to key the next one)."""
        with self._transaction() as session:
            rows = session.scalars(
                select(_CheckoutSessionRow)
                .where(_CheckoutSessionRow.proposal_id == proposal_id)
                .order_by(_CheckoutSessionRow.id)
            )
            return [CheckoutSession._of(row) for row in rows]

    def record_checkout_session(
        self, proposal_id: int, *, method: str, stripe_session_id: str, url: str, expires_at: datetime
    ) -> CheckoutSession:
        """Record a new open session for (proposal, method); any previous open one is marked expired."""
        with self._transaction(write=True) as session:
            existing = session.scalars(
                select(_CheckoutSessionRow).where(_CheckoutSessionRow.stripe_session_id == stripe_session_id)
            ).first()
            if existing is not None:
                return CheckoutSession._of(existing)
            session.execute(
                update(_CheckoutSessionRow)
                .where(
                    _CheckoutSessionRow.proposal_id == proposal_id,
                    _CheckoutSessionRow.method == method,
                    _CheckoutSessionRow.status == CheckoutStatus.OPEN,
                )
                .values(status=CheckoutStatus.EXPIRED)
            )
            row = _CheckoutSessionRow(
                proposal_id=proposal_id,
                method=method,
                stripe_session_id=stripe_session_id,
                url=url,
                status=CheckoutStatus.OPEN,
                created_at=_now(),
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            return CheckoutSession._of(row)

    def set_checkout_session_status(self, stripe_session_id: str, status: CheckoutStatus) -> CheckoutSession | None:
        with self._transaction(write=True) as session:
            row = session.scalars(
                select(_CheckoutSessionRow)
                .where(_CheckoutSessionRow.stripe_session_id == stripe_session_id)
                .with_for_update()
            ).first()
            if row is None:
                return None
            row.status = status
            session.flush()
            return CheckoutSession._of(row)

    # --- Stripe events and cursors --------------------------------------------------------------

    def record_stripe_event(self, event_id: str, event_type: str, deliveries: Sequence[NewDelivery] = ()) -> bool:
        """True the first time an event is recorded, False if it was already processed.

        `deliveries` are the event's side effects (the transactional outbox): they are stored
        pending in the same transaction, only the first time, so an event is either processed
        with all its effects queued or not processed at all. A delivery whose key already exists
        is left as it is: keys name what must happen once (e.g. one email per invoice), whichever
        event asks for it.
        """
        insert = self._insert()
        statement = (
            insert(_StripeEventRow.__table__)
            .values(event_id=event_id, type=event_type, processed_at=_now())
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        with self._transaction(write=True) as session:
            if session.execute(statement).rowcount != 1:
                return False
            now = _now()
            for delivery in deliveries:
                session.execute(
                    insert(_DeliveryRow.__table__)
                    .values(
                        key=delivery.key,
                        kind=delivery.kind,
                        proposal_id=delivery.proposal_id,
                        status=DeliveryStatus.PENDING,
                        payload=delivery.payload,
                        attempts=0,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                )
            return True

    def _insert(self) -> Any:
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert

    def is_stripe_event_processed(self, event_id: str) -> bool:
        with self._transaction() as session:
            return session.get(_StripeEventRow, event_id) is not None

    def processed_stripe_events(self, event_ids: Sequence[str]) -> set[str]:
        """Those of `event_ids` already processed (one query per 500 ids, not one per event)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(event_ids))
        with self._transaction() as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                found.update(session.scalars(select(_StripeEventRow.event_id).where(_StripeEventRow.event_id.in_(chunk))))
        return found

    def first_acceptance_at(self) -> datetime | None:
        """When the oldest recorded acceptance happened: no Propale payment can be older."""
        with self._transaction() as session:
            return session.scalar(select(func.min(_AcceptanceRow.accepted_at)))

    def get_cursor(self, name: str) -> str | None:
        with self._transaction() as session:
            row = session.get(_CursorRow, name)
            return row.value if row else None

    def set_cursor(self, name: str, value: str) -> None:
        with self._transaction(write=True) as session:
            row = session.get(_CursorRow, name, with_for_update=True)
            if row is None:
                session.add(_CursorRow(name=name, value=value, updated_at=_now()))
            else:
                row.value = value
                row.updated_at = _now()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        # The default lives under AIRFLOW_HOME, which may not exist yet on a fresh machine.
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _take_over_transactions(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3's own BEGIN is deferred: two writers that both read first deadlock and one fails at
        # once with "database is locked". Propale emits BEGIN itself (below) instead.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute("PRAGMA journal_mode = WAL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A writer takes the write lock up front and waits its turn (busy timeout) for it.
        write = connection.get_execution_options().get("propale_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine

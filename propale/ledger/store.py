"""The Ledger: every read and write of Propale's ledger, one short transaction each.

SQLite by default, PostgreSQL in production. Every public method is one short transaction and
returns plain frozen records, never live ORM objects, so callers cannot lazy-load after commit.

How a proposal survives crashes and retries (the DAG's point of view):

1. `issue_proposal` allocates the number and inserts the draft row in the same transaction, so a
   number is never lost (gap-free) and a retry of the same rep request gets the same draft back.
2. The caller builds the snapshot for that number (`stage_snapshot` may freeze it first, so that
   later tasks render exactly it), renders the PDF and email, then `attach_document` stores them
   together with the token's hash and one outbox row per side effect (email, HubSpot
   write-back…) whose payload is the exact bytes to send. The token itself is never stored in
   clear, except inside those payloads, which are erased once delivered; the DAGs keep it sealed
   with their key (`propale.ledger.tokens.seal_token`) to write the link again.
3. For each pending delivery: `start_delivery`, send the payload, `complete_delivery`. A retry
   skips what is done and re-sends the identical payload (same Message-ID) for what is not, so the
   only possible duplicate is a crash between the SMTP server accepting and `complete_delivery`,
   and even then the customer's mail client can tell it is the same message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from propale.ledger.engine import create_ledger_engine
from propale.ledger.records import (
    PROPOSAL_EMAIL,
    Acceptance,
    CheckoutBusy,
    CheckoutSession,
    CheckoutStatus,
    CheckoutStillOpen,
    Delivery,
    DeliveryStatus,
    LedgerError,
    NewDelivery,
    Proposal,
    ProposalAlreadyAccepted,
    ProposalNotAcceptable,
    ProposalStatus,
)
from propale.ledger.schema import upgrade_schema
from propale.ledger.tables import (
    AcceptanceRow,
    CheckoutClaimRow,
    CheckoutSessionRow,
    CursorRow,
    DeliveryRow,
    InstallationRow,
    NumberSequenceRow,
    ProposalRow,
    RateLimitRow,
    StripeEventRow,
)
from propale.ledger.tokens import TOKEN_SHAPE, hash_token
from propale.proposals import (
    TIMEZONE,
    ProposalSnapshot,
    proposal_number,
    validity_period,
)
from propale.settings import Settings


def _now() -> datetime:
    return datetime.now(UTC)


# How long a click waits for another one on the same proposal (opening a Checkout Session takes a
# few Stripe calls) before the customer is told a payment is already in progress.
CHECKOUT_CLAIM_WAIT_S = 20.0
# SQLite's claim outlives a holder that crashed: past the lease, the next click takes it over. It
# must exceed what the Stripe calls under the claim can take with the client's retries.
CHECKOUT_CLAIM_LEASE = timedelta(minutes=5)
_CLAIM_POLL_S = 0.1


def _advisory_lock_id(name: str) -> int:
    """A PostgreSQL advisory lock's 64-bit key for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Ledger:
    """Propale's ledger on one database; brings its schema to the latest migration when it opens."""

    def __init__(self, url: str):
        self._engine = create_ledger_engine(url)
        self._installation_id: str | None = None
        # Production has already run them (`propale db upgrade`): then this is one cheap read.
        upgrade_schema(self._engine)

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
            return Proposal._of(
                self._issue(session, deal_id, request_key, source_fingerprint, issued_at, validity_days)
            )

    def _lock_deal(self, session: Session, deal_id: str) -> None:
        """Serialise issuing per deal until commit. A row lock is not enough on PostgreSQL: before a
        deal's first proposal there is no row to lock, and under READ COMMITTED a second issuer would
        see the first one's version only after deciding to draft its own. SQLite's BEGIN IMMEDIATE
        already serialises all writers."""
        if self._engine.dialect.name == "postgresql":
            lock_id = _advisory_lock_id(f"propale-deal:{deal_id}")
            session.execute(text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": lock_id})

    def _issue(
        self,
        session: Session,
        deal_id: str,
        request_key: str,
        source_fingerprint: str,
        issued_at: datetime,
        validity_days: int,
    ) -> ProposalRow:
        current = session.scalars(
            select(ProposalRow)
            .where(ProposalRow.deal_id == deal_id, ProposalRow.status != ProposalStatus.REPLACED)
            .order_by(ProposalRow.version.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if current is not None:
            if current.request_key == request_key:
                return current
            if current.status == ProposalStatus.ACCEPTED:
                # Accepted but unpaid, it may be replaced once none of its sessions can be paid any more.
                statuses = set(
                    session.scalars(
                        select(CheckoutSessionRow.status).where(CheckoutSessionRow.proposal_id == current.id)
                    )
                )
                if current.paid_session_id is not None or CheckoutStatus.COMPLETE in statuses:
                    raise ProposalAlreadyAccepted(current.number)
                if CheckoutStatus.OPEN in statuses:
                    raise CheckoutStillOpen(current.number)
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
                update(DeliveryRow)
                .where(DeliveryRow.proposal_id == current.id, DeliveryRow.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.CANCELLED, payload=None)
            )

        last_version = session.scalar(select(func.max(ProposalRow.version)).where(ProposalRow.deal_id == deal_id))
        valid_until, expires_at = validity_period(issued_at, validity_days)
        year = issued_at.astimezone(TIMEZONE).year
        row = ProposalRow(
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
            select(DeliveryRow).where(DeliveryRow.proposal_id == proposal_id, DeliveryRow.kind == PROPOSAL_EMAIL)
        )
        return all(
            row.status == DeliveryStatus.PENDING and (row.started_at is None or row.last_error is not None)
            for row in deliveries
        )

    def _next_sequence(self, session: Session, year: int) -> int:
        """The next number of the year, atomically: the upsert locks the year's row until commit,
        so concurrent issuers queue and a rolled-back issue gives its number back (no gaps)."""
        table = NumberSequenceRow.__table__
        statement = (
            self._insert()(table)
            .values(year=year, last_number=1)
            .on_conflict_do_update(index_elements=[table.c.year], set_={"last_number": table.c.last_number + 1})
            .returning(table.c.last_number)
        )
        number: int = session.execute(statement).scalar_one()
        return number

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
        token_sealed: str | None = None,
        deliveries: Sequence[NewDelivery] = (),
    ) -> Proposal:
        """Store a draft's PDF and token hash with the side effects to perform, atomically.

        The snapshot must be the staged one, if any (the PDF has to show what was frozen). If the
        draft already has its document (a concurrent or repeated call), nothing changes and the
        stored proposal is returned: the caller's token and deliveries are then discarded.
        """
        with self._transaction(write=True) as session:
            row = session.get(ProposalRow, proposal_id, with_for_update=True)
            if row is not None and row.pdf_sha256 is not None:
                return Proposal._of(row)
            row = self._draft_row(session, proposal_id, snapshot)
            if row.snapshot is not None and row.snapshot != snapshot.to_dict():
                raise ValueError(f"the snapshot differs from the one staged for {row.number} v{row.version}")
            row.snapshot = snapshot.to_dict()
            row.pdf = pdf
            row.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
            row.token_hash = hash_token(token)
            row.token_sealed = token_sealed
            now = _now()
            for delivery in deliveries:
                session.add(
                    DeliveryRow(
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
    def _draft_row(session: Session, proposal_id: int, snapshot: ProposalSnapshot) -> ProposalRow:
        row = session.get(ProposalRow, proposal_id, with_for_update=True)
        if row is None:
            raise LedgerError(f"no proposal with id {proposal_id}")
        if row.status != ProposalStatus.DRAFT:
            raise LedgerError(f"proposal {row.number} is {row.status}: its content can no longer change")
        if (snapshot.number, snapshot.version, snapshot.deal_id) != (row.number, row.version, row.deal_id):
            raise ValueError(
                f"the snapshot is for {snapshot.number} v{snapshot.version}, not {row.number} v{row.version}"
            )
        return row

    def has_document(self, proposal_id: int) -> bool:
        """Whether the proposal's PDF and link are attached (see `Proposal.has_document`)."""
        with self._transaction() as session:
            return session.scalar(select(ProposalRow.pdf_sha256).where(ProposalRow.id == proposal_id)) is not None

    def get_proposal(self, proposal_id: int) -> Proposal | None:
        with self._transaction() as session:
            row = session.get(ProposalRow, proposal_id)
            return Proposal._of(row) if row else None

    def proposal_by_number(self, number: str) -> Proposal | None:
        with self._transaction() as session:
            row = session.scalars(select(ProposalRow).where(ProposalRow.number == number)).first()
            return Proposal._of(row) if row else None

    def current_proposal(self, deal_id: str) -> Proposal | None:
        """The deal's latest proposal that has not been replaced."""
        with self._transaction() as session:
            row = session.scalars(
                select(ProposalRow)
                .where(ProposalRow.deal_id == deal_id, ProposalRow.status != ProposalStatus.REPLACED)
                .order_by(ProposalRow.version.desc())
                .limit(1)
            ).first()
            return Proposal._of(row) if row else None

    def find_by_token(self, token: str) -> Proposal | None:
        """The proposal a customer link points to, whatever its state (expired, replaced…), or None."""
        if not TOKEN_SHAPE.fullmatch(token):
            return None
        wanted = hash_token(token)
        with self._transaction() as session:
            row = session.scalars(select(ProposalRow).where(ProposalRow.token_hash == wanted)).first()
            # The index lookup compares hashes of a 256-bit secret, which tells an attacker nothing; the
            # constant-time comparison keeps it that way should the lookup ever become a prefix match.
            if row is None or row.token_hash is None or not hmac.compare_digest(row.token_hash, wanted):
                return None
            return Proposal._of(row)

    def sealed_token(self, proposal_id: int) -> str | None:
        """The proposal's link token as `attach_document` or `replace_token` sealed it (None for a
        proposal issued before links were sealed: its token is derived, see `propale.sending`)."""
        with self._transaction() as session:
            return session.scalar(select(ProposalRow.token_sealed).where(ProposalRow.id == proposal_id))

    def replace_token(self, proposal_id: int, token: str, token_sealed: str) -> None:
        """Give a proposal a new link: the old one leads nowhere from now on, the others are untouched."""
        with self._transaction(write=True) as session:
            row = session.get(ProposalRow, proposal_id, with_for_update=True)
            if row is None or row.token_hash is None:
                raise LedgerError(f"no proposal with a link has id {proposal_id}")
            row.token_hash = hash_token(token)
            row.token_sealed = token_sealed

    def proposal_pdf(self, proposal_id: int) -> bytes | None:
        with self._transaction() as session:
            return session.scalar(select(ProposalRow.pdf).where(ProposalRow.id == proposal_id))

    def expire_due(self, now: datetime) -> list[Proposal]:
        """Mark sent proposals past their validity as expired; returns those just expired."""
        with self._transaction(write=True) as session:
            rows = session.scalars(
                select(ProposalRow)
                .where(ProposalRow.status == ProposalStatus.SENT, ProposalRow.expires_at <= now)
                .with_for_update()
            ).all()
            for row in rows:
                row.status = ProposalStatus.EXPIRED
            session.flush()
            return [Proposal._of(row) for row in rows]

    # --- deliveries (the outbox) ----------------------------------------------------------------

    def delivery(self, key: str) -> Delivery | None:
        with self._transaction() as session:
            row = session.scalars(select(DeliveryRow).where(DeliveryRow.key == key)).first()
            return Delivery._of(row) if row else None

    def ensure_delivery(
        self, key: str, *, kind: str, proposal_id: int | None = None, payload: bytes | None = None
    ) -> Delivery:
        """The delivery with this key, created pending if it does not exist yet (Slack posts, notes…)."""
        for _ in range(2):
            try:
                with self._transaction(write=True) as session:
                    row = session.scalars(select(DeliveryRow).where(DeliveryRow.key == key)).first()
                    if row is None:
                        row = DeliveryRow(
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
            query = select(DeliveryRow).where(DeliveryRow.status == DeliveryStatus.PENDING)
            if kind is not None:
                query = query.where(DeliveryRow.kind == kind)
            if proposal_id is not None:
                query = query.where(DeliveryRow.proposal_id == proposal_id)
            return [Delivery._of(row) for row in session.scalars(query.order_by(DeliveryRow.id))]

    def start_delivery(self, key: str, attempt: int = 1) -> Delivery | None:
        """Claim attempt number `attempt` of a pending delivery, recorded before it is performed so
        that operators can tell a delivery that may have happened; None when the delivery is no
        longer as the caller read it (another attempt claimed it first, or it is done or cancelled).

        A compare-and-set: the update applies only to the row still pending with `attempt - 1`
        attempts, so of two attempts (a zombie task and its retry, two processes) that read the same
        row, exactly one claims it, on SQLite and PostgreSQL alike.
        """
        with self._transaction(write=True) as session:
            claim = (
                update(DeliveryRow)
                .where(
                    DeliveryRow.key == key,
                    DeliveryRow.status == DeliveryStatus.PENDING,
                    DeliveryRow.attempts == attempt - 1,
                )
                # Until `complete_delivery` or `fail_delivery`, this attempt's outcome is unknown.
                .values(attempts=attempt, started_at=_now(), last_error=None)
                .execution_options(synchronize_session=False)
            )
            claimed = cast("CursorResult[Any]", session.execute(claim)).rowcount == 1
            row = self._delivery_row(session, key)
            return Delivery._of(row) if claimed else None

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
                    update(ProposalRow)
                    .where(ProposalRow.id == row.proposal_id, ProposalRow.status == ProposalStatus.DRAFT)
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
    def _delivery_row(session: Session, key: str) -> DeliveryRow:
        row = session.scalars(select(DeliveryRow).where(DeliveryRow.key == key).with_for_update()).first()
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
    ) -> AcceptanceRow:
        proposal = session.get(ProposalRow, proposal_id, with_for_update=True)
        if proposal is None:
            raise LedgerError(f"no proposal with id {proposal_id}")
        existing = session.scalars(select(AcceptanceRow).where(AcceptanceRow.proposal_id == proposal_id)).first()
        if existing is not None:
            return existing
        if proposal.status != ProposalStatus.SENT:
            raise ProposalNotAcceptable(proposal.number, str(proposal.status))
        if accepted_at >= proposal.expires_at:
            raise ProposalNotAcceptable(proposal.number, ProposalStatus.EXPIRED)
        assert proposal.snapshot is not None and proposal.pdf_sha256 is not None  # a sent proposal has both
        if method not in proposal.snapshot["payment_methods"]:
            raise ProposalNotAcceptable(proposal.number, f"payment method {method!r} is not offered")
        row = AcceptanceRow(
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
            row = session.scalars(select(AcceptanceRow).where(AcceptanceRow.proposal_id == proposal_id)).first()
            return Acceptance._of(row) if row else None

    # --- Stripe Checkout sessions ---------------------------------------------------------------

    def open_checkout_session(self, proposal_id: int, method: str, *, now: datetime) -> CheckoutSession | None:
        """The session a second click can reuse: open and not yet expired."""
        with self._transaction() as session:
            row = session.scalars(
                select(CheckoutSessionRow).where(
                    CheckoutSessionRow.proposal_id == proposal_id,
                    CheckoutSessionRow.method == method,
                    CheckoutSessionRow.status == CheckoutStatus.OPEN,
                    CheckoutSessionRow.expires_at > now,
                )
            ).first()
            return CheckoutSession._of(row) if row else None

    def checkout_sessions(self, proposal_id: int) -> list[CheckoutSession]:
        """Every session recorded for the proposal, oldest first, whatever its status (the customer
        page checks them with Stripe, and counts them to key the next one)."""
        with self._transaction() as session:
            rows = session.scalars(
                select(CheckoutSessionRow)
                .where(CheckoutSessionRow.proposal_id == proposal_id)
                .order_by(CheckoutSessionRow.id)
            )
            return [CheckoutSession._of(row) for row in rows]

    def record_checkout_session(
        self, proposal_id: int, *, method: str, stripe_session_id: str, url: str, expires_at: datetime
    ) -> CheckoutSession:
        """Record a new open session for (proposal, method); any previous open one is marked expired."""
        with self._transaction(write=True) as session:
            existing = session.scalars(
                select(CheckoutSessionRow).where(CheckoutSessionRow.stripe_session_id == stripe_session_id)
            ).first()
            if existing is not None:
                return CheckoutSession._of(existing)
            session.execute(
                update(CheckoutSessionRow)
                .where(
                    CheckoutSessionRow.proposal_id == proposal_id,
                    CheckoutSessionRow.method == method,
                    CheckoutSessionRow.status == CheckoutStatus.OPEN,
                )
                .values(status=CheckoutStatus.EXPIRED)
            )
            row = CheckoutSessionRow(
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

    @staticmethod
    def _checkout_row_for_update(session: Session, stripe_session_id: str) -> CheckoutSessionRow | None:
        return session.scalars(
            select(CheckoutSessionRow)
            .where(CheckoutSessionRow.stripe_session_id == stripe_session_id)
            .with_for_update()
        ).first()

    def set_checkout_session_status(self, stripe_session_id: str, status: CheckoutStatus) -> CheckoutSession | None:
        with self._transaction(write=True) as session:
            row = self._checkout_row_for_update(session, stripe_session_id)
            if row is None:
                return None
            row.status = status
            session.flush()
            return CheckoutSession._of(row)

    @contextmanager
    def checkout_claim(self, proposal_id: int, *, wait_s: float = CHECKOUT_CLAIM_WAIT_S) -> Iterator[None]:
        """Hold the proposal's checkout lock while Stripe is asked to open or close its sessions, so
        that at most one of them is open whichever process or thread clicks; raises `CheckoutBusy`
        after waiting `wait_s` seconds for another holder.

        PostgreSQL: a transaction-level advisory lock on a connection of its own, released at the end
        of the block, or by the server when the holder's process dies. SQLite: BEGIN IMMEDIATE would
        serialise clicks too, but held across Stripe calls it would stop every other writer of the
        ledger (the DAGs' outbox, clicks on other proposals) for seconds, past their busy timeout.
        A claim row per proposal, taken by compare-and-set with a lease, holds up only this
        proposal, and the claim of a holder that crashed lapses with its lease.
        """
        deadline = time.monotonic() + wait_s
        if self._engine.dialect.name == "postgresql":
            lock_id = _advisory_lock_id(f"propale-checkout:{proposal_id}")
            with self._engine.connect() as connection, connection.begin():
                try_lock = text("SELECT pg_try_advisory_xact_lock(:lock_id)")
                while not connection.execute(try_lock, {"lock_id": lock_id}).scalar():
                    self._wait_for_claim(proposal_id, deadline)
                yield
            return
        holder = uuid.uuid4().hex
        while not self._claim(proposal_id, holder):
            self._wait_for_claim(proposal_id, deadline)
        try:
            yield
        finally:
            with self._transaction(write=True) as session:
                session.execute(
                    delete(CheckoutClaimRow).where(
                        CheckoutClaimRow.proposal_id == proposal_id, CheckoutClaimRow.holder == holder
                    )
                )

    def _claim(self, proposal_id: int, holder: str) -> bool:
        """Compare-and-set: take the proposal's claim if nobody holds it or its lease has run out."""
        now = _now()
        table = CheckoutClaimRow.__table__
        statement = (
            self._insert()(table)
            .values(proposal_id=proposal_id, holder=holder, expires_at=now + CHECKOUT_CLAIM_LEASE)
            .on_conflict_do_update(
                index_elements=[table.c.proposal_id],
                set_={"holder": holder, "expires_at": now + CHECKOUT_CLAIM_LEASE},
                where=table.c.expires_at <= now,
            )
        )
        with self._transaction(write=True) as session:
            return cast("CursorResult[Any]", session.execute(statement)).rowcount == 1

    @staticmethod
    def _wait_for_claim(proposal_id: int, deadline: float) -> None:
        if time.monotonic() >= deadline:
            raise CheckoutBusy(proposal_id)
        time.sleep(_CLAIM_POLL_S)

    def record_payment(self, stripe_session_id: str) -> str | None:
        """Record a session Stripe says is complete. Returns the proposal's payment: the session
        recorded first as paid (this one, unless another was), or None for a session not recorded."""
        with self._transaction(write=True) as session:
            row = self._checkout_row_for_update(session, stripe_session_id)
            if row is None:
                return None
            row.status = CheckoutStatus.COMPLETE
            proposal = session.get(ProposalRow, row.proposal_id, with_for_update=True)
            assert proposal is not None  # a foreign key
            if proposal.paid_session_id is None:
                proposal.paid_session_id = stripe_session_id
            session.flush()
            return proposal.paid_session_id

    def payment_of_record(self, proposal_id: int) -> str | None:
        """The Checkout Session recorded first as the proposal's payment, if any."""
        with self._transaction() as session:
            return session.scalar(select(ProposalRow.paid_session_id).where(ProposalRow.id == proposal_id))

    def awaiting_payment(self, accepted_before: datetime) -> list[tuple[Proposal, Acceptance]]:
        """Proposals accepted before `accepted_before` and still unpaid, oldest acceptance first."""
        with self._transaction() as session:
            rows = session.execute(
                select(ProposalRow, AcceptanceRow)
                .join(AcceptanceRow, AcceptanceRow.proposal_id == ProposalRow.id)
                .where(
                    ProposalRow.status == ProposalStatus.ACCEPTED,
                    ProposalRow.paid_session_id.is_(None),
                    AcceptanceRow.accepted_at < accepted_before,
                )
                .order_by(AcceptanceRow.accepted_at)
            ).all()
            return [(Proposal._of(proposal), Acceptance._of(acceptance)) for proposal, acceptance in rows]

    def close_payment_window(self, proposal_id: int, deliveries: Sequence[NewDelivery] = ()) -> bool:
        """Mark an accepted, unpaid proposal expired, with the deliveries telling the team, atomically.

        Only when none of its sessions is open or paid (the caller has expired them at Stripe under
        `checkout_claim`); False, and nothing queued, otherwise or when it was closed already.
        """
        with self._transaction(write=True) as session:
            row = session.get(ProposalRow, proposal_id, with_for_update=True)
            if row is None or row.status != ProposalStatus.ACCEPTED or row.paid_session_id is not None:
                return False
            live = session.scalar(
                select(func.count())
                .select_from(CheckoutSessionRow)
                .where(
                    CheckoutSessionRow.proposal_id == proposal_id,
                    CheckoutSessionRow.status.in_([CheckoutStatus.OPEN, CheckoutStatus.COMPLETE]),
                )
            )
            if live:
                return False
            row.status = ProposalStatus.EXPIRED
            self._queue(session, deliveries)
            return True

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
            insert(StripeEventRow.__table__)
            .values(event_id=event_id, type=event_type, processed_at=_now())
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        with self._transaction(write=True) as session:
            if cast("CursorResult[Any]", session.execute(statement)).rowcount != 1:
                return False
            self._queue(session, deliveries)
            return True

    def _queue(self, session: Session, deliveries: Sequence[NewDelivery]) -> None:
        """Store deliveries pending; one whose key exists already is left as it is."""
        now = _now()
        for delivery in deliveries:
            session.execute(
                self._insert()(DeliveryRow.__table__)
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

    def _insert(self) -> Any:
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert
        from sqlalchemy.dialects import sqlite

        return sqlite.insert

    def is_stripe_event_processed(self, event_id: str) -> bool:
        with self._transaction() as session:
            return session.get(StripeEventRow, event_id) is not None

    def processed_stripe_events(self, event_ids: Sequence[str]) -> set[str]:
        """Those of `event_ids` already processed (one query per 500 ids, not one per event)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(event_ids))
        with self._transaction() as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                found.update(session.scalars(select(StripeEventRow.event_id).where(StripeEventRow.event_id.in_(chunk))))
        return found

    def first_acceptance_at(self) -> datetime | None:
        """When the oldest recorded acceptance happened: no Propale payment can be older."""
        with self._transaction() as session:
            return session.scalar(select(func.min(AcceptanceRow.accepted_at)))

    def get_cursor(self, name: str) -> str | None:
        with self._transaction() as session:
            row = session.get(CursorRow, name)
            return row.value if row else None

    def set_cursor(self, name: str, value: str) -> None:
        with self._transaction(write=True) as session:
            row = session.get(CursorRow, name, with_for_update=True)
            if row is None:
                session.add(CursorRow(name=name, value=value, updated_at=_now()))
            else:
                row.value = value
                row.updated_at = _now()

    # --- the installation -----------------------------------------------------------------------

    def installation_id(self) -> str:
        """This ledger's installation id, made the first time it is asked for and kept.

        Propale's Stripe idempotency keys carry it (`propale.billing`): two installations, or a
        ledger started afresh, never collide in one Stripe account. After restoring a backup,
        deleting its row (docs/deployment.md) makes a new one, so that the keys of what the restored
        ledger redoes cannot meet the keys Stripe remembers from after the backup.
        """
        if self._installation_id is None:
            table = InstallationRow.__table__
            with self._transaction(write=True) as session:
                session.execute(
                    self._insert()(table)
                    .values(singleton=1, installation_id=secrets.token_hex(8), created_at=_now())
                    .on_conflict_do_nothing(index_elements=[table.c.singleton])
                )
                self._installation_id = session.scalars(select(InstallationRow.installation_id)).one()
        return self._installation_id

    # --- the customer page's rate limit -----------------------------------------------------------

    def count_request(self, client: str, *, now: datetime, window: timedelta) -> tuple[int, datetime]:
        """Count one request of `client` in its current window, a new one when the last is over.

        Returns the requests counted in the window, this one included, and when the window started.
        The windows that are over are deleted first, then one upsert counts: the page's processes
        sharing the ledger never lose a request (PostgreSQL locks the client's row until commit,
        SQLite's writers take turns).
        """
        table = RateLimitRow.__table__
        statement = (
            self._insert()(table)
            .values(client=client, window_started_at=now, requests=1)
            .on_conflict_do_update(index_elements=[table.c.client], set_={"requests": table.c.requests + 1})
            .returning(table.c.requests, table.c.window_started_at)
        )
        with self._transaction(write=True) as session:
            session.execute(delete(RateLimitRow).where(RateLimitRow.window_started_at <= now - window))
            requests, window_started_at = session.execute(statement).one()
            return int(requests), window_started_at

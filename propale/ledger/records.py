"""What the ledger hands to callers and takes from them: frozen records, statuses, errors, keys."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from propale.proposals import ProposalSnapshot

if TYPE_CHECKING:
    from propale.ledger.tables import (
        AcceptanceRow,
        CheckoutSessionRow,
        DeliveryRow,
        ProposalRow,
    )

PROPOSAL_EMAIL = "proposal-email"


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
    """The rep asked for a new proposal on a deal whose proposal the customer already accepted and paid."""

    def __init__(self, number: str):
        super().__init__(
            f"La proposition {number} a déjà été acceptée et payée par le client : pour une nouvelle offre, "
            "créez une nouvelle transaction."
        )
        self.number = number


class CheckoutStillOpen(LedgerError):
    """An accepted proposal cannot be replaced while one of its Checkout Sessions may still be paid:
    the caller expires them at Stripe first (see `propale.payment_window.close_open_sessions`)."""

    def __init__(self, number: str):
        super().__init__(f"proposal {number} still has an open Checkout Session")
        self.number = number


class CheckoutBusy(LedgerError):
    """Another click (or a DAG closing the proposal) holds the proposal's checkout lock."""

    def __init__(self, proposal_id: int):
        super().__init__(f"the checkout of proposal {proposal_id} is busy")
        self.proposal_id = proposal_id


class ProposalNotAcceptable(LedgerError):
    """The customer tried to accept a proposal that is not open (`reason`: its status)."""

    def __init__(self, number: str, reason: str):
        super().__init__(f"proposal {number} cannot be accepted: {reason}")
        self.number = number
        self.reason = reason


def delivery_key(kind: str, number: str, version: int) -> str:
    """The idempotency key of one side effect of one proposal version, e.g. proposal-email:DEV-2026-00042:v1."""
    return f"{kind}:{number}:v{version}"


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
    def _of(cls, row: ProposalRow) -> Proposal:
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

    @property
    def outcome_unknown(self) -> bool:
        """An attempt was started and neither completed nor failed: it stopped between performing
        the delivery and recording it, so the delivery may have happened."""
        return self.is_pending and self.started_at is not None and self.last_error is None

    @classmethod
    def _of(cls, row: DeliveryRow) -> Delivery:
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
    def _of(cls, row: AcceptanceRow) -> Acceptance:
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
    def _of(cls, row: CheckoutSessionRow) -> CheckoutSession:
        return cls(
            proposal_id=row.proposal_id,
            method=row.method,
            stripe_session_id=row.stripe_session_id,
            url=row.url,
            status=CheckoutStatus(row.status),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

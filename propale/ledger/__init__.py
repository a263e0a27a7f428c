"""Propale's own ledger: proposals, numbering, the outbox of side effects, acceptances, Stripe state.

- `store`: the `Ledger` class, every read and write (how a proposal survives crashes is told there);
- `records`: the frozen records, statuses and errors it hands out;
- `tables`: the SQLAlchemy tables, created and changed by the Alembic migrations in propale/migrations/;
- `engine`: the database engine (SQLite's locking taken over, PostgreSQL pooled);
- `tokens`: customer links' secrets, stored hashed.

Callers import from `propale.ledger` only.
"""

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
    delivery_key,
)
from propale.ledger.store import Ledger
from propale.ledger.tokens import hash_token, new_token, seal_token, unseal_token

__all__ = [
    "PROPOSAL_EMAIL",
    "Acceptance",
    "CheckoutBusy",
    "CheckoutSession",
    "CheckoutStatus",
    "CheckoutStillOpen",
    "Delivery",
    "DeliveryStatus",
    "Ledger",
    "LedgerError",
    "NewDelivery",
    "Proposal",
    "ProposalAlreadyAccepted",
    "ProposalNotAcceptable",
    "ProposalStatus",
    "delivery_key",
    "hash_token",
    "new_token",
    "seal_token",
    "unseal_token",
]

"""Deliver each effect once: the one loop over the ledger's outbox, used by both DAGs.

Each DAG records its side effects in the ledger as deliveries (a proposal email, a note on a deal,
a Slack message…) in the same transaction as the fact that causes them. This module performs
them: it claims a pending delivery (records the attempt), performs it, and records it done, or
failed with the reason. A DAG only says what each kind of delivery is and how to perform it.

An attempt ends one of three ways:
- done: recorded, the payload erased;
- refused for good (the performer raises `Refused`, e.g. the mail server rejects the address):
  recorded as failed with the reason and cancelled, never attempted again; the caller tells a human;
- failed: any other error is taken as transient (nothing was accepted): recorded as failed with
  the error's type, and raised, so that the task's retry performs the delivery again.

At most once: an email must never go out twice. An attempt cut off between performing and
recording (the worker died) leaves its delivery started with no outcome; an at-most-once delivery
is then not performed again but reported `UNCONFIRMED`, for a human to check. Other kinds (Slack
messages) are performed again: a duplicate is the lesser harm.

HubSpot writes are batches that HubSpot judges record by record; writing again is harmless, so
they are not claimed one by one: `record_batch` records each record's outcome.
"""

from __future__ import annotations

import enum
import logging
import smtplib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from email.message import EmailMessage

from propale.emails import parse_stored
from propale.ledger import Delivery, Ledger

log = logging.getLogger(__name__)

Perform = Callable[[Delivery], None]
EmailSender = Callable[[EmailMessage], None]


class Refused(Exception):
    """Raised by a performer: the receiver refused this delivery for good; retrying cannot help."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Outcome(enum.StrEnum):
    DONE = "done"
    REFUSED = "refused"  # refused for good: cancelled
    UNCONFIRMED = "unconfirmed"  # an earlier attempt may have performed it: not performed again


def deliver(ledger: Ledger, delivery: Delivery, perform: Perform, *, at_most_once: bool) -> Outcome:
    """Perform one pending delivery and record how it ended; a transient error is recorded and raised."""
    if at_most_once and delivery.outcome_unknown:
        return Outcome.UNCONFIRMED
    ledger.start_delivery(delivery.key)
    try:
        perform(delivery)
    except Refused as refusal:
        ledger.fail_delivery(delivery.key, refusal.reason)
        ledger.cancel_delivery(delivery.key)
        return Outcome.REFUSED
    except Exception as error:
        ledger.fail_delivery(delivery.key, type(error).__name__)
        raise
    ledger.complete_delivery(delivery.key)
    return Outcome.DONE


def deliver_pending(
    ledger: Ledger,
    kind: str,
    perform: Perform,
    *,
    at_most_once: bool,
    tell: Callable[[Delivery, Outcome], None] | None = None,
) -> Counter[Outcome]:
    """Perform every pending delivery of `kind`, in the order they were queued; stops at the first
    transient error (raised: the task's retry goes on from there).

    An unconfirmed delivery is cancelled (it will never be performed); `tell` is called for each
    delivery unconfirmed or refused, to let a human know.
    """
    tally: Counter[Outcome] = Counter()
    for delivery in ledger.pending_deliveries(kind=kind):
        outcome = deliver(ledger, delivery, perform, at_most_once=at_most_once)
        if outcome is Outcome.UNCONFIRMED:
            ledger.cancel_delivery(delivery.key)
            log.warning("Delivery %s was interrupted earlier: not performed again, the team is told", delivery.key)
        if outcome is not Outcome.DONE and tell is not None:
            tell(delivery, outcome)
        tally[outcome] += 1
    return tally


def record_batch(ledger: Ledger, keys: Iterable[str], refusals: Mapping[str, str]) -> None:
    """Record the deliveries of a batch write: those refused (by key, with the reason) stay pending
    for the next attempt, the others are done."""
    for key in keys:
        if key in refusals:
            ledger.fail_delivery(key, refusals[key])
        else:
            ledger.complete_delivery(key)


def email_performer(send_email: EmailSender) -> Perform:
    """Sends a delivery whose payload is a stored email; a refused recipient is a refusal for good."""

    def send(delivery: Delivery) -> None:
        try:
            send_email(parse_stored(delivery.payload or b""))
        except smtplib.SMTPRecipientsRefused as error:
            raise Refused("recipient refused") from error

    return send

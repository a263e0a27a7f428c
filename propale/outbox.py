"""Deliver each effect once: the one loop over the ledger's outbox, used by both DAGs.

Each DAG records its side effects in the ledger as deliveries (a proposal email, a note on a deal,
a Slack message…) in the same transaction as the fact that causes them. This module performs
them: it claims a pending delivery (records the attempt), performs it, and records it done, or
failed with the reason. A DAG only says what each kind of delivery is and how to perform it.

The claim is a compare-and-set on the delivery row (`Ledger.start_delivery`): of two attempts that
read the same pending delivery (a zombie task and its retry, a manual run beside a scheduled one),
one claims it and performs it; the other is told `TAKEN` and leaves it alone.

An attempt ends one of three ways:
- done: recorded, the payload erased;
- refused for good (the performer raises `Refused`: the receiver judged this one message and
  refused it, e.g. the mail server rejects the address with a 5xx, Slack answers 400): recorded as
  failed with the reason and cancelled, never attempted again; it is logged once, the caller tells
  a human, and the queue goes on with the next delivery;
- failed: any other error is taken as transient (nothing was accepted): recorded as failed with
  the error's type, and raised, so that the task's retry performs the delivery again.

At most once: an email must never go out twice. An attempt cut off between performing and
recording (the worker died) leaves its delivery started with no outcome; an at-most-once delivery
is then not performed again but reported `UNCONFIRMED`, for a human to check. Other kinds (Slack
messages) are performed again: a duplicate is the lesser harm.

HubSpot writes are batches that HubSpot judges record by record: `claim_batch` claims each
delivery of a batch the same way before it is written (so that two attempts do not both create a
note), and `record_batch` records each record's outcome.
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
    TAKEN = "taken"  # another attempt claimed it first: that attempt performs it and records how it ended


def deliver(ledger: Ledger, delivery: Delivery, perform: Perform, *, at_most_once: bool) -> Outcome:
    """Claim one pending delivery as it was read, perform it and record how it ended; a transient
    error is recorded and raised. `TAKEN` when another attempt claimed it first."""
    if at_most_once and delivery.outcome_unknown:
        return Outcome.UNCONFIRMED
    if ledger.start_delivery(delivery.key, attempt=delivery.attempts + 1) is None:
        return Outcome.TAKEN
    try:
        perform(delivery)
    except Refused as refusal:
        ledger.fail_delivery(delivery.key, refusal.reason)
        ledger.cancel_delivery(delivery.key)
        # The one log line for a dropped delivery: its key and the receiver's short reason, never
        # the payload (an address, a link with its token).
        log.warning("Delivery %s was refused for good (%s): cancelled, the queue goes on", delivery.key, refusal.reason)
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
    transient error (raised: the task's retry goes on from there). A delivery refused for good does
    not stop the others.

    An unconfirmed delivery is cancelled (it will never be performed); `tell` is called for each
    delivery unconfirmed or refused, to let a human know. One another attempt has taken is left to it.
    """
    tally: Counter[Outcome] = Counter()
    for delivery in ledger.pending_deliveries(kind=kind):
        outcome = deliver(ledger, delivery, perform, at_most_once=at_most_once)
        if outcome is Outcome.UNCONFIRMED:
            ledger.cancel_delivery(delivery.key)
            log.warning("Delivery %s was interrupted earlier: not performed again, the team is told", delivery.key)
        if outcome in (Outcome.UNCONFIRMED, Outcome.REFUSED) and tell is not None:
            tell(delivery, outcome)
        tally[outcome] += 1
    return tally


def claim_batch(ledger: Ledger, deliveries: Iterable[Delivery]) -> list[Delivery]:
    """The deliveries of a batch write that this attempt claimed (see `deliver`); the others were
    claimed by another attempt, which writes them."""
    return [d for d in deliveries if ledger.start_delivery(d.key, attempt=d.attempts + 1) is not None]


def record_batch(ledger: Ledger, keys: Iterable[str], refusals: Mapping[str, str]) -> None:
    """Record the deliveries of a batch write: those refused (by key, with the reason) stay pending
    for the next attempt, the others are done."""
    for key in keys:
        if key in refusals:
            ledger.fail_delivery(key, refusals[key])
        else:
            ledger.complete_delivery(key)


def email_performer(send_email: EmailSender) -> Perform:
    """Sends a delivery whose payload is a stored email; the mail server's permanent refusal of
    this message (a 5xx reply to its recipient or its content) is a refusal for good.

    SMTP's first digit says it (https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1): 4yz is
    transient, 5yz permanent. A refused sender is left transient: it is the sending account's
    setting, not this message's, and would refuse every message alike. The server's text may quote
    the address, so only its code is kept.
    """

    def send(delivery: Delivery) -> None:
        try:
            send_email(parse_stored(delivery.payload or b""))
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            if all(code >= 500 for code in codes):
                raise Refused(f"recipient refused (SMTP {', '.join(map(str, codes))})") from error
            raise
        except smtplib.SMTPDataError as error:
            if error.smtp_code >= 500:
                raise Refused(f"message refused (SMTP {error.smtp_code})") from error
            raise

    return send

"""The outbox loop on a real ledger: each delivery performed once, its end recorded."""

from __future__ import annotations

import pytest

from propale import outbox
from propale.ledger import Delivery, DeliveryStatus, Ledger

KIND = "test-kind"


def queue(ledger: Ledger, *names: str) -> None:
    for name in names:
        ledger.ensure_delivery(f"{KIND}:{name}", kind=KIND, payload=name.encode())


def test_each_pending_delivery_is_performed_once_in_order_and_recorded_done(ledger: Ledger) -> None:
    queue(ledger, "a", "b")
    performed: list[bytes | None] = []
    tally = outbox.deliver_pending(ledger, KIND, lambda d: performed.append(d.payload), at_most_once=True)
    assert performed == [b"a", b"b"]
    assert tally[outbox.Outcome.DONE] == 2
    assert outbox.deliver_pending(ledger, KIND, lambda d: performed.append(d.payload), at_most_once=True).total() == 0
    assert ledger.delivery(f"{KIND}:a").status == DeliveryStatus.DONE  # type: ignore[union-attr]


def test_a_transient_error_is_recorded_and_raised_and_the_retry_performs_it(ledger: Ledger) -> None:
    queue(ledger, "a")

    def down(delivery: Delivery) -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        outbox.deliver_pending(ledger, KIND, down, at_most_once=True)
    failed = ledger.delivery(f"{KIND}:a")
    assert failed is not None and failed.is_pending and failed.last_error == "ConnectionError"
    # A failed attempt is known not to have happened: even at most once, it is performed again.
    assert outbox.deliver_pending(ledger, KIND, lambda d: None, at_most_once=True)[outbox.Outcome.DONE] == 1


def test_a_refusal_cancels_the_delivery_with_its_reason_and_the_loop_goes_on(ledger: Ledger) -> None:
    queue(ledger, "a", "b")
    told: list[tuple[str, outbox.Outcome]] = []

    def perform(delivery: Delivery) -> None:
        if delivery.payload == b"a":
            raise outbox.Refused("recipient refused")

    tally = outbox.deliver_pending(ledger, KIND, perform, at_most_once=True, tell=lambda d, o: told.append((d.key, o)))
    assert (tally[outbox.Outcome.REFUSED], tally[outbox.Outcome.DONE]) == (1, 1)
    assert told == [(f"{KIND}:a", outbox.Outcome.REFUSED)]
    refused = ledger.delivery(f"{KIND}:a")
    assert refused is not None and (refused.status, refused.last_error) == (
        DeliveryStatus.CANCELLED,
        "recipient refused",
    )


def test_an_interrupted_attempt_is_not_repeated_at_most_once_but_is_otherwise(ledger: Ledger) -> None:
    queue(ledger, "once", "again")
    ledger.start_delivery(f"{KIND}:once")  # the worker died before recording the outcome
    ledger.start_delivery(f"{KIND}:again")
    told: list[str] = []
    tally = outbox.deliver_pending(
        ledger, KIND, lambda d: None, at_most_once=True, tell=lambda d, o: told.append(d.key)
    )
    assert tally[outbox.Outcome.UNCONFIRMED] == 2 and told == [f"{KIND}:once", f"{KIND}:again"]
    assert ledger.delivery(f"{KIND}:once").status == DeliveryStatus.CANCELLED  # type: ignore[union-attr]

    queue(ledger, "slack")
    ledger.start_delivery(f"{KIND}:slack")
    assert outbox.deliver_pending(ledger, KIND, lambda d: None, at_most_once=False)[outbox.Outcome.DONE] == 1


def test_a_batch_records_what_was_refused_as_pending_with_the_reason_and_the_rest_done(ledger: Ledger) -> None:
    queue(ledger, "a", "b")
    outbox.record_batch(ledger, [f"{KIND}:a", f"{KIND}:b"], {f"{KIND}:b": "RATE_LIMITS: slow down"})
    a, b = ledger.delivery(f"{KIND}:a"), ledger.delivery(f"{KIND}:b")
    assert a is not None and a.status == DeliveryStatus.DONE
    assert b is not None and b.is_pending and b.last_error == "RATE_LIMITS: slow down"

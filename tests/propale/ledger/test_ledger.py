"""The ledger on SQLite and PostgreSQL: numbering, idempotent issuing, the outbox, tokens, acceptances.

PostgreSQL tests use the server on 127.0.0.1:5432 (database `test`, trust auth; override with
PROPALE_TEST_POSTGRES_URL), each in a schema of its own; they are skipped, saying why, when no
server answers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from propale import outbox
from propale.ledger import (
    PROPOSAL_EMAIL,
    CheckoutStatus,
    DeliveryStatus,
    Ledger,
    LedgerError,
    NewDelivery,
    ProposalAlreadyAccepted,
    ProposalNotAcceptable,
    ProposalStatus,
    delivery_key,
    hash_token,
    new_token,
)
from propale.proposals import build_snapshot
from support.factories import ISSUED_AT, OFFICE, SETUP, sample_deal, sample_settings


@pytest.fixture
def ledger(db_url) -> Iterator[Ledger]:
    with Ledger(db_url) as opened:
        yield opened


def issue(
    ledger: Ledger,
    deal_id: str = "9001",
    request_key: str = "req-1",
    fingerprint: str = "source-a",
    at: datetime = ISSUED_AT,
):
    return ledger.issue_proposal(
        deal_id, request_key=request_key, source_fingerprint=fingerprint, issued_at=at, validity_days=30
    )


def attach(ledger: Ledger, proposal, token: str | None = None, email: bytes = b"the email"):
    """What the DAG does after issuing: render for the number, then store with the outbox rows."""
    snapshot = build_snapshot(
        sample_deal(id=proposal.deal_id),
        sample_settings(),
        proposal.number,
        proposal.version,
        proposal.issued_at,
        proposal.valid_until,
    )
    token = token or new_token()
    key = delivery_key(PROPOSAL_EMAIL, proposal.number, proposal.version)
    stored = ledger.attach_document(
        proposal.id,
        snapshot=snapshot,
        pdf=b"%PDF-" + proposal.number.encode(),
        token=token,
        deliveries=[NewDelivery(key, PROPOSAL_EMAIL, email + b" " + token.encode())],
    )
    return stored, token, key


def send_pending(ledger: Ledger, proposal_id: int, send: Callable[[bytes], None]) -> None:
    """The DAG's delivery loop for one proposal."""
    for delivery in ledger.pending_deliveries(proposal_id=proposal_id):
        ledger.start_delivery(delivery.key, attempt=delivery.attempts + 1)
        send(delivery.payload)
        ledger.complete_delivery(delivery.key)


def publish(ledger: Ledger, proposal) -> tuple[object, str]:
    """Issue's happy path up to the email being sent; returns the sent proposal and its token."""
    stored, token, _ = attach(ledger, proposal)
    send_pending(ledger, stored.id, lambda payload: None)
    return ledger.get_proposal(stored.id), token


# --- numbering ----------------------------------------------------------------------------------


def test_numbers_are_sequential_per_year_in_paris_time(ledger):
    first = issue(ledger, "1")
    second = issue(ledger, "2")
    assert (first.number, second.number) == ("DEV-2026-00001", "DEV-2026-00002")
    new_year_in_paris = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert issue(ledger, "3", at=new_year_in_paris).number == "DEV-2027-00001"
    assert issue(ledger, "4").number == "DEV-2026-00003"


def test_a_failed_issue_gives_its_number_back(ledger, monkeypatch):
    issue(ledger, "1")
    allocate = Ledger._next_sequence

    def allocate_then_crash(self, session, year):
        allocate(self, session, year)
        raise RuntimeError("worker killed after the number was allocated")

    monkeypatch.setattr(Ledger, "_next_sequence", allocate_then_crash)
    with pytest.raises(RuntimeError):
        issue(ledger, "2")
    monkeypatch.setattr(Ledger, "_next_sequence", allocate)
    assert issue(ledger, "2").number == "DEV-2026-00002"


def test_concurrent_issuers_get_gap_free_unique_numbers(db_url):
    # One Ledger (engine, connection pool) per worker: on PostgreSQL these are separate connections
    # racing for the same counter row; on SQLite, separate connections racing for the write lock.
    workers, per_worker = 8, 5
    ledgers = [Ledger(db_url) for _ in range(workers)]
    barrier = threading.Barrier(workers)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait()
            for n in range(per_worker):
                numbers.append(issue(ledgers[index], f"deal-{index}-{n}").number)
        except BaseException as error:  # reported below with the failing worker's traceback
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in ledgers:
        opened.close()
    assert not errors, errors
    assert sorted(numbers) == [f"DEV-2026-{n:05d}" for n in range(1, workers * per_worker + 1)]


def test_concurrent_requests_for_the_same_deal_yield_one_proposal(db_url):
    workers = 6
    ledgers = [Ledger(db_url) for _ in range(workers)]
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def work(index: int) -> None:
        try:
            barrier.wait()
            results.append(issue(ledgers[index], "same-deal"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in ledgers:
        opened.close()
    assert not errors, errors
    assert {(p.number, p.version) for p in results} == {("DEV-2026-00001", 1)}


# --- issuing, retries and re-proposals ----------------------------------------------------------


def test_issue_records_a_draft_with_its_validity(ledger):
    proposal = issue(ledger)
    assert proposal.status == ProposalStatus.DRAFT and proposal.version == 1
    assert not proposal.has_document
    assert proposal.valid_until.isoformat() == "2026-04-01"
    assert proposal.expires_at == datetime(2026, 4, 1, 22, 0, tzinfo=UTC)  # midnight, Paris summer time
    assert proposal.issued_at == ISSUED_AT and proposal.issued_at.tzinfo is not None


def test_retrying_the_same_request_returns_the_same_proposal(ledger):
    first = issue(ledger)
    assert issue(ledger) == first
    published, _ = publish(ledger, first)
    assert issue(ledger) == published  # even once sent: the same request never makes a new version


def test_a_new_request_on_an_unchanged_unsent_draft_reuses_it(ledger):
    first = issue(ledger)
    again = issue(ledger, request_key="req-2")
    assert (again.id, again.number, again.version) == (first.id, first.number, 1)
    assert again.request_key == "req-2"


def test_a_changed_deal_before_sending_replaces_the_draft(ledger):
    first = issue(ledger)
    _, _, key = attach(ledger, first)
    second = issue(ledger, request_key="req-2", fingerprint="source-b")
    assert (second.version, second.number) == (2, "DEV-2026-00002")
    assert ledger.get_proposal(first.id).status == ProposalStatus.REPLACED
    cancelled = ledger.delivery(key)
    assert cancelled.status == DeliveryStatus.CANCELLED and cancelled.payload is None
    assert ledger.pending_deliveries() == []


def test_re_proposal_after_sending_makes_version_two_and_retires_the_old_link(ledger):
    first, old_token = publish(ledger, issue(ledger))
    assert first.status == ProposalStatus.SENT and first.sent_at is not None
    second = issue(ledger, request_key="req-2")  # same source: the rep just asked again
    assert (second.version, second.number, second.status) == (2, "DEV-2026-00002", ProposalStatus.DRAFT)
    assert ledger.find_by_token(old_token).status == ProposalStatus.REPLACED
    assert ledger.current_proposal("9001").id == second.id


def test_a_paid_proposal_is_not_reissued_an_accepted_unpaid_one_is(ledger):
    sent, _ = publish(ledger, issue(ledger))
    ledger.record_acceptance(sent.id, method="card", accepted_at=ISSUED_AT, ip="203.0.113.7", user_agent="Firefox")
    second = issue(ledger, request_key="req-2")  # no payment page open: the rep may propose again
    assert (second.version, ledger.get_proposal(sent.id).status) == (2, ProposalStatus.REPLACED)

    paid, _ = publish(ledger, second)
    ledger.record_acceptance(paid.id, method="card", accepted_at=ISSUED_AT, ip="203.0.113.7", user_agent="Firefox")
    ledger.record_checkout_session(
        paid.id,
        method="card",
        stripe_session_id="cs_paid",
        url="https://checkout.example/cs_paid",
        expires_at=ISSUED_AT + timedelta(hours=24),
    )
    assert ledger.record_payment("cs_paid") == "cs_paid"
    with pytest.raises(ProposalAlreadyAccepted) as caught:
        issue(ledger, request_key="req-3")
    assert str(caught.value) == (
        "La proposition DEV-2026-00002 a déjà été acceptée et payée par le client : pour une nouvelle offre, "
        "créez une nouvelle transaction."
    )


def test_crash_before_attaching_then_retry_keeps_the_number_and_sends_once(ledger):
    sent: list[bytes] = []
    issued = issue(ledger)
    # The worker dies while rendering; the retry gets the same numbered draft, still without document.
    retried = issue(ledger)
    assert (retried.number, retried.has_document) == (issued.number, False)
    stored, token, key = attach(ledger, retried)
    send_pending(ledger, stored.id, sent.append)
    send_pending(ledger, stored.id, sent.append)  # a rerun has nothing left to send
    assert sent == [b"the email " + token.encode()]
    assert ledger.get_proposal(stored.id).status == ProposalStatus.SENT
    assert ledger.delivery(key).payload is None  # the link is no longer kept once delivered


def test_crash_after_attaching_resends_the_identical_stored_email(ledger):
    stored, token, key = attach(ledger, issue(ledger))
    ledger.start_delivery(key)  # ...and the worker dies before it knows whether SMTP took the message
    pending = ledger.delivery(key)
    assert pending.status == DeliveryStatus.PENDING and pending.attempts == 1 and pending.started_at is not None

    retried = issue(ledger)
    assert retried.has_document and retried.number == stored.number
    sent: list[bytes] = []
    send_pending(ledger, retried.id, sent.append)
    assert sent == [b"the email " + token.encode()]  # the same bytes: same link, same Message-ID
    assert ledger.delivery(key).attempts == 2


def test_attaching_twice_keeps_the_first_document_and_token(ledger):
    proposal = issue(ledger)
    first, first_token, _ = attach(ledger, proposal)
    second, second_token, _ = attach(ledger, proposal)
    assert second == first
    assert ledger.find_by_token(first_token).id == proposal.id
    assert ledger.find_by_token(second_token) is None


def test_staged_snapshot_is_frozen_before_rendering(ledger):
    proposal = issue(ledger)
    snapshot = build_snapshot(
        sample_deal(), sample_settings(), proposal.number, 1, proposal.issued_at, proposal.valid_until
    )
    staged = ledger.stage_snapshot(proposal.id, snapshot)
    assert staged.snapshot == snapshot and not staged.has_document and not ledger.has_document(proposal.id)
    # A retry that rebuilt the content from a changed deal does not overwrite what was frozen.
    changed = build_snapshot(
        sample_deal(line_items=(OFFICE,)),
        sample_settings(),
        proposal.number,
        1,
        proposal.issued_at,
        proposal.valid_until,
    )
    assert ledger.stage_snapshot(proposal.id, changed).snapshot == snapshot
    with pytest.raises(ValueError, match="differs from the one staged"):
        ledger.attach_document(proposal.id, snapshot=changed, pdf=b"%PDF", token=new_token())
    stored, _token, key = attach(ledger, ledger.get_proposal(proposal.id))
    assert stored.has_document and ledger.has_document(proposal.id) and stored.snapshot == snapshot
    assert ledger.delivery(key).is_pending


def test_document_for_another_number_is_refused(ledger):
    one, two = issue(ledger, "1"), issue(ledger, "2")
    snapshot = build_snapshot(sample_deal(id="2"), sample_settings(), two.number, 1, ISSUED_AT, two.valid_until)
    with pytest.raises(ValueError, match="not DEV-2026-00001"):
        ledger.attach_document(one.id, snapshot=snapshot, pdf=b"%PDF", token=new_token())


def test_pdf_and_snapshot_are_kept_with_the_pdf_hash(ledger):
    stored, _, _ = attach(ledger, issue(ledger))
    assert ledger.proposal_pdf(stored.id) == b"%PDF-DEV-2026-00001"
    assert stored.pdf_sha256 == hashlib.sha256(b"%PDF-DEV-2026-00001").hexdigest()
    assert stored.snapshot is not None and stored.snapshot.number == stored.number
    assert [item.name for item in stored.snapshot.lines] == [OFFICE.name, SETUP.name]


# --- tokens -------------------------------------------------------------------------------------


def test_tokens_are_found_by_hash_and_never_stored(ledger, db_url):
    stored, token, _ = attach(ledger, issue(ledger))
    assert len(token) == 43
    assert ledger.find_by_token(token).id == stored.id
    engine = sqlalchemy.create_engine(db_url)
    with engine.connect() as connection:
        (stored_hash,) = connection.exec_driver_sql("SELECT token_hash FROM propale_proposals").one()
    engine.dispose()
    assert stored_hash == hash_token(token) and token not in stored_hash


@pytest.mark.parametrize("token", ["", "short", "x" * 43, "A" * 42 + "!", "../" * 15])
def test_unknown_or_malformed_tokens_find_nothing(ledger, token):
    attach(ledger, issue(ledger))
    assert ledger.find_by_token(token) is None


def test_tokens_expire_at_the_end_of_the_validity_date(ledger):
    sent, token = publish(ledger, issue(ledger))
    last_second = sent.expires_at - timedelta(seconds=1)
    assert not sent.is_expired(last_second) and sent.is_expired(sent.expires_at)
    found = ledger.find_by_token(token)  # an expired link still finds its proposal, to say it expired
    assert found.is_expired(sent.expires_at)
    assert [p.number for p in ledger.expire_due(last_second)] == []
    assert [p.number for p in ledger.expire_due(sent.expires_at)] == [sent.number]
    assert ledger.find_by_token(token).status == ProposalStatus.EXPIRED


# --- acceptances and checkout -------------------------------------------------------------------


def test_acceptance_is_recorded_once_with_what_was_accepted(ledger):
    sent, _ = publish(ledger, issue(ledger))
    first = ledger.record_acceptance(
        sent.id, method="sepa_debit", accepted_at=ISSUED_AT, ip="203.0.113.7", user_agent="Safari"
    )
    again = ledger.record_acceptance(
        sent.id, method="card", accepted_at=ISSUED_AT + timedelta(minutes=1), ip=None, user_agent=None
    )
    assert again == first
    assert (first.method, first.number, first.version, first.pdf_sha256) == (
        "sepa_debit",
        sent.number,
        1,
        sent.pdf_sha256,
    )
    assert ledger.acceptance(sent.id) == first
    assert ledger.get_proposal(sent.id).status == ProposalStatus.ACCEPTED


def test_expired_replaced_or_unsent_proposals_cannot_be_accepted(ledger):
    draft = issue(ledger, "draft-deal")
    with pytest.raises(ProposalNotAcceptable) as caught:
        ledger.record_acceptance(draft.id, method="card", accepted_at=ISSUED_AT, ip=None, user_agent=None)
    assert caught.value.reason == "draft"

    sent, _ = publish(ledger, issue(ledger))
    with pytest.raises(ProposalNotAcceptable) as caught:
        ledger.record_acceptance(sent.id, method="card", accepted_at=sent.expires_at, ip=None, user_agent=None)
    assert caught.value.reason == "expired"
    with pytest.raises(ProposalNotAcceptable, match="not offered"):
        ledger.record_acceptance(sent.id, method="paypal", accepted_at=ISSUED_AT, ip=None, user_agent=None)

    issue(ledger, request_key="req-2")
    with pytest.raises(ProposalNotAcceptable) as caught:
        ledger.record_acceptance(sent.id, method="card", accepted_at=ISSUED_AT, ip=None, user_agent=None)
    assert caught.value.reason == "replaced"
    assert ledger.acceptance(sent.id) is None


def test_one_open_checkout_session_per_proposal_and_method(ledger):
    sent, _ = publish(ledger, issue(ledger))
    later = ISSUED_AT + timedelta(hours=24)
    first = ledger.record_checkout_session(
        sent.id, method="card", stripe_session_id="cs_1", url="https://pay/1", expires_at=later
    )
    assert ledger.open_checkout_session(sent.id, "card", now=ISSUED_AT) == first
    assert ledger.open_checkout_session(sent.id, "sepa_debit", now=ISSUED_AT) is None
    assert ledger.open_checkout_session(sent.id, "card", now=later) is None  # past Stripe's expiry

    second = ledger.record_checkout_session(
        sent.id, method="card", stripe_session_id="cs_2", url="https://pay/2", expires_at=later
    )
    assert ledger.open_checkout_session(sent.id, "card", now=ISSUED_AT) == second
    assert ledger.set_checkout_session_status("cs_1", CheckoutStatus.COMPLETE).status == CheckoutStatus.COMPLETE
    assert (
        ledger.record_checkout_session(sent.id, method="card", stripe_session_id="cs_2", url="x", expires_at=later)
        == second
    )
    ledger.set_checkout_session_status("cs_2", CheckoutStatus.COMPLETE)
    assert ledger.open_checkout_session(sent.id, "card", now=ISSUED_AT) is None
    assert ledger.set_checkout_session_status("cs_unknown", CheckoutStatus.EXPIRED) is None


# --- other deliveries, Stripe events, cursors ---------------------------------------------------


def test_deliveries_without_a_proposal_are_idempotent(ledger):
    key = "slack-summary:run-2026-03-02T09:30"
    created = ledger.ensure_delivery(key, kind="slack-summary")
    assert created.is_pending and created.attempts == 0
    assert ledger.ensure_delivery(key, kind="slack-summary") == created
    ledger.start_delivery(key)
    assert ledger.fail_delivery(key, "Slack answered 500").last_error == "Slack answered 500"
    assert ledger.delivery(key).is_pending
    done = ledger.complete_delivery(key)
    assert done.status == DeliveryStatus.DONE and done.last_error is None and done.completed_at is not None
    assert ledger.complete_delivery(key) == done
    with pytest.raises(LedgerError):
        ledger.start_delivery("no-such-key")


def test_a_new_attempt_clears_the_previous_error_until_it_ends(ledger):
    _stored, _, key = attach(ledger, issue(ledger))
    ledger.start_delivery(key)
    ledger.fail_delivery(key, "SMTPServerDisconnected")
    in_doubt = ledger.start_delivery(key, attempt=2)  # outcome unknown until complete or fail
    assert in_doubt is not None and (in_doubt.attempts, in_doubt.last_error) == (2, None)


def test_an_attempt_is_claimed_once_and_only_from_the_state_read(ledger):
    _stored, _, key = attach(ledger, issue(ledger))
    assert ledger.start_delivery(key, attempt=1) is not None
    assert ledger.start_delivery(key, attempt=1) is None, "the first attempt is taken"
    assert ledger.start_delivery(key, attempt=3) is None, "not from a state nobody read"
    ledger.complete_delivery(key)
    assert ledger.start_delivery(key, attempt=2) is None, "a delivery done is not claimed again"
    assert ledger.delivery(key).attempts == 1


@pytest.mark.parametrize("at_most_once", [True, False], ids=["email", "slack-post"])
def test_two_attempts_racing_for_one_delivery_perform_it_once(db_url, at_most_once):
    # Two task attempts (a zombie and its retry), each with its own connections, read the same
    # pending email, then both try to send it at the same moment: one SMTP send, whatever the backend.
    with Ledger(db_url) as setup:
        _stored, _, key = attach(setup, issue(setup))
    ledgers = [Ledger(db_url) for _ in range(2)]
    read = [opened.delivery(key) for opened in ledgers]
    barrier = threading.Barrier(2)
    sent: list[str] = []
    outcomes: list[outbox.Outcome] = []
    errors: list[BaseException] = []

    def smtp_send(message) -> None:
        sent.append(str(message["Subject"]))

    def attempt(index: int) -> None:
        try:
            barrier.wait()
            outcomes.append(
                outbox.deliver(
                    ledgers[index], read[index], outbox.email_performer(smtp_send), at_most_once=at_most_once
                )
            )
        except BaseException as error:  # reported below with the failing attempt's traceback
            errors.append(error)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = ledgers[0].delivery(key)
    for opened in ledgers:
        opened.close()
    assert not errors, errors
    assert len(sent) == 1
    assert sorted(outcomes) == sorted([outbox.Outcome.DONE, outbox.Outcome.TAKEN])
    assert done.status == DeliveryStatus.DONE and done.attempts == 1


def test_a_cancelled_delivery_is_never_sent(ledger):
    stored, _, key = attach(ledger, issue(ledger))
    cancelled = ledger.cancel_delivery(key)
    assert cancelled.status == DeliveryStatus.CANCELLED and cancelled.payload is None
    assert ledger.pending_deliveries(proposal_id=stored.id) == []
    assert ledger.complete_delivery(key).status == DeliveryStatus.CANCELLED
    assert ledger.get_proposal(stored.id).status == ProposalStatus.DRAFT


def test_stripe_events_are_processed_once(ledger):
    assert not ledger.is_stripe_event_processed("evt_1")
    assert ledger.record_stripe_event("evt_1", "checkout.session.completed") is True
    assert ledger.record_stripe_event("evt_1", "checkout.session.completed") is False
    assert ledger.is_stripe_event_processed("evt_1")


def test_a_stripe_event_and_its_effects_are_recorded_together_once(ledger):
    sent, _ = publish(ledger, issue(ledger))
    effects = [
        NewDelivery(
            key="sync-email:invoice:in_1", kind="sync-email", payload=b"the invoice email", proposal_id=sent.id
        ),
        NewDelivery(key="sync-slack:evt_1:0", kind="sync-slack", payload=b"{}"),
    ]
    assert ledger.record_stripe_event("evt_1", "invoice.paid", effects) is True
    assert [d.key for d in ledger.pending_deliveries(kind="sync-email")] == ["sync-email:invoice:in_1"]
    assert ledger.delivery("sync-email:invoice:in_1").proposal_id == sent.id
    ledger.start_delivery("sync-email:invoice:in_1")
    ledger.complete_delivery("sync-email:invoice:in_1")

    # A replay of the event queues nothing; another event asking for the same effect does not repeat it.
    assert ledger.record_stripe_event("evt_1", "invoice.paid", effects) is False
    assert ledger.record_stripe_event("evt_2", "invoice.payment_succeeded", effects[:1]) is True
    assert ledger.delivery("sync-email:invoice:in_1").status == DeliveryStatus.DONE
    assert [d.key for d in ledger.pending_deliveries()] == ["sync-slack:evt_1:0"]


def test_an_event_whose_effects_cannot_be_stored_is_not_processed(ledger):
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        ledger.record_stripe_event(
            "evt_1", "invoice.paid", [NewDelivery(key="k", kind="sync-email", proposal_id=424242)]
        )
    assert not ledger.is_stripe_event_processed("evt_1")
    assert ledger.delivery("k") is None


def test_processed_stripe_events_are_found_in_bulk(ledger):
    for i in range(3):
        ledger.record_stripe_event(f"evt_{i}", "invoice.paid")
    wanted = [f"evt_{i}" for i in range(1200)]
    assert ledger.processed_stripe_events(wanted) == {"evt_0", "evt_1", "evt_2"}
    assert ledger.processed_stripe_events([]) == set()


def test_first_acceptance_at(ledger):
    assert ledger.first_acceptance_at() is None
    first, _ = publish(ledger, issue(ledger, "deal-a"))
    second, _ = publish(ledger, issue(ledger, "deal-b"))
    ledger.record_acceptance(
        second.id, method="card", accepted_at=ISSUED_AT + timedelta(hours=2), ip=None, user_agent=None
    )
    ledger.record_acceptance(
        first.id, method="card", accepted_at=ISSUED_AT + timedelta(hours=3), ip=None, user_agent=None
    )
    assert ledger.first_acceptance_at() == ISSUED_AT + timedelta(hours=2)


def test_cursors(ledger):
    assert ledger.get_cursor("hubspot-deals") is None
    ledger.set_cursor("hubspot-deals", "2026-03-02T09:30:00Z")
    ledger.set_cursor("hubspot-deals", "2026-03-02T09:35:00Z")
    assert ledger.get_cursor("hubspot-deals") == "2026-03-02T09:35:00Z"


def test_reopening_an_existing_database_keeps_its_data(db_url):
    with Ledger(db_url) as first:
        number = issue(first).number
    with Ledger(db_url) as second:
        assert second.proposal_by_number(number).deal_id == "9001"


def test_sqlite_ledger_creates_its_directory(tmp_path):
    path = tmp_path / "airflow" / "home" / "propale.db"
    with Ledger(f"sqlite:///{path}") as opened:
        assert issue(opened).number == "DEV-2026-00001"
    assert path.exists()

"""Delivering one proposal: at most one email, whatever happens to earlier attempts.

The sender here is Propale's own injection point (what the SMTP hook's `send_message` is in
production), recording what it is handed; the ledger is a real SQLite database.
"""

from __future__ import annotations

import dataclasses
import smtplib
from email.message import EmailMessage

import pytest

from propale import outbox
from propale.ledger import DeliveryStatus, Ledger, ProposalStatus, delivery_key
from propale.proposals import DealInput, build_snapshot, catalogue_warnings, source_fingerprint
from propale.sending import LINE_WARNINGS_EMAIL, DealOutcome, deliver, post_summary, proposal_link
from support.factories import ISSUED_AT, OFFICE, SETUP, sample_deal, sample_settings

SETTINGS = sample_settings()


def issue(ledger: Ledger, request_key: str = "flagged-at-1", deal: DealInput | None = None) -> DealOutcome:
    """What `collect` leaves for one deal: its proposal issued and frozen, the rep's warnings."""
    deal = deal or sample_deal()
    proposal = ledger.issue_proposal(
        deal.id,
        request_key=request_key,
        source_fingerprint=source_fingerprint(deal),
        issued_at=ISSUED_AT,
        validity_days=30,
    )
    if not proposal.has_document:
        ledger.stage_snapshot(
            proposal.id,
            build_snapshot(deal, SETTINGS, proposal.number, proposal.version, ISSUED_AT, proposal.valid_until),
        )
    return DealOutcome(deal.id, deal.name, proposal_id=proposal.id, warnings=catalogue_warnings(deal, SETTINGS))


class Outbox:
    def __init__(self, failures: list[Exception] | None = None):
        self.sent: list[EmailMessage] = []
        self.failures = list(failures or [])

    def __call__(self, message: EmailMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


def test_the_email_carries_the_link_and_pdf_and_marks_the_proposal_sent(ledger):
    outcome = issue(ledger)
    outbox = Outbox()
    assert deliver(ledger, SETTINGS, outcome, outbox, "propale@bureauxducanal.fr").problems == []
    [message] = outbox.sent
    proposal = ledger.get_proposal(outcome.proposal_id)
    link = proposal_link(ledger, SETTINGS, proposal)
    token = link.rsplit("/", 1)[1]
    assert link in message.get_body(("plain",)).get_content()
    assert [part.get_filename() for part in message.iter_attachments()] == [f"{proposal.number}.pdf"]
    assert proposal.status == ProposalStatus.SENT
    assert ledger.find_by_token(token).id == proposal.id


def test_a_retry_after_success_sends_nothing(ledger):
    outcome = issue(ledger)
    outbox = Outbox()
    deliver(ledger, SETTINGS, outcome, outbox, None)
    deliver(ledger, SETTINGS, outcome, outbox, None)
    assert len(outbox.sent) == 1


def test_a_refused_connection_is_retried_and_the_same_message_goes_once(ledger):
    outcome = issue(ledger)
    outbox = Outbox(failures=[smtplib.SMTPServerDisconnected("down")])
    with pytest.raises(smtplib.SMTPServerDisconnected):
        deliver(ledger, SETTINGS, outcome, outbox, None)
    assert deliver(ledger, SETTINGS, outcome, outbox, None).problems == []
    assert len(outbox.sent) == 1


def test_an_attempt_interrupted_mid_send_is_never_repeated_but_reported(ledger):
    outcome = issue(ledger)

    class Killed(BaseException):
        """What a SIGKILL looks like from the ledger's side: nothing after the send ran."""

    def dies_after_handing_over(message: EmailMessage) -> None:
        raise Killed

    with pytest.raises(Killed):
        deliver(ledger, SETTINGS, outcome, dies_after_handing_over, None)
    outbox = Outbox()
    retried = deliver(ledger, SETTINGS, outcome, outbox, None)
    assert outbox.sent == []
    assert "n'a pas pu être confirmé" in retried.problems[0]


def test_a_refused_address_is_a_problem_for_the_rep_not_a_retry(ledger):
    outcome = issue(ledger)
    refused = smtplib.SMTPRecipientsRefused({"jeanne.martin@acme.fr": (550, b"no such user")})
    result = deliver(ledger, SETTINGS, outcome, Outbox(failures=[refused]), None)
    assert "a refusé l'adresse e-mail" in result.problems[0]
    assert deliver(ledger, SETTINGS, outcome, Outbox(), None).problems, "not sent on a later attempt either"


def test_a_proposal_replaced_before_its_email_went_is_not_sent(ledger):
    first = issue(ledger, "flagged-at-1")
    ledger_proposal = ledger.get_proposal(first.proposal_id)
    # The rep flags the deal again (new request) after changing it: a new version replaces the draft.
    ledger.issue_proposal(
        ledger_proposal.deal_id,
        request_key="flagged-at-2",
        source_fingerprint="changed",
        issued_at=ISSUED_AT,
        validity_days=30,
    )
    outbox = Outbox()
    result = deliver(ledger, SETTINGS, first, outbox, None)
    assert outbox.sent == []
    assert result.skipped, "the deal's status is the newer version's business"
    assert "remplacée" in result.problems[0]


def test_flagging_again_after_an_unconfirmed_send_issues_a_new_version_that_is_sent(ledger):
    """Found by the chaos run: the reused draft kept its in-doubt email, so each new flag got the
    same « n'a pas pu être confirmé » back and the deal could never be sent again."""
    first = issue(ledger, "flagged-at-1")

    class Killed(BaseException):
        pass

    def dies_after_handing_over(message: EmailMessage) -> None:
        raise Killed

    with pytest.raises(Killed):
        deliver(ledger, SETTINGS, first, dies_after_handing_over, None)
    assert deliver(ledger, SETTINGS, first, Outbox(), None).problems, "reported to the rep"

    again = issue(ledger, "flagged-at-2")  # the rep checked with the customer and flags the deal again
    outbox = Outbox()
    assert deliver(ledger, SETTINGS, again, outbox, None).problems == []
    [message] = outbox.sent
    old, new = ledger.get_proposal(first.proposal_id), ledger.get_proposal(again.proposal_id)
    assert (new.version, old.status) == (2, ProposalStatus.REPLACED)
    assert new.number != old.number and new.number in message["Subject"] and "nouvelle version" in message["Subject"]


def test_flagging_again_after_a_refused_address_sends_to_it_again(ledger):
    refused = smtplib.SMTPRecipientsRefused({"jeanne.martin@acme.fr": (550, b"no such user")})
    deliver(ledger, SETTINGS, issue(ledger, "flagged-at-1"), Outbox(failures=[refused]), None)
    outbox = Outbox()
    assert deliver(ledger, SETTINGS, issue(ledger, "flagged-at-2"), outbox, None).problems == []
    assert len(outbox.sent) == 1


# A line priced below its product's catalogue price, and one whose product was deleted since.
OFF_CATALOGUE = sample_deal(
    line_items=(
        dataclasses.replace(OFFICE, price="1800", product_price="2000"),
        dataclasses.replace(SETUP, product_archived=True),
    )
)


def test_the_rep_is_told_once_which_lines_differ_from_the_product_library(ledger):
    outcome = issue(ledger, deal=OFF_CATALOGUE)
    outbox = Outbox()
    assert deliver(ledger, SETTINGS, outcome, outbox, "propale@bureauxducanal.fr").problems == []
    deliver(ledger, SETTINGS, outcome, outbox, "propale@bureauxducanal.fr")
    proposal_email, rep_email = outbox.sent
    assert proposal_email["To"] == "Jeanne Martin <jeanne.martin@acme.fr>"
    assert "bibliothèque" not in proposal_email.get_body(("plain",)).get_content(), "never shown to the customer"
    assert rep_email["To"] == "Paul Durand <paul.durand@bureauxducanal.fr>"
    assert rep_email["Subject"] == (
        "Proposition DEV-2026-00001 envoyée : 2 lignes diffèrent de la bibliothèque de produits"
    )
    body = rep_email.get_body(("plain",)).get_content()
    assert len(outcome.warnings) == 2 and all(warning in body for warning in outcome.warnings)
    assert "« Bureau privé 4 postes » (1\u202f800,00\xa0€ HT)" in body and "(2\u202f000,00\xa0€ HT)" in body
    assert "« Frais de mise en service » vient d’un produit supprimé" in body


def test_no_rep_email_without_warnings_or_without_a_rep_address(ledger):
    outbox = Outbox()
    deliver(ledger, SETTINGS, issue(ledger), outbox, None)
    assert len(outbox.sent) == 1
    no_owner = dataclasses.replace(OFF_CATALOGUE, id="9002", owner=None)
    outbox = Outbox()
    assert deliver(ledger, SETTINGS, issue(ledger, deal=no_owner), outbox, None).problems == []
    assert [message["To"] for message in outbox.sent] == ["Jeanne Martin <jeanne.martin@acme.fr>"]


def test_a_failed_rep_email_is_retried_without_sending_the_proposal_again(ledger):
    outcome = issue(ledger, deal=OFF_CATALOGUE)
    flaky = Outbox()
    sends = 0

    def rep_email_fails_once(message: EmailMessage) -> None:
        nonlocal sends
        sends += 1
        if sends == 2:
            raise smtplib.SMTPServerDisconnected("down")
        flaky(message)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        deliver(ledger, SETTINGS, outcome, rep_email_fails_once, None)
    assert deliver(ledger, SETTINGS, outcome, rep_email_fails_once, None).problems == []
    assert [message["To"] for message in flaky.sent] == [
        "Jeanne Martin <jeanne.martin@acme.fr>",
        "Paul Durand <paul.durand@bureauxducanal.fr>",
    ]


def test_no_rep_email_when_the_proposal_could_not_be_sent(ledger):
    outcome = issue(ledger, deal=OFF_CATALOGUE)
    refused = smtplib.SMTPRecipientsRefused({"jeanne.martin@acme.fr": (550, b"no such user")})
    outbox = Outbox(failures=[refused])
    assert deliver(ledger, SETTINGS, outcome, outbox, None).problems
    assert deliver(ledger, SETTINGS, outcome, outbox, None).problems
    assert outbox.sent == []
    number = ledger.get_proposal(outcome.proposal_id).number
    assert ledger.delivery(delivery_key(LINE_WARNINGS_EMAIL, number, 1)).status == DeliveryStatus.CANCELLED


def test_the_runs_slack_message_is_posted_once_per_run(ledger):
    posted: list[dict] = []
    message = {"text": "Propositions Propale : 1 envoyée"}
    post_summary(ledger, message, "scheduled__2026-03-02", posted.append)
    post_summary(ledger, message, "scheduled__2026-03-02", posted.append)  # the task retried
    assert posted == [message]
    post_summary(ledger, message, "scheduled__2026-03-03", posted.append)
    assert len(posted) == 2, "the next run posts its own"


def test_a_run_message_slack_refuses_for_good_is_dropped_and_logged(ledger, caplog):
    def refuse(message: dict) -> None:
        raise outbox.Refused("Slack 400 invalid_blocks")

    post_summary(ledger, {"text": "x"}, "run-1", refuse)
    assert "refused for good (Slack 400 invalid_blocks)" in caplog.text
    posted: list[dict] = []
    post_summary(ledger, {"text": "x"}, "run-1", posted.append)
    assert posted == [], "cancelled, not tried again"

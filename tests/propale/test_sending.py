"""Delivering one proposal: at most one email, whatever happens to earlier attempts.

The sender here is Propale's own injection point (what the SMTP hook's `send_message` is in
production), recording what it is handed; the ledger is a real SQLite database.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from propale.ledger import Ledger, ProposalStatus
from propale.proposals import build_snapshot, source_fingerprint
from propale.sending import DealOutcome, deliver, proposal_token
from support.factories import ISSUED_AT, sample_deal, sample_settings

SETTINGS = sample_settings()


def issue(ledger: Ledger, request_key: str = "flagged-at-1") -> DealOutcome:
    deal = sample_deal()
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
    return DealOutcome(deal.id, deal.name, proposal_id=proposal.id)


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
    token = proposal_token(SETTINGS.secret_key, proposal.number, proposal.version)
    assert SETTINGS.proposal_url(token) in message.get_body(("plain",)).get_content()
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
    refused = smtplib.SMTPRecipientsRefused({"jeanne.martin@acme.fr": (450, b"mailbox busy")})
    deliver(ledger, SETTINGS, issue(ledger, "flagged-at-1"), Outbox(failures=[refused]), None)
    outbox = Outbox()
    assert deliver(ledger, SETTINGS, issue(ledger, "flagged-at-2"), outbox, None).problems == []
    assert len(outbox.sent) == 1

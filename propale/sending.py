"""Sending proposals: the steps of `propale_send_proposals`, without Airflow.

1. `collect`: find the flagged deals, read them in batch, validate them, and issue (number and
   freeze) a proposal for each valid one. Cheap: no rendering, no email.
2. `deliver`: for each proposal, render its PDF and email once, then send the email once.
3. `write_back`: tell HubSpot, in batch: status, number, link, date or the reason of a failure,
   and a note with the PDF on the deal's timeline. What HubSpot refuses (record by record, in a
   207) is not marked done: a deal whose status was refused stays flagged and the next run writes
   it; a note refused stays pending in the ledger and the next run creates it.
4. `summary`: one Slack message for the run.

A line that differs from HubSpot's product library (its product deleted, another price) goes out as
the rep wrote it; the rep gets one email per proposal listing them, and the run's summary says so.

Every step can be retried or re-run: the ledger remembers what was issued and what was
delivered, and HubSpot's state is re-read before acting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import stripe
from markupsafe import escape

from propale import outbox
from propale.billing import StripeBilling
from propale.crm import (
    STATUS,
    DealRecord,
    HubSpotGateway,
    NoteRequest,
    PropertySetup,
    Status,
    WriteRefusal,
    deal_input,
    hubspot_datetime,
)
from propale.emails import build_proposal_email, build_team_email
from propale.ledger import (
    PROPOSAL_EMAIL,
    CheckoutBusy,
    CheckoutStillOpen,
    DeliveryStatus,
    Ledger,
    LedgerError,
    NewDelivery,
    Proposal,
    ProposalAlreadyAccepted,
    ProposalStatus,
    delivery_key,
    new_token,
    seal_token,
    unseal_token,
)
from propale.notices import property_notices, settings_notice
from propale.payment_window import close_open_sessions
from propale.proposals import (
    DealInput,
    ProposalSnapshot,
    build_snapshot,
    catalogue_warnings,
    source_fingerprint,
    validate,
)
from propale.rendering import render_proposal_pdf
from propale.settings import Settings, SettingsError
from propale.slack_messages import DealLine, SummarySection, run_summary

log = logging.getLogger(__name__)

PROPOSAL_NOTE = "proposal-note"
# The run's Slack message, one per DAG run.
RUN_SUMMARY = "send-run-summary"
# The email telling the rep which lines of a sent proposal differ from HubSpot's product library.
LINE_WARNINGS_EMAIL = "line-warnings-email"


def proposal_token(secret_key: str, number: str, version: int) -> str:
    """The link token of a proposal issued before links were random: HMAC-SHA256 of its number and
    version with propale_secret_key. Those links still open (the ledger has their hashes); the DAGs
    recompute one when they need it again (`proposal_link`), since it was never sealed."""
    digest = hmac.new(secret_key.encode(), f"propale-proposal:{number}:v{version}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def proposal_link(ledger: Ledger, settings: Settings, proposal: Proposal) -> str:
    """The customer's link to a proposal that has its document, for HubSpot and the rep's emails.

    Each version's token is random (`new_token`, in `deliver`). The ledger keeps its hash, to find
    the proposal when the link is opened, and a copy sealed with propale_secret_key, which only the
    DAGs hold, to write the link again: the customer page, which faces the internet, and a copy of
    the ledger can do neither. In clear, the token only sits in the payloads of the emails still to
    send, erased once sent. Sealing rather than keeping the link in some pending payload is what lets
    a later run write it again (a HubSpot update refused today, a checkout that expires next week).
    """
    sealed = ledger.sealed_token(proposal.id)
    if sealed is None:
        token: str | None = proposal_token(settings.link_key, proposal.number, proposal.version)
    else:
        token = unseal_token(settings.link_key, sealed)
    found = ledger.find_by_token(token) if token else None
    if token is None or found is None or found.id != proposal.id:
        raise LedgerError(
            f"the link of {proposal.number} v{proposal.version} cannot be rebuilt with propale_secret_key: "
            "was the key changed since it was sent?"
        )
    return settings.proposal_url(token)


def rotate_link(ledger: Ledger, settings: Settings, proposal: Proposal) -> str:
    """Give a proposal a new link and return it: the old link leads nowhere from now on (a link
    forwarded to the wrong person), the links of every other proposal are untouched."""
    token = new_token()
    ledger.replace_token(proposal.id, token, seal_token(settings.link_key, token))
    return settings.proposal_url(token)


@dataclass
class DealOutcome:
    """What happened to one deal in a run; only ids, names and plain-French reasons (safe to log).

    A deal with `problems` is in error, unless `skipped`: asked for by id but not flagged.
    `warnings` are for the rep only (lines that differ from HubSpot's product library): they
    neither stop the proposal nor appear in it.
    """

    deal_id: str
    deal_name: str
    proposal_id: int | None = None
    problems: list[str] = field(default_factory=list)
    skipped: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DealOutcome:
        return cls(**data)


def collect(
    gateway: HubSpotGateway,
    ledger: Ledger,
    settings: Settings,
    now: datetime,
    deal_ids: Sequence[str] | None = None,
    *,
    deleted_properties: Collection[str] = (),
    stripe_client: stripe.StripeClient | None = None,
) -> list[DealOutcome]:
    """Every deal to handle in this run, with its issued proposal or what is wrong with it.

    `stripe_client` closes the open Checkout Sessions of an accepted, unpaid proposal the rep
    re-proposes; without it, such a proposal is only replaced once its sessions are closed (until
    then the deal is in error, saying so).
    """
    billing = StripeBilling(stripe_client, ledger.installation_id()) if stripe_client else None
    return _outcomes(
        gateway, deal_ids, deleted_properties, lambda record: _issue(ledger, settings, record, now, billing)
    )


def collect_or_refuse(
    gateway: HubSpotGateway,
    load_settings: Callable[[], Settings],
    open_ledger: Callable[[Settings], AbstractContextManager[Ledger]],
    now: datetime,
    deal_ids: Sequence[str] | None = None,
    *,
    deleted_properties: Collection[str] = (),
    stripe_client: stripe.StripeClient | None = None,
) -> list[DealOutcome]:
    """`collect`, or, when Propale's own settings are broken, every deal refused with what the
    administrator must fix: retrying cannot help, and the run goes on to tell the reps and Slack."""
    try:
        settings = load_settings()
    except SettingsError as error:
        log.error("No proposal can be sent until Propale's settings are fixed: %s", error)
        return refuse(gateway, settings_notice(error), deal_ids, deleted_properties=deleted_properties)
    with open_ledger(settings) as ledger:
        return collect(
            gateway, ledger, settings, now, deal_ids, deleted_properties=deleted_properties, stripe_client=stripe_client
        )


def refuse(
    gateway: HubSpotGateway,
    reason: str,
    deal_ids: Sequence[str] | None = None,
    *,
    deleted_properties: Collection[str] = (),
) -> list[DealOutcome]:
    """The deals to handle in this run, each in error for `reason`: when nothing can be sent at all."""
    return _outcomes(
        gateway, deal_ids, deleted_properties, lambda record: DealOutcome(record.id, record.name, problems=[reason])
    )


def _outcomes(
    gateway: HubSpotGateway,
    deal_ids: Sequence[str] | None,
    deleted_properties: Collection[str],
    outcome_of: Callable[[DealRecord], DealOutcome],
) -> list[DealOutcome]:
    outcomes = [
        entry if isinstance(entry, DealOutcome) else outcome_of(entry)
        for entry in _flagged(gateway, deal_ids, deleted_properties)
    ]
    for outcome in outcomes:
        if outcome.problems and not outcome.skipped:
            reason = log_safe_reason(" ".join(outcome.problems))
            log.warning("Deal %s (%s) cannot be proposed: %s", outcome.deal_id, outcome.deal_name, reason)
    log.info(
        "Collected %d deals: %d to send, %d in error, %d not flagged",
        len(outcomes),
        sum(1 for o in outcomes if not o.problems),
        sum(1 for o in outcomes if o.problems and not o.skipped),
        sum(1 for o in outcomes if o.skipped),
    )
    return outcomes


def _flagged(
    gateway: HubSpotGateway, deal_ids: Sequence[str] | None, deleted_properties: Collection[str]
) -> list[DealRecord | DealOutcome]:
    """The flagged deals (or those asked for by id), read; an outcome for those not to handle."""
    if STATUS in deleted_properties:
        log.warning("%s is deleted in HubSpot: no deal can be found flagged until it is restored", STATUS)
        return []
    requested = list(dict.fromkeys(str(deal_id) for deal_id in deal_ids or []))
    ids = requested or gateway.find_deal_ids(Status.TO_PROPOSE)
    records = gateway.read_deals(ids) if ids else {}
    flagged: list[DealRecord | DealOutcome] = []
    for deal_id in ids:
        record = records.get(deal_id)
        if record is None:
            flagged.append(
                DealOutcome(
                    deal_id, f"Deal {deal_id}", problems=["Transaction introuvable dans HubSpot."], skipped=True
                )
            )
            continue
        # The search index lags: a deal it still lists as flagged may have been handled since.
        if record.status != Status.TO_PROPOSE:
            log.info("Deal %s is %r, not %r: left alone", deal_id, record.status, Status.TO_PROPOSE.value)
            if requested:
                flagged.append(
                    DealOutcome(
                        deal_id,
                        record.name,
                        problems=[
                            f"Son statut Propale est « {Status.label_of(record.status)} », pas « {Status.TO_PROPOSE.label} »."
                        ],
                        skipped=True,
                    )
                )
            continue
        flagged.append(record)
    return flagged


# The rep's reason names the contact ("Le contact principal « Maxime Caron » n’a pas d’adresse
# e-mail"); a name is personal data, kept out of logs, and without it the reason still reads well.
_CONTACT_NAME = re.compile(r"(contact principal) « [^»]* »")


def log_safe_reason(reason: str) -> str:
    """A deal's reason as the task log shows it: the rep's words, without the contact's name."""
    return _CONTACT_NAME.sub(r"\1", reason)


def _issue(
    ledger: Ledger, settings: Settings, record: DealRecord, now: datetime, billing: StripeBilling | None
) -> DealOutcome:
    outcome = DealOutcome(record.id, record.name)
    deal = deal_input(record)
    outcome.problems = validate(deal, settings)
    if record.owner and record.owner.get("archived"):
        outcome.problems.append(
            "Le propriétaire de la transaction a été désactivé dans HubSpot : "
            "attribuez la transaction à un commercial actif."
        )
    if outcome.problems:
        return outcome
    request_key = record.status_set_at or record.properties.get("hs_lastmodifieddate") or ""
    current = ledger.current_proposal(record.id)
    try:
        if current is not None and current.status == ProposalStatus.ACCEPTED and current.request_key != request_key:
            # Re-proposing an accepted, unpaid proposal: under its checkout lock, so that no click opens
            # a session in between, its sessions are expired at Stripe before the new version replaces it.
            with ledger.checkout_claim(current.id):
                if billing is not None:
                    close_open_sessions(ledger, billing, current.id)
                proposal = _issue_in_ledger(ledger, settings, record.id, request_key, deal, now)
        else:
            proposal = _issue_in_ledger(ledger, settings, record.id, request_key, deal, now)
    except ProposalAlreadyAccepted as accepted:
        outcome.problems = [
            f"La proposition {accepted.number} a déjà été acceptée et payée : une nouvelle version n'est pas possible."
        ]
        return outcome
    except (CheckoutStillOpen, CheckoutBusy):
        number = current.number if current else ""
        outcome.problems = [
            f"Le client est peut-être en train de payer la proposition {number}, qu’il a acceptée : "
            "elle n’a pas été remplacée. Remettez « À proposer » dans quelques minutes pour envoyer une nouvelle version."
        ]
        return outcome
    if not proposal.has_document:
        snapshot = build_snapshot(
            deal, settings, proposal.number, proposal.version, proposal.issued_at, proposal.valid_until
        )
        ledger.stage_snapshot(proposal.id, snapshot)
    outcome.proposal_id = proposal.id
    outcome.warnings = catalogue_warnings(deal, settings)
    return outcome


class DeliveryInProgress(RuntimeError):
    """Another attempt claimed this proposal's email and is sending it: this attempt's retry finds it sent."""


def _issue_in_ledger(
    ledger: Ledger, settings: Settings, deal_id: str, request_key: str, deal: DealInput, now: datetime
) -> Proposal:
    return ledger.issue_proposal(
        deal_id,
        request_key=request_key,
        source_fingerprint=source_fingerprint(deal),
        issued_at=now,
        validity_days=settings.validity_days,
    )


def deliver(
    ledger: Ledger,
    settings: Settings,
    outcome: DealOutcome,
    send_email: outbox.EmailSender,
    from_address: str | None,
) -> DealOutcome:
    """Render and send one proposal, at most once, whatever happened to earlier attempts."""
    if outcome.problems or outcome.proposal_id is None:
        return outcome
    proposal = ledger.get_proposal(outcome.proposal_id)
    if proposal is None or proposal.snapshot is None:
        raise RuntimeError(f"proposal {outcome.proposal_id} of deal {outcome.deal_id} has no snapshot")
    if proposal.status == ProposalStatus.REPLACED:
        # A re-run of an old run: the rep has flagged the deal again since, the newer version counts.
        return _replaced(outcome, proposal.number)
    key = delivery_key(PROPOSAL_EMAIL, proposal.number, proposal.version)
    warnings_key = delivery_key(LINE_WARNINGS_EMAIL, proposal.number, proposal.version)
    if not ledger.has_document(proposal.id):
        token = new_token()
        url = settings.proposal_url(token)
        pdf = render_proposal_pdf(proposal.snapshot)
        email = build_proposal_email(
            proposal.snapshot, url=url, pdf=pdf, idempotency_key=key, from_address=from_address
        )
        deliveries = [NewDelivery(key=key, kind=PROPOSAL_EMAIL, payload=email.as_bytes())]
        warnings_email = _line_warnings_email(proposal.snapshot, outcome.warnings, url, warnings_key, from_address)
        if warnings_email is not None:
            deliveries.append(
                NewDelivery(key=warnings_key, kind=LINE_WARNINGS_EMAIL, payload=warnings_email.as_bytes())
            )
        ledger.attach_document(
            proposal.id,
            snapshot=proposal.snapshot,
            pdf=pdf,
            token=token,
            token_sealed=seal_token(settings.link_key, token),
            deliveries=deliveries,
        )
    delivery = ledger.delivery(key)
    if delivery is None:
        return outcome
    if delivery.status == DeliveryStatus.CANCELLED:
        return _replaced(outcome, proposal.number)
    if delivery.status == DeliveryStatus.PENDING:
        sent = outbox.deliver(ledger, delivery, outbox.email_performer(send_email), at_most_once=True)
        if sent is outbox.Outcome.TAKEN:
            # Another attempt is sending it right now: this one fails, and its retry finds it sent.
            raise DeliveryInProgress(f"proposal {proposal.number} v{proposal.version} is being sent by another attempt")
        if sent is not outbox.Outcome.DONE:
            if ledger.delivery(warnings_key) is not None:
                ledger.cancel_delivery(warnings_key)  # the rep hears of the unsent proposal instead
            return _unsent(outcome, proposal.number, sent)
        log.info("Proposal %s v%d emailed for deal %s", proposal.number, proposal.version, outcome.deal_id)
    _tell_rep(ledger, warnings_key, send_email)
    return outcome


def _unsent(outcome: DealOutcome, number: str, sent: outbox.Outcome) -> DealOutcome:
    """The proposal email was refused, or may not have gone: the rep is told what to do."""
    if sent is outbox.Outcome.UNCONFIRMED:
        # An earlier attempt stopped between handing the email to the server and recording it:
        # it may have arrived. Sending again could give the customer two emails; ask a human.
        outcome.problems = [
            f"L'envoi de la proposition {number} n'a pas pu être confirmé (interruption pendant l'envoi). "
            "Vérifiez auprès du client, puis remettez « À proposer » pour envoyer une nouvelle version si besoin."
        ]
    else:
        outcome.problems = [
            "Le serveur de messagerie a refusé l'adresse e-mail du contact (ou l’e-mail de la proposition) : "
            "corrigez-la dans HubSpot, puis remettez « À proposer »."
        ]
    return outcome


def _line_warnings_email(
    snapshot: ProposalSnapshot, warnings: Sequence[str], url: str, key: str, from_address: str | None
) -> EmailMessage | None:
    """The email telling the deal's rep which lines differ from HubSpot's product library, or None
    when there is nothing to tell or nobody to tell it to."""
    rep = snapshot.rep
    if not warnings or rep is None or rep.email is None:
        return None
    lines = "1 ligne diffère" if len(warnings) == 1 else f"{len(warnings)} lignes diffèrent"
    return build_team_email(
        to=(rep.name, rep.email),
        subject=f"Proposition {snapshot.number} envoyée : {lines} de la bibliothèque de produits",
        title="Proposition envoyée, à vérifier",
        paragraphs=[
            f"La proposition {snapshot.number} (« {snapshot.deal_name} ») a été envoyée à "
            f"{snapshot.customer.display_name}. Des lignes diffèrent de la bibliothèque de produits HubSpot ; "
            "elles ont été proposées telles qu’elles figurent sur la transaction :",
            *warnings,
            "Si c’est voulu, il n’y a rien à faire. Sinon, corrigez la transaction et remettez son statut Propale "
            "à « À proposer » : une nouvelle version remplacera celle-ci.",
        ],
        links=[("Voir la proposition", url)],
        seller=snapshot.seller,
        sent_at=snapshot.issued_at,
        idempotency_key=key,
        from_address=from_address,
    )


def _tell_rep(ledger: Ledger, key: str, send_email: outbox.EmailSender) -> None:
    """Send the rep the line warnings of a proposal whose email went, at most once."""
    delivery = ledger.delivery(key)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return
    told = outbox.deliver(ledger, delivery, outbox.email_performer(send_email), at_most_once=True)
    if told not in (outbox.Outcome.DONE, outbox.Outcome.TAKEN):  # taken: the attempt that took it sends it
        # The proposal went: its deal is not in error for this, and the run's summary lists the warnings.
        ledger.cancel_delivery(key)
        log.warning("The rep's email %s was %s: not sent again", key, told.value)


def _replaced(outcome: DealOutcome, number: str) -> DealOutcome:
    outcome.problems = [f"La proposition {number} a été remplacée par une version plus récente : rien n'a été envoyé."]
    outcome.skipped = True
    return outcome


@dataclass
class WriteBackReport:
    sent: list[DealLine] = field(default_factory=list)
    failed: list[DealLine] = field(default_factory=list)
    skipped: list[DealLine] = field(default_factory=list)
    retrying: list[DealLine] = field(default_factory=list)  # HubSpot refused a write: the next run tries again


def write_back(
    gateway: HubSpotGateway,
    ledger: Ledger | None,
    settings: Settings | None,
    outcomes: Sequence[DealOutcome],
    now: datetime,
    *,
    deleted_properties: Collection[str] = (),
) -> WriteBackReport:
    """Set each deal's status in HubSpot in batch, and note sent proposals on their timelines.

    Properties an admin deleted in HubSpot are left out, so that the others are still written.
    The ledger and settings are only needed for sent proposals (not when settings are broken).
    HubSpot judges a batch record by record: what it refuses is reported and left for the next
    run (the deal stays flagged, the note pending), the rest is done. Notes refused by earlier
    runs are created here too.
    """
    updates: dict[str, dict[str, str]] = {}
    notes: dict[str, NoteRequest] = {}  # by delivery key
    lines: dict[str, tuple[list[DealLine], DealLine]] = {}  # each deal's line, to move it if HubSpot refuses it
    report = WriteBackReport()
    for outcome in outcomes:
        url = gateway.deal_url(outcome.deal_id)
        if outcome.skipped:
            report.skipped.append(DealLine(outcome.deal_name, url, " ".join(outcome.problems)))
            continue
        if outcome.problems:
            updates[outcome.deal_id] = {STATUS: Status.ERROR, "propale_error": " ".join(outcome.problems)}
            lines[outcome.deal_id] = (report.failed, DealLine(outcome.deal_name, url, " ".join(outcome.problems)))
            report.failed.append(lines[outcome.deal_id][1])
            continue
        assert outcome.proposal_id is not None and ledger is not None and settings is not None
        proposal = ledger.get_proposal(outcome.proposal_id)
        assert proposal is not None and proposal.snapshot is not None and proposal.sent_at is not None
        updates[outcome.deal_id] = {
            STATUS: Status.SENT,
            "propale_proposal_number": proposal.number,
            "propale_proposal_url": proposal_link(ledger, settings, proposal),
            "propale_sent_at": hubspot_datetime(proposal.sent_at),
            "propale_error": "",
        }
        detail = f"{proposal.number} — {proposal.snapshot.summary[0]}"
        lines[outcome.deal_id] = (
            report.sent,
            DealLine(outcome.deal_name, url, detail + _warnings_mention(outcome.warnings, proposal.snapshot)),
        )
        report.sent.append(lines[outcome.deal_id][1])
        note_key = delivery_key(PROPOSAL_NOTE, proposal.number, proposal.version)
        if ledger.ensure_delivery(note_key, kind=PROPOSAL_NOTE, proposal_id=proposal.id).is_pending:
            notes[note_key] = _proposal_note(ledger, proposal, note_key)
    earlier_notes, earlier_names = _notes_left_by_earlier_runs(ledger, exclude=notes)
    if deleted_properties:
        updates = {
            deal_id: {name: value for name, value in properties.items() if name not in deleted_properties}
            for deal_id, properties in updates.items()
        }
    refused = gateway.update_deals(updates) if updates else {}
    for deal_id, refusal in refused.items():
        _report_refused_update(report, deal_id, lines[deal_id], refusal)
    gone = {deal_id for deal_id, refusal in refused.items() if refusal.record_missing}
    if earlier_notes:
        missing, unreadable = gateway.missing_deals([note.deal_id for note in earlier_notes.values()])
        gone |= missing
        earlier_notes = {key: note for key, note in earlier_notes.items() if note.deal_id not in unreadable}
        notes.update(earlier_notes)
    for note_key, note in list(notes.items()):
        if note.deal_id in gone:
            # Nothing can be noted on a deleted deal: the rep is told above (or was when it was deleted).
            assert ledger is not None
            ledger.cancel_delivery(note_key)
            del notes[note_key]
    if notes:
        assert ledger is not None
        # Only the notes this attempt claims are created: another attempt running at the same time creates the rest.
        pending = [d for d in ledger.pending_deliveries(kind=PROPOSAL_NOTE) if d.key in notes]
        claimed = {d.key for d in outbox.claim_batch(ledger, pending)}
        notes = {key: note for key, note in notes.items() if key in claimed}
    if notes:
        assert ledger is not None
        refused_notes = gateway.create_notes(list(notes.values()), timestamp=hubspot_datetime(now))
        outbox.record_batch(ledger, notes, {key: refusal.reason for key, refusal in refused_notes.items()})
        for note_key, refusal in refused_notes.items():
            note = notes[note_key]
            log.warning(
                "HubSpot refused the proposal note %s on deal %s (%s): kept for the next run",
                note_key,
                note.deal_id,
                refusal.category,
            )
            if note.deal_id not in refused:  # else the deal is listed already, and its note goes with it
                name = lines[note.deal_id][1].name if note.deal_id in lines else earlier_names[note.deal_id]
                report.retrying.append(
                    DealLine(
                        name,
                        gateway.deal_url(note.deal_id),
                        "HubSpot a refusé la note de la proposition : elle sera ajoutée au prochain passage.",
                    )
                )
    return report


def write_back_and_summarize(
    gateway: HubSpotGateway,
    load_settings: Callable[[], Settings],
    open_ledger: Callable[[Settings], AbstractContextManager[Ledger]],
    setup: PropertySetup,
    batches: Sequence[Sequence[dict[str, Any]]],
    handled: Sequence[DealOutcome],
    now: datetime,
) -> dict[str, Any] | None:
    """The run's last step: `write_back`, then the run's Slack message (see `summary`), with what
    the administrators must know about HubSpot's properties and Propale's settings said once."""
    notices = property_notices(setup)
    settings: Settings | None
    try:
        settings = load_settings()
    except SettingsError as error:
        settings = None
        notices.append(settings_notice(error))
    with open_ledger(settings) if settings else nullcontext() as ledger:
        report = write_back(gateway, ledger, settings, handled, now, deleted_properties=setup.deleted)
    return summary(report, unsent(batches, handled, gateway), notices)


def _notes_left_by_earlier_runs(
    ledger: Ledger | None, exclude: Collection[str]
) -> tuple[dict[str, NoteRequest], dict[str, str]]:
    """Proposal notes HubSpot refused in an earlier run (their deal may no longer be flagged), by
    delivery key, and the names of their deals."""
    notes: dict[str, NoteRequest] = {}
    names: dict[str, str] = {}
    if ledger is None:
        return notes, names
    for delivery in ledger.pending_deliveries(kind=PROPOSAL_NOTE):
        if delivery.key in exclude or delivery.proposal_id is None:
            continue
        proposal = ledger.get_proposal(delivery.proposal_id)
        if proposal is not None and proposal.snapshot is not None and ledger.has_document(proposal.id):
            notes[delivery.key] = _proposal_note(ledger, proposal, delivery.key)
            names[proposal.deal_id] = proposal.snapshot.deal_name
    return notes, names


def _report_refused_update(
    report: WriteBackReport, deal_id: str, line_of_deal: tuple[list[DealLine], DealLine], refusal: WriteRefusal
) -> None:
    """Move a deal whose update HubSpot refused to the section that says what happens next."""
    section, line = line_of_deal
    section.remove(line)
    # HubSpot's message may quote the values written (a rep's reason names a contact): kept out of logs.
    log.warning("HubSpot refused the update of deal %s (%s)", deal_id, refusal.category)
    if refusal.record_missing:
        if section is report.sent:
            number = line.detail.split(" — ")[0]
            detail = (
                f"La proposition {number} a été envoyée au client, mais la transaction a été supprimée dans HubSpot."
            )
        else:
            detail = "La transaction a été supprimée dans HubSpot : rien n'a pu y être écrit."
        report.failed.append(DealLine(line.name, line.url, detail))
        return
    if section is report.sent:
        detail = (
            "HubSpot a refusé la mise à jour de la transaction : elle reste « À proposer » et le prochain passage "
            "l'écrira, sans renvoyer la proposition."
        )
    else:
        detail = f"{line.detail} (HubSpot a refusé de l'écrire sur la transaction : nouvel essai au prochain passage.)"
    report.retrying.append(DealLine(line.name, line.url, detail))


def _warnings_mention(warnings: Sequence[str], snapshot: ProposalSnapshot) -> str:
    """What the run's summary adds to a sent proposal whose lines differ from the product library."""
    if not warnings:
        return ""
    lines = "1 ligne diffère" if len(warnings) == 1 else f"{len(warnings)} lignes diffèrent"
    told = (
        "le commercial a reçu le détail par e-mail"
        if snapshot.rep and snapshot.rep.email
        else "la transaction n’a pas de propriétaire à prévenir par e-mail"
    )
    return f" ⚠️ {lines} de la bibliothèque de produits HubSpot ({told})."


def _proposal_note(ledger: Ledger, proposal: Any, key: str) -> NoteRequest:
    snapshot = proposal.snapshot
    body = (
        f"<p><strong>Proposition {snapshot.number}</strong> envoyée à {_html(snapshot.customer.email)} "
        f"par Propale.</p><p>{_html(snapshot.summary[0])}<br>{_html(snapshot.summary[1])}</p>"
    )
    return NoteRequest(
        deal_id=proposal.deal_id,
        body_html=body,
        attachment_name=f"{snapshot.number}.pdf",
        attachment=ledger.proposal_pdf(proposal.id),
        key=key,
    )


def _html(text: str) -> str:
    return str(escape(text))


def summary(
    report: WriteBackReport, retrying: Sequence[DealLine], notices: Sequence[str] = ()
) -> dict[str, Any] | None:
    """The run's Slack message, or None when the run had nothing to report.

    Notices (for whoever administers Propale or HubSpot) come first, said once: a deal whose reason
    is a notice's is listed without repeating it. Then the sections: proposals sent, deals to fix,
    deals whose email failed and will be retried by the next run, deals asked for by id that were
    not flagged.
    """
    failed = [
        DealLine(line.name, line.url, "voir ci-dessus") if line.detail in notices else line for line in report.failed
    ]
    sections = [
        SummarySection("Envoyées", report.sent, "envoyée", "envoyées"),
        SummarySection("À corriger dans HubSpot", failed, "à corriger", "à corriger"),
        SummarySection(
            "Envoi en échec, nouvel essai au prochain passage", [*retrying, *report.retrying], "en échec", "en échec"
        ),
        SummarySection("Non traitées", report.skipped, "non traitée", "non traitées"),
    ]
    if not notices and not any(section.lines for section in sections):
        return None
    return run_summary("Propositions Propale", sections, notices)


def post_summary(
    ledger: Ledger | None, message: dict[str, Any], run_id: str, post: Callable[[dict[str, Any]], None]
) -> None:
    """Post the run's Slack message once per run, claimed in the ledger's outbox like every other
    delivery: a retried task, or its zombie, does not post it again, and a message Slack refuses for
    good is logged and dropped (`outbox`). Without a ledger (Propale's settings are what is broken),
    it is posted as it is: telling the team matters more than exactly once."""
    if ledger is None:
        post(message)
        return
    delivery = ledger.ensure_delivery(f"{RUN_SUMMARY}:{run_id}", kind=RUN_SUMMARY, payload=json.dumps(message).encode())
    if delivery.is_pending:
        outbox.deliver(ledger, delivery, lambda claimed: post(json.loads(claimed.payload or b"{}")), at_most_once=False)


def batches(outcomes: Sequence[DealOutcome], max_batches: int) -> list[list[dict[str, Any]]]:
    """Deals split into at most `max_batches` groups, one deal per group when they are few."""
    if not outcomes:
        return []
    size = -(-len(outcomes) // max_batches)
    return [[o.to_dict() for o in outcomes[i : i + size]] for i in range(0, len(outcomes), size)]


def batch_label(outcomes: Sequence[DealOutcome]) -> str:
    first = outcomes[0].deal_name if outcomes else "?"
    return first if len(outcomes) == 1 else f"{first} (+{len(outcomes) - 1})"


def unsent(
    batches: Sequence[Sequence[dict[str, Any]]], handled: Sequence[DealOutcome], gateway: HubSpotGateway
) -> list[DealLine]:
    """Deals of batches whose task failed: still flagged, so the next run tries them again."""
    done = {o.deal_id for o in handled}
    return [
        DealLine(d["deal_name"], gateway.deal_url(d["deal_id"]), "l'e-mail n'a pas pu être envoyé")
        for batch in batches
        for d in batch
        if d["deal_id"] not in done
    ]

"""HubSpot's 207 on batch writes, record by record: what it refused is kept for the next run and
reported, the rest of the batch is done, and nothing is written twice.

HubSpot is the sandbox's stand-in, made to refuse one deal's writes with its `refused_write_id`
fault; the ledger is a real SQLite database; emails go to a recording outbox.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from propale.crm import HubSpotGateway, NoteRequest, Status, make_client
from propale.ledger import DeliveryStatus, Ledger
from propale.proposals import build_snapshot, source_fingerprint
from propale.sending import PROPOSAL_NOTE, DealOutcome, deliver, summary, write_back
from propale.syncing import DEAL_NOTE, DEAL_UPDATE, write_to_hubspot
from support.factories import ISSUED_AT, sample_deal, sample_settings

SETTINGS = sample_settings()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def gateway(sandbox_config) -> HubSpotGateway:
    gateway = HubSpotGateway(make_client(sandbox_config.hubspot_token, host=sandbox_config.hubspot_url))
    gateway.ensure_deal_properties()
    return gateway


def _flagged_deals(gateway: HubSpotGateway, *names: str) -> list[str]:
    created = gateway.client.crm.deals.batch_api.create(
        {"inputs": [{"properties": {"dealname": name, "propale_status": Status.TO_PROPOSE}} for name in names]}
    )
    by_name = {deal.properties["dealname"]: deal.id for deal in created.results}
    return [by_name[name] for name in names]


def _status(gateway: HubSpotGateway, deal_id: str) -> str:
    return gateway.client.crm.deals.basic_api.get_by_id(deal_id, properties=["propale_status"]).properties[
        "propale_status"
    ]


def _notes(gateway: HubSpotGateway, deal_id: str) -> list[str]:
    links = gateway.client.crm.associations.v4.basic_api.get_page("deals", deal_id, "notes").results
    return [
        gateway.client.crm.objects.notes.basic_api.get_by_id(
            str(link.to_object_id), properties=["hs_note_body"]
        ).properties["hs_note_body"]
        for link in links
    ]


def _sent(ledger: Ledger, deal_id: str, name: str) -> DealOutcome:
    """A proposal issued and emailed for the deal, as the first two steps of a run leave it."""
    deal = sample_deal(id=deal_id, name=name)
    proposal = ledger.issue_proposal(
        deal_id,
        request_key="flagged-at-1",
        source_fingerprint=source_fingerprint(deal),
        issued_at=ISSUED_AT,
        validity_days=30,
    )
    ledger.stage_snapshot(
        proposal.id, build_snapshot(deal, SETTINGS, proposal.number, proposal.version, ISSUED_AT, proposal.valid_until)
    )
    outcome = deliver(ledger, SETTINGS, DealOutcome(deal_id, name, proposal_id=proposal.id), lambda message: None, None)
    assert outcome.problems == []
    return outcome


def _note_delivery(ledger: Ledger, outcome: DealOutcome):
    [delivery] = [d for d in ledger.pending_deliveries(kind=PROPOSAL_NOTE) if d.proposal_id == outcome.proposal_id] or [
        None
    ]
    return delivery


# --- the gateway ---------------------------------------------------------------------------------


def test_the_gateway_reports_each_refused_record_and_writes_the_rest(gateway, hubspot_admin):
    kept, refused = _flagged_deals(gateway, "Accepté", "Refusé")
    hubspot_admin.set_faults(refused_write_id=int(refused))
    refusals = gateway.update_deals(
        {kept: {"propale_status": Status.SENT}, refused: {"propale_status": Status.SENT}, "1": {}}
    )
    assert set(refusals) == {refused, "1"}
    assert refusals["1"].record_missing and not refusals[refused].record_missing
    assert (_status(gateway, kept), _status(gateway, refused)) == (Status.SENT, Status.TO_PROPOSE)

    notes = [NoteRequest(kept, "<p>Note A</p>", key="note-a"), NoteRequest(refused, "<p>Note B</p>", key="note-b")]
    assert set(gateway.create_notes(notes, timestamp="2026-03-02T10:00:00.000Z")) == {"note-b"}
    assert (_notes(gateway, kept), _notes(gateway, refused)) == (["<p>Note A</p>"], [])


# --- sending: status write-back and proposal notes ----------------------------------------------


def test_a_deal_whose_writes_hubspot_refused_is_written_by_the_next_runs_exactly_once(gateway, hubspot_admin, ledger):
    ids = _flagged_deals(gateway, "Atelier Nord", "Atelier Sud", "Atelier Est")
    outcomes = [
        _sent(ledger, deal_id, name)
        for deal_id, name in zip(ids, ["Atelier Nord", "Atelier Sud", "Atelier Est"], strict=True)
    ]
    _north, south, _east = ids
    hubspot_admin.set_faults(refused_write_id=int(south))

    report = write_back(gateway, ledger, SETTINGS, outcomes, NOW)

    assert [line.name for line in report.sent] == ["Atelier Nord", "Atelier Est"]
    assert [line.name for line in report.retrying] == ["Atelier Sud"], "its status, and its note with it"
    assert [_status(gateway, deal_id) for deal_id in ids] == [Status.SENT, Status.TO_PROPOSE, Status.SENT]
    assert [len(_notes(gateway, deal_id)) for deal_id in ids] == [1, 0, 1]
    refused_note = _note_delivery(ledger, outcomes[1])
    assert refused_note is not None and refused_note.last_error.startswith("INTERNAL_ERROR")
    message = json.dumps(summary(report, []), ensure_ascii=False)
    assert "Atelier Sud" in message and "le prochain passage l'écrira, sans renvoyer la proposition" in message

    hubspot_admin.set_faults(refused_write_id=0)
    # The next run, before it finds the deal flagged again (or after a rep changed it): the note goes.
    write_back(gateway, ledger, SETTINGS, [], NOW)
    assert [len(_notes(gateway, deal_id)) for deal_id in ids] == [1, 1, 1]
    assert _note_delivery(ledger, outcomes[1]) is None
    # The run that finds it still flagged writes its status, and no second note.
    report = write_back(gateway, ledger, SETTINGS, [outcomes[1]], NOW)
    assert [line.name for line in report.sent] == ["Atelier Sud"] and report.retrying == []
    assert [_status(gateway, deal_id) for deal_id in ids] == [Status.SENT] * 3
    assert [len(_notes(gateway, deal_id)) for deal_id in ids] == [1, 1, 1]


def test_a_deal_deleted_before_the_write_back_is_reported_not_retried(gateway, ledger):
    kept, deleted = _flagged_deals(gateway, "Maison Verte", "Maison Rouge")
    outcomes = [_sent(ledger, kept, "Maison Verte"), _sent(ledger, deleted, "Maison Rouge")]
    gateway.client.crm.deals.basic_api.archive(deleted)

    report = write_back(gateway, ledger, SETTINGS, outcomes, NOW)

    assert [line.name for line in report.sent] == ["Maison Verte"]
    [line] = report.failed
    assert line.name == "Maison Rouge" and "supprimée dans HubSpot" in line.detail and "DEV-" in line.detail
    assert ledger.pending_deliveries(kind=PROPOSAL_NOTE) == [], "nothing can be noted on a deleted deal"
    assert len(_notes(gateway, kept)) == 1


# --- syncing: the outbox of deal updates and notes -------------------------------------------------


def test_sync_writes_what_hubspot_took_and_keeps_the_refused_for_the_next_attempt(gateway, hubspot_admin, ledger):
    kept, refused = _flagged_deals(gateway, "Studio Lune", "Studio Soleil")
    for deal_id, name in ((kept, "Studio Lune"), (refused, "Studio Soleil")):
        payload = {"deal_id": deal_id, "deal_name": name}
        ledger.ensure_delivery(
            f"update:{deal_id}",
            kind=DEAL_UPDATE,
            payload=json.dumps({**payload, "properties": {"propale_status": Status.ACCEPTED}}).encode(),
        )
        ledger.ensure_delivery(
            f"note:{deal_id}",
            kind=DEAL_NOTE,
            payload=json.dumps({**payload, "body_html": f"<p>Paiement reçu {name}</p>"}).encode(),
        )
    hubspot_admin.set_faults(refused_write_id=int(refused))

    with pytest.raises(RuntimeError, match="will retry"):
        write_to_hubspot(gateway, ledger, NOW)

    assert {d.key for d in ledger.pending_deliveries()} == {f"update:{refused}", f"note:{refused}"}
    assert (_status(gateway, kept), len(_notes(gateway, kept))) == (Status.ACCEPTED, 1)
    assert (_status(gateway, refused), len(_notes(gateway, refused))) == (Status.TO_PROPOSE, 0)

    hubspot_admin.set_faults(refused_write_id=0)
    assert write_to_hubspot(gateway, ledger, NOW)["notes"] == 1
    assert ledger.delivery(f"note:{refused}").status == DeliveryStatus.DONE
    assert [len(_notes(gateway, deal_id)) for deal_id in (kept, refused)] == [1, 1]
    assert _status(gateway, refused) == Status.ACCEPTED


def test_sync_keeps_a_note_hubspot_refused_even_when_its_deal_update_went_through(gateway, hubspot_admin, ledger):
    [deal_id] = _flagged_deals(gateway, "Studio Mars")
    ledger.ensure_delivery(
        "note:mars",
        kind=DEAL_NOTE,
        payload=json.dumps({"deal_id": deal_id, "deal_name": "Studio Mars", "body_html": "<p>Relance</p>"}).encode(),
    )
    hubspot_admin.set_faults(refused_write_id=int(deal_id))
    with pytest.raises(RuntimeError):
        write_to_hubspot(gateway, ledger, NOW)
    assert ledger.delivery("note:mars").status == DeliveryStatus.PENDING, "never marked done when HubSpot refused it"
    hubspot_admin.set_faults(refused_write_id=0)
    write_to_hubspot(gateway, ledger, NOW)
    assert _notes(gateway, deal_id) == ["<p>Relance</p>"]

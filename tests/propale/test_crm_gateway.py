"""The HubSpot gateway against the sandbox: setup, finding flagged deals, batch reads and writes."""

from __future__ import annotations

import time

import pytest
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate
from hubspot.crm.properties import OptionInput, PropertyUpdate

from propale.crm import DEAL_PROPERTIES, HubSpotGateway, NoteRequest, Status, deal_input, make_client


@pytest.fixture
def hubspot(start_sandbox):
    sandbox = start_sandbox(reset=True)
    client = make_client(sandbox.config.hubspot_token, host=sandbox.config.hubspot_url)
    return sandbox, client, HubSpotGateway(client)


def _create_deals(client, count: int, **properties: str) -> list[str]:
    ids = []
    for start in range(0, count, 100):
        inputs = [
            {"properties": {"dealname": f"Deal {start + i}", **properties}} for i in range(min(100, count - start))
        ]
        response = client.crm.deals.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
        ids += [deal.id for deal in response.results]
    return ids


def test_setup_creates_the_properties_once_then_costs_two_reads(hubspot):
    sandbox, client, gateway = hubspot
    setup = gateway.ensure_deal_properties()
    assert setup.first_setup and setup.repaired == [] and setup.deleted == []
    assert "group propale" in setup.changes
    assert {spec.name for spec in DEAL_PROPERTIES} <= set(setup.changes)
    status = client.crm.properties.core_api.get_by_name("deals", "propale_status")
    assert [(o.value, o.label) for o in status.options] == [
        ("not_created", "Proposition non créée"),
        ("to_propose", "À proposer"),
        ("sent", "Proposition envoyée"),
        ("accepted", "Proposition acceptée"),
        ("error", "Erreur"),
    ]
    with sandbox.admin("hubspot") as admin:
        admin.reset_stats()
        assert gateway.ensure_deal_properties().changes == []
        assert admin.stats()["total"] == 2


def test_setup_adds_what_is_missing_without_clobbering_an_admins_changes(hubspot):
    _sandbox, client, gateway = hubspot
    gateway.ensure_deal_properties()
    status = client.crm.properties.core_api.get_by_name("deals", "propale_status")
    # An admin renames a label, adds an option of their own, and someone deletes "error".
    options = [
        OptionInput(
            label="Envoyée au client" if o.value == "sent" else o.label,
            value=o.value,
            display_order=o.display_order,
            hidden=False,
        )
        for o in status.options
        if o.value != "error"
    ] + [OptionInput(label="En pause", value="on_hold", display_order=9, hidden=False)]
    client.crm.properties.core_api.update("deals", "propale_status", PropertyUpdate(options=options))

    assert gateway.ensure_deal_properties().changes == ["propale_status options error"]
    status = client.crm.properties.core_api.get_by_name("deals", "propale_status")
    labels = {o.value: o.label for o in status.options}
    assert labels["sent"] == "Envoyée au client" and labels["on_hold"] == "En pause" and labels["error"] == "Erreur"


def test_a_property_deleted_by_an_admin_is_reported_for_restoring_not_shadowed(hubspot):
    """HubSpot keeps a deleted property, values included, in its recycle bin under its name."""
    _sandbox, client, gateway = hubspot
    gateway.ensure_deal_properties()
    [_deal_id] = _create_deals(client, 1, propale_proposal_url="https://propale.example/p/abc")
    client.crm.properties.core_api.archive("deals", "propale_proposal_url")

    setup = gateway.ensure_deal_properties()
    assert setup.deleted == ["propale_proposal_url"] and setup.changes == []
    assert client.crm.properties.core_api.get_by_name("deals", "propale_proposal_url", archived=True).archived
    assert gateway.ensure_deal_properties().deleted == ["propale_proposal_url"], "reported on every run until restored"


def test_properties_missing_beside_existing_ones_are_created_and_reported(hubspot):
    """E.g. an older install, or properties removed for good: they come back, empty."""
    _sandbox, client, gateway = hubspot
    client.crm.properties.groups_api.create("deals", {"name": "propale", "label": "Propale"})
    client.crm.properties.core_api.create(
        "deals",
        {
            "name": "propale_error",
            "label": "Erreur Propale",
            "type": "string",
            "fieldType": "textarea",
            "groupName": "propale",
        },
    )
    setup = gateway.ensure_deal_properties()
    assert not setup.first_setup and not setup.group_created
    assert set(setup.repaired) == {spec.name for spec in DEAL_PROPERTIES} - {"propale_error"}
    assert "propale_status" in {p.name for p in client.crm.properties.core_api.get_all("deals").results}


def test_finding_flagged_deals_pages_past_the_search_cap_and_in_id_order(hubspot):
    sandbox, client, gateway = hubspot
    gateway.ensure_deal_properties()
    flagged = _create_deals(client, 10_050, propale_status=Status.TO_PROPOSE)
    _create_deals(client, 30, propale_status=Status.SENT)
    with sandbox.admin("hubspot") as admin:
        admin.reset_stats()
        found = gateway.find_deal_ids(Status.TO_PROPOSE)
        searches = sum(
            entry["count"] for endpoint, entry in admin.stats()["endpoints"].items() if endpoint.endswith("/search")
        )
    assert found == sorted(flagged, key=int), "every flagged deal, beyond search's 10,000-result cap"
    assert searches == 51, "200 per page"


def test_flagged_deals_filling_whole_pages_cost_no_extra_empty_search(hubspot):
    sandbox, client, gateway = hubspot
    gateway.ensure_deal_properties()
    flagged = _create_deals(client, 400, propale_status=Status.TO_PROPOSE)
    with sandbox.admin("hubspot") as admin:
        admin.reset_stats()
        found = gateway.find_deal_ids(Status.TO_PROPOSE)
        searches = sum(
            entry["count"] for endpoint, entry in admin.stats()["endpoints"].items() if endpoint.endswith("/search")
        )
    assert found == sorted(flagged, key=int)
    assert searches == 2, "the second full page holds every match left: no third search to find nothing"


def test_a_deal_flagged_during_index_lag_is_found_by_a_later_run(hubspot):
    sandbox, client, gateway = hubspot
    gateway.ensure_deal_properties()
    with sandbox.admin("hubspot") as admin:
        admin.set_faults(search_lag_s=1.5)
    [deal_id] = _create_deals(client, 1, propale_status=Status.TO_PROPOSE)
    assert gateway.find_deal_ids(Status.TO_PROPOSE) == []
    time.sleep(1.6)
    assert gateway.find_deal_ids(Status.TO_PROPOSE) == [deal_id]


def test_reading_deals_costs_a_fixed_number_of_batch_calls(start_sandbox):
    sandbox = start_sandbox(reset=True, seed="demo")
    client = make_client(sandbox.config.hubspot_token, host=sandbox.config.hubspot_url)
    gateway = HubSpotGateway(client)
    deal_ids = [deal.id for deal in client.crm.deals.basic_api.get_page(limit=100).results]
    with sandbox.admin("hubspot") as admin:
        admin.reset_stats()
        deals = gateway.read_deals(deal_ids)
        calls = admin.stats()["total"]
    # deals, 3 association reads, contacts, companies, line items, products, owners (active, archived)
    assert calls == 10
    assert len(deals) == len(deal_ids) == 12
    lumen = next(d for d in deals.values() if d.name == "Atelier Lumen — 3 postes nomades")
    proposal_input = deal_input(lumen)
    assert proposal_input.contact.email == "lea.garnier@atelier-lumen.example"
    assert proposal_input.company.name == "Atelier Lumen"
    assert proposal_input.company.vat_number.startswith("FR")
    assert proposal_input.owner.email.endswith("@lafabrique-commune.example")
    assert [line.recurring_billing_frequency for line in proposal_input.line_items] == ["monthly"]


def test_reading_hundreds_of_deals_costs_calls_per_batch_not_per_deal(start_sandbox):
    sandbox = start_sandbox(reset=True, seed="demo", generated_deals=250)
    client = make_client(sandbox.config.hubspot_token, host=sandbox.config.hubspot_url)
    gateway = HubSpotGateway(client)
    deal_ids = [deal.id for deal in client.crm.deals.get_all()]
    with sandbox.admin("hubspot") as admin:
        admin.reset_stats()
        deals = gateway.read_deals(deal_ids)
        calls = {endpoint: entry["count"] for endpoint, entry in admin.stats()["endpoints"].items()}
    assert len(deals) == len(deal_ids) == 262
    assert all(deal.contacts and deal.line_items for deal in deals.values() if deal.name.startswith("Client "))
    assert calls["POST /crm/v4/associations/{from_type}/{to_type}/batch/read"] == 3, "1,000 deals per call, per kind"
    assert calls["POST /crm/v3/objects/deals/batch/read"] == 6, "50 per call: deals are read with their status history"
    assert calls["POST /crm/v3/objects/contacts/batch/read"] == 3, "100 per call without history"
    assert sum(calls.values()) <= 23


def test_a_note_with_its_pdf_lands_on_the_deal_timeline(hubspot):
    _sandbox, client, gateway = hubspot
    [deal_id] = _create_deals(client, 1)
    gateway.create_notes(
        [NoteRequest(deal_id, "<p>Proposition <b>DEV-2026-00001</b></p>", "DEV-2026-00001.pdf", b"%PDF-1.7 test")],
        timestamp="2026-11-27T10:00:00.000Z",
    )
    [association] = client.crm.associations.v4.basic_api.get_page("deals", deal_id, "notes").results
    note = client.crm.objects.notes.basic_api.get_by_id(
        str(association.to_object_id), properties=["hs_note_body", "hs_attachment_ids"]
    )
    file = client.files.files_api.get_by_id(note.properties["hs_attachment_ids"])
    assert file.name.startswith("DEV-2026-00001")
    assert "DEV-2026-00001" in note.properties["hs_note_body"]

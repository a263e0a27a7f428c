"""HubSpot stand-in as a process: state across restarts and crashes, --reset, --seed demo."""

from __future__ import annotations

import signal
import subprocess
import sys

import hubspot

from propale_dev.sandbox.process import SandboxProcess


def _client(process):
    return hubspot.Client.create(access_token=process.config.hubspot_token, host=process.config.hubspot_url)


def test_state_survives_a_restart_and_a_crash_and_reset_starts_clean(start_sandbox):
    process = start_sandbox(reset=True)
    client = _client(process)
    client.crm.properties.core_api.create(
        "deals",
        {
            "name": "persisted_flag",
            "label": "Flag",
            "type": "string",
            "fieldType": "text",
            "groupName": "dealinformation",
        },
    )
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "Persistant", "persisted_flag": "oui"}})
    contact = client.crm.contacts.basic_api.create({"properties": {"email": "persist@client.example"}})
    client.crm.associations.v4.basic_api.create_default("deals", deal.id, "contacts", contact.id)

    process.restart()
    client = _client(process)
    assert (
        client.crm.deals.basic_api.get_by_id(deal.id, properties=["persisted_flag"]).properties["persisted_flag"]
        == "oui"
    )
    assert [
        r.to_object_id for r in client.crm.associations.v4.basic_api.get_page("deals", deal.id, "contacts").results
    ] == [contact.id]
    second = client.crm.deals.basic_api.create({"properties": {"dealname": "Après redémarrage"}})
    assert int(second.id) > int(deal.id)  # ids keep counting

    process.stop(sig=signal.SIGKILL)
    process.start()
    found = client.crm.deals.search_api.do_search(
        {"filterGroups": [{"filters": [{"propertyName": "dealname", "operator": "EQ", "value": "Après redémarrage"}]}]}
    )
    assert [r.id for r in found.results] == [second.id]

    process.stop()
    with SandboxProcess(process.config, reset=True) as fresh:
        assert _client(fresh).crm.deals.basic_api.get_page().results == []


def test_seed_demo_loads_the_coworking_account_once(start_sandbox):
    process = start_sandbox(reset=True, seed="demo")
    client = _client(process)
    deals = client.crm.deals.get_all(
        properties=["dealname", "amount", "deal_currency_code", "hubspot_owner_id", "dealstage"]
    )
    assert len(deals) == 12
    assert {d.properties["deal_currency_code"] for d in deals} == {"EUR"}
    owners = client.crm.owners.owners_api.get_page().results
    assert len(owners) == 4 and len(client.crm.owners.owners_api.get_page(archived=True).results) == 1
    assert {d.properties["hubspot_owner_id"] for d in deals} <= {o.id for o in owners}
    products = client.crm.products.get_all(properties=["name", "price", "recurringbillingfrequency"])
    names = {p.properties["name"] for p in products}
    assert {"Poste nomade", "Bureau fixe", "Bureau privé 6 places", "Frais de mise en service"} <= names

    v4 = client.crm.associations.v4.batch_api
    ids = [{"id": d.id} for d in deals]
    lines = v4.get_page("deals", "line_items", {"inputs": ids})
    assert len(lines.results) == 11 and lines.num_errors == 1  # the deal without line items
    companies = v4.get_page("deals", "companies", {"inputs": ids})
    assert len(companies.results) == 12
    assert all(any(t.type_id == 5 for to in r.to for t in to.association_types) for r in companies.results)
    contacts = v4.get_page("deals", "contacts", {"inputs": ids})
    contact_ids = [{"id": to.to_object_id} for r in contacts.results for to in r.to]
    emails = [c.properties["email"] for c in client.crm.contacts.batch_api.read(
        {"inputs": contact_ids, "properties": ["email"], "propertiesWithHistory": []}
    ).results]  # fmt: skip
    assert None in emails  # the contact without an e-mail address
    companies_props = client.crm.companies.get_all(properties=["vat_number", "siren", "city"])
    assert all(c.properties["vat_number"].startswith("FR") and len(c.properties["siren"]) == 9 for c in companies_props)

    process.stop()
    with SandboxProcess(process.config, seed="demo") as again:
        assert len(_client(again).crm.deals.get_all()) == 12


def test_generated_deals_are_complete_customers_added_to_the_demo(start_sandbox):
    process = start_sandbox(reset=True, seed="demo", generated_deals=3)
    client = _client(process)
    deals = [
        d
        for d in client.crm.deals.get_all(properties=["dealname", "amount"])
        if d.properties["dealname"].startswith("Client ")
    ]
    assert sorted(d.properties["dealname"] for d in deals) == [
        "Client 00001 — 3 demi-journées de salle",
        "Client 00002 — bureau privé 2 places et mise en service",
        "Client 00003 — 2 postes nomades",
    ]
    nomades = next(d for d in deals if "nomades" in d.properties["dealname"])
    assert nomades.properties["amount"] == "380"  # 2 × 190 €, from the product's price
    contacts = client.crm.associations.v4.batch_api.get_page(
        "deals", "contacts", {"inputs": [{"id": d.id} for d in deals]}
    )
    contact_ids = [{"id": to.to_object_id} for r in contacts.results for to in r.to]
    emails = {
        c.properties["email"]
        for c in client.crm.contacts.batch_api.read(
            {"inputs": contact_ids, "properties": ["email"], "propertiesWithHistory": []}
        ).results
    }
    assert emails == {"contact@client00001.example", "contact@client00002.example", "contact@client00003.example"}


def test_generated_deals_need_the_demo_seed(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "propale", "sandbox", "--data-dir", str(tmp_path), "--generated-deals", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--seed demo" in result.stderr

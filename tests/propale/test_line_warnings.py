"""A demo deal whose lines differ from HubSpot's product library, from HubSpot to the run's summary:
read through the gateway (the product's price, a product deleted since), sent as the rep wrote it,
the rep told once by email, and the run's Slack summary saying so.

HubSpot is the sandbox's stand-in, seeded with the demo account; the ledger is a real SQLite
database; emails go to a recording outbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from propale.crm import HubSpotGateway, Status, deal_input, make_client
from propale.sending import collect, deliver, summary, write_back
from support.factories import sample_settings

SETTINGS = sample_settings()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
VASSEUR = (
    "Cabinet Vasseur — bureau privé 6 places, engagement annuel"  # 27 600 € a year; the product is 2 300 € a month
)
KAIROS = "Studio Kairos — 4 demi-journées de salle"


def test_lines_off_the_product_library_are_sent_and_the_rep_is_told(start_sandbox, ledger):
    sandbox = start_sandbox(reset=True, seed="demo")
    client = make_client(sandbox.config.hubspot_token, host=sandbox.config.hubspot_url)
    gateway = HubSpotGateway(client)
    gateway.ensure_deal_properties()
    deals = {deal.properties["dealname"]: deal.id for deal in client.crm.deals.get_all(properties=["dealname"])}
    [room] = [
        p.id for p in client.crm.products.get_all(properties=["name"]) if p.properties["name"].startswith("Salle")
    ]
    client.crm.products.basic_api.archive(room)
    ids = [deals[VASSEUR], deals[KAIROS]]
    client.crm.deals.batch_api.update(
        {"inputs": [{"id": i, "properties": {"propale_status": Status.TO_PROPOSE}} for i in ids]}
    )

    vasseur = deal_input(gateway.read_deals([deals[VASSEUR]])[deals[VASSEUR]])
    [line] = vasseur.line_items
    assert (line.price, line.product_price, line.term, line.discount_percentage) == ("27600", "2300", "P12M", "10")

    outcomes = collect(gateway, ledger, SETTINGS, NOW, ids)
    assert [outcome.problems for outcome in outcomes] == [[], []]
    assert [len(outcome.warnings) for outcome in outcomes] == [1, 1]
    sent: list[EmailMessage] = []
    for outcome in outcomes:
        deliver(ledger, SETTINGS, outcome, sent.append, "propale@lafabrique-commune.example")
        deliver(ledger, SETTINGS, outcome, sent.append, "propale@lafabrique-commune.example")
    assert [message["To"].addresses[0].username for message in sent] == [
        "s.vasseur",
        "ines.moreau",
        "antoine",
        "hugo.bernard",
    ]
    assert "Salle de réunion (demi-journée)" in sent[3].get_body(("plain",)).get_content()

    report = write_back(gateway, ledger, SETTINGS, outcomes, NOW)
    assert [line.name for line in report.sent] == [VASSEUR, KAIROS]
    message = summary(report, [])
    rows = "\n".join(block["text"]["text"] for block in message["blocks"] if block["type"] == "section")
    assert (
        rows.count(
            "⚠️ 1 ligne diffère de la bibliothèque de produits HubSpot (le commercial a reçu le détail par e-mail)."
        )
        == 2
    )
    snapshot = ledger.get_proposal(outcomes[0].proposal_id).snapshot
    assert snapshot.term is not None and snapshot.term.periods == 1

"""A company name of 3,500 characters through both DAGs: every message still goes out, shortened
where Slack has limits (3,000 characters a section, 40,000 in all), and nothing queued after it is
held back.

One demo deal gets the long name; it is sent by `propale_send_proposals`, accepted and paid by card,
and `propale_sync_stripe` tells everyone. The Slack stand-in refuses what Slack refuses.
"""

from __future__ import annotations

import pytest

from propale_dev.sandbox.slack import blocks_within_limits
from support.demo_world import NewDeal, running_demo
from support.sync_world import World

pytestmark = [pytest.mark.long, pytest.mark.timeout(900)]

COMPANY = ("Coopérative des Ateliers Réunis du Grand Lyon et de ses Environs " * 60)[:3500]
DEAL = "Ateliers Réunis — 2 postes fixes"
EMAIL = "claire.morel@ateliers-reunis.example"


def test_a_3500_character_company_name_goes_through_both_dags(tmp_path_factory, airflow_for):
    assert len(COMPANY) == 3500
    for sandbox, airflow in running_demo(tmp_path_factory, airflow_for, "long_names"):
        world = World(sandbox, airflow)
        world.create_deals(
            [
                NewDeal(
                    name=DEAL,
                    contact={"firstname": "Claire", "lastname": "Morel", "email": EMAIL},
                    company={"name": COMPANY, "address": "5 rue Mercière", "zip": "69002", "city": "Lyon"},
                    line_items=[
                        {
                            "name": "Poste fixe",
                            "quantity": "2",
                            "price": "290",
                            "hs_tax_rate": "20",
                            "recurringbillingfrequency": "monthly",
                            "hs_line_item_currency_code": "EUR",
                        }
                    ],
                    properties={"deal_currency_code": "EUR"},
                )
            ]
        )
        world.flag(DEAL)
        airflow.dags_test("propale_send_proposals")
        assert world.deal(DEAL)["propale_status"] == "sent", world.deal(DEAL)["propale_error"]
        [summary] = world.slack_posts()
        assert blocks_within_limits(summary["blocks"]) and COMPANY not in str(summary)

        session = world.open_checkout(DEAL, "card")
        world.pay(session.id, card_number="4242424242424242")
        world.sync()
        assert world.deal(DEAL)["propale_status"] == "accepted"
        accepted = [post for post in world.slack_posts() if "Proposition acceptée" in post["text"]]
        assert len(accepted) == 1 and blocks_within_limits(accepted[0]["blocks"])
        assert COMPANY[:40] in str(accepted[0]) and COMPANY not in str(accepted[0]), "shortened, not dropped"
        [invoice_email] = [m for m in world.emails(EMAIL) if m["subject"].startswith("Votre facture")]
        assert len(invoice_email["subject"]) <= 150

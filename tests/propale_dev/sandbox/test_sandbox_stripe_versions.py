"""The Stripe stand-in renders events in the account's API version: the transforms, then a real
sandbox process on an account on 2024-06-20, restarted on the pinned version."""

from __future__ import annotations

import copy
from typing import Any

import stripe

from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from propale_dev.sandbox.stripe.core import API_VERSION
from propale_dev.sandbox.stripe.versions import changes_since, release_date, render

OLD = "2024-06-20"


class Objects:
    """The stand-in's store as the transforms see it: related objects by name and id."""

    def __init__(self, *objects: dict[str, Any]):
        self.objects = list(objects)

    def find(self, object_name: str, id_: str | None) -> dict[str, Any] | None:
        return next((o for o in self.objects if o["object"] == object_name and o["id"] == id_), None)

    def all(self, object_name: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["object"] == object_name]


def subscription_invoice() -> dict[str, Any]:
    tax = {
        "amount": 480,
        "tax_behavior": "exclusive",
        "tax_rate_details": {"tax_rate": "txr_20"},
        "taxability_reason": "standard_rated",
        "taxable_amount": 2400,
        "type": "tax_rate_details",
    }
    return {
        "id": "in_1",
        "object": "invoice",
        "status": "paid",
        "metadata": {},
        "amount_overpaid": 0,
        "confirmation_secret": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": {"proposal_number": "DEV-2026-00001"},
                "subscription": "sub_1",
                "subscription_proration_date": None,
            },
            "type": "subscription_details",
        },
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "il_1",
                    "object": "line_item",
                    "parent": {
                        "invoice_item_details": None,
                        "subscription_item_details": {
                            "invoice_item": None,
                            "proration": False,
                            "proration_details": {"credited_items": None},
                            "subscription": "sub_1",
                            "subscription_item": "si_1",
                        },
                        "type": "subscription_item_details",
                    },
                    "taxes": [tax],
                }
            ],
        },
        "total_taxes": [tax],
    }


PAYMENT = {
    "id": "inpay_1",
    "object": "invoice_payment",
    "invoice": "in_1",
    "is_default": True,
    "payment": {"payment_intent": "pi_1", "type": "payment_intent"},
}
INTENT = {"id": "pi_1", "object": "payment_intent", "latest_charge": "ch_1"}
RATE = {"id": "txr_20", "object": "tax_rate", "percentage": 20.0}


def test_a_pre_basil_invoice_has_its_subscription_at_the_top_and_no_parent():
    invoice = subscription_invoice()
    old = render("invoice", invoice, OLD, Objects(PAYMENT, INTENT, RATE))
    assert "parent" not in old
    assert old["subscription"] == "sub_1"
    assert old["subscription_details"] == {"metadata": {"proposal_number": "DEV-2026-00001"}}
    assert old["quote"] is None and old["subscription_proration_date"] is None
    # One payment per invoice then: its intent, its charge and `paid`, not `payments`.
    assert (old["paid"], old["paid_out_of_band"], old["payment_intent"], old["charge"]) == (True, False, "pi_1", "ch_1")
    assert "amount_overpaid" not in old and "confirmation_secret" not in old
    [line] = old["lines"]["data"]
    assert "parent" not in line
    assert (line["type"], line["subscription"], line["subscription_item"], line["proration"]) == (
        "subscription",
        "sub_1",
        "si_1",
        False,
    )
    assert line["tax_amounts"] == [
        {
            "amount": 480,
            "inclusive": False,
            "tax_rate": "txr_20",
            "taxability_reason": "standard_rated",
            "taxable_amount": 2400,
        }
    ]
    assert line["tax_rates"] == [RATE] and "taxes" not in line
    assert old["total_tax_amounts"] == line["tax_amounts"] and "total_taxes" not in old
    assert invoice == subscription_invoice(), "the stored object is left as it is"


def test_a_one_off_invoice_before_basil_has_no_subscription():
    invoice = {
        **subscription_invoice(),
        "parent": None,
        "metadata": {"proposal_number": "DEV-2026-00002"},
        "status": "open",
    }
    invoice["lines"]["data"][0]["parent"] = {
        "invoice_item_details": {
            "invoice_item": "ii_1",
            "proration": False,
            "proration_details": None,
            "subscription": None,
        },
        "subscription_item_details": None,
        "type": "invoice_item_details",
    }
    old = render("invoice", invoice, OLD, Objects())
    assert old["subscription"] is None and old["subscription_details"] is None
    assert old["metadata"] == {"proposal_number": "DEV-2026-00002"}
    assert old["paid"] is False and old["payment_intent"] is None and old["charge"] is None
    [line] = old["lines"]["data"]
    assert (line["type"], line["invoice_item"], line["subscription"]) == ("invoiceitem", "ii_1", None)


def test_on_the_pinned_version_or_since_basil_nothing_changes():
    invoice = subscription_invoice()
    assert render("invoice", invoice, API_VERSION, Objects()) == invoice
    assert render("invoice", invoice, "2025-03-31.basil", Objects()) == invoice
    assert changes_since(API_VERSION) == []
    assert release_date("2025-03-31.basil") == "2025-03-31" and release_date(OLD) == OLD


def test_previous_attributes_are_rendered_too():
    previous = {"status": "open", "parent": None}
    assert render("invoice", previous, OLD, Objects()) == {
        "status": "open",
        "paid": False,
        "quote": None,
        "subscription": None,
        "subscription_details": None,
        "subscription_proration_date": None,
    }


def test_a_pre_basil_subscription_has_its_billing_period_at_the_top():
    subscription = {
        "id": "sub_1",
        "object": "subscription",
        "items": {
            "object": "list",
            "data": [
                {"id": "si_1", "object": "subscription_item", "current_period_start": 100, "current_period_end": 200}
            ],
        },
    }
    old = render("subscription", subscription, OLD, Objects())
    assert (old["current_period_start"], old["current_period_end"]) == (100, 200)
    assert old["items"]["data"] == [{"id": "si_1", "object": "subscription_item"}]
    assert subscription["items"]["data"][0]["current_period_start"] == 100


def test_intents_and_charges_name_their_invoice_before_basil():
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}
    objects = Objects(PAYMENT, INTENT)
    assert render("payment_intent", copy.deepcopy(INTENT), OLD, objects)["invoice"] == "in_1"
    assert render("charge", charge, OLD, objects)["invoice"] == "in_1"
    assert render("charge", {**charge, "payment_intent": "pi_other"}, OLD, objects)["invoice"] is None


def test_checkout_ui_mode_takes_its_old_name_before_dahlia():
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "ui_mode": "hosted_page",
        "metadata": {"proposal_number": "DEV-2026-00001"},
    }
    assert render("checkout.session", session, "2026-02-25.clover", Objects())["ui_mode"] == "hosted"
    assert render("checkout.session", session, "2026-03-25.dahlia", Objects())["ui_mode"] == "hosted_page"


def _paid_one_off(client: stripe.StripeClient) -> str:
    customer = client.v1.customers.create({"email": "versions@example.fr"})
    client.v1.invoice_items.create({"customer": customer.id, "amount": 1000, "currency": "eur", "description": "Salle"})
    invoice = client.v1.invoices.create({"customer": customer.id, "pending_invoice_items_behavior": "include"})
    client.v1.invoices.finalize_invoice(invoice.id)
    client.v1.invoices.pay(invoice.id, {"paid_out_of_band": True})
    return invoice.id


def _events_of(client: stripe.StripeClient, invoice_id: str) -> list[dict[str, Any]]:
    events = client.v1.events.list({"type": "invoice.*", "limit": 100}).data
    return [e.to_dict() for e in events if e.data.object.id == invoice_id]


def test_events_take_the_accounts_version_of_their_creation_and_keep_it(tmp_path_factory):
    config = config_on_free_ports(tmp_path_factory.mktemp("versions") / "state")
    config.stripe_api_version = OLD
    with SandboxProcess(config, reset=True):
        client = stripe.StripeClient(config.stripe_secret_key, base_addresses={"api": config.stripe_url})
        old_invoice = _paid_one_off(client)
        [paid] = [e for e in _events_of(client, old_invoice) if e["type"] == "invoice.paid"]
        assert paid["api_version"] == OLD
        assert "parent" not in paid["data"]["object"] and paid["data"]["object"]["subscription"] is None
        assert paid["data"]["object"]["paid"] is True and paid["data"]["object"]["paid_out_of_band"] is True
        # The API answers in the version the client asks for: the invoice itself is unchanged.
        fresh = client.v1.invoices.retrieve(old_invoice).to_dict()
        assert "parent" in fresh and "subscription" not in fresh

    # The account upgraded to the pinned version: new events take it, old ones keep theirs.
    config.stripe_api_version = API_VERSION
    with SandboxProcess(config):
        client = stripe.StripeClient(config.stripe_secret_key, base_addresses={"api": config.stripe_url})
        new_invoice = _paid_one_off(client)
        [paid] = [e for e in _events_of(client, new_invoice) if e["type"] == "invoice.paid"]
        assert paid["api_version"] == API_VERSION and "parent" in paid["data"]["object"]
        assert all(
            e["api_version"] == OLD and "parent" not in e["data"]["object"] for e in _events_of(client, old_invoice)
        )

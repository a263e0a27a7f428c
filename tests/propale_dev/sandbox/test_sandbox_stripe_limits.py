"""Stripe's charge limits, line limits and currency rules, as the Stripe stand-in enforces them.

Each refusal is what Stripe answers a Checkout Session or a price it cannot charge: a 400
`invalid_request_error` with Stripe's code and wording."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import stripe

from support.stripe_sandbox import complete, new_customer


def _price_data(currency: str, amount: int, *, monthly: bool = False, name: str = "Bureau") -> dict[str, Any]:
    data: dict[str, Any] = {"currency": currency, "unit_amount": amount, "product_data": {"name": name}}
    if monthly:
        data["recurring"] = {"interval": "month"}
    return data


def _session(client: stripe.StripeClient, mode: str, lines: list[dict[str, Any]], **extra: Any):
    return client.v1.checkout.sessions.create(
        params={
            "mode": mode,
            "line_items": lines,
            "success_url": "https://propale.example/merci",
            "locale": "fr",
            **extra,
        }
    )


def _line(currency: str, amount: int, quantity: int = 1, **options: Any) -> dict[str, Any]:
    tax_rates = options.pop("tax_rates", None)
    line: dict[str, Any] = {"price_data": _price_data(currency, amount, **options), "quantity": quantity}
    if tax_rates:
        line["tax_rates"] = tax_rates
    return line


def _refused(call) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call()
    assert raised.value.http_status == 400
    assert raised.value.error.type == "invalid_request_error"
    return raised.value


def _words(text: str) -> str:
    """Text with every kind of space (French narrow no-break spaces included) as a plain one."""
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " "))


# --- minimum and maximum charge ---------------------------------------------------------------
def test_a_session_below_the_currencys_minimum_charge_is_refused(client):
    error = _refused(lambda: _session(client, "payment", [_line("eur", 49)]))
    assert error.code == "amount_too_small"
    assert error.user_message == "The Checkout Session's total amount due must add up to at least €0.50 eur"
    assert _refused(lambda: _session(client, "payment", [_line("jpy", 49)])).code == "amount_too_small"
    assert _session(client, "payment", [_line("eur", 50)]).amount_total == 50
    assert _session(client, "payment", [_line("jpy", 50)]).amount_total == 50


def test_the_minimum_applies_to_the_first_invoice_taxes_and_one_off_lines_included(client):
    vat = client.v1.tax_rates.create(params={"display_name": "TVA", "percentage": 20.0, "inclusive": False})
    # 45 cents alone are too little; with 20 % VAT on top the customer pays 54.
    assert _refused(lambda: _session(client, "payment", [_line("eur", 45)])).code == "amount_too_small"
    assert _session(client, "payment", [_line("eur", 45, tax_rates=[vat.id])]).amount_total == 54
    # A 30-cent monthly line is too little, unless a one-off line joins it on the first invoice.
    monthly = _line("eur", 30, monthly=True)
    assert _refused(lambda: _session(client, "subscription", [monthly])).code == "amount_too_small"
    assert _session(client, "subscription", [monthly, _line("eur", 30)]).amount_total == 60


def test_a_session_above_the_maximum_charge_is_refused(client):
    vat = client.v1.tax_rates.create(params={"display_name": "TVA", "percentage": 20.0, "inclusive": False})
    assert _session(client, "payment", [_line("eur", 99_999_999)]).amount_total == 99_999_999
    error = _refused(lambda: _session(client, "payment", [_line("eur", 99_999_999, tax_rates=[vat.id])]))
    assert error.code == "amount_too_large"
    assert error.user_message == "The Checkout Session's total amount due must be no more than €999,999.99 eur"
    # Two lines that each fit add up to too much.
    too_much = [_line("eur", 60_000_000), _line("eur", 60_000_000)]
    assert _refused(lambda: _session(client, "payment", too_much)).code == "amount_too_large"


# --- line items -------------------------------------------------------------------------------
def test_payment_mode_takes_at_most_100_line_items(client):
    lines = [_line("eur", 100, name=f"Article {i}") for i in range(101)]
    error = _refused(lambda: _session(client, "payment", lines))
    assert error.param == "line_items" and "100" in error.user_message
    assert (
        len(
            client.v1.checkout.sessions.line_items.list(
                _session(client, "payment", lines[:100]).id, params={"limit": 100}
            ).data
        )
        == 100
    )


def test_subscription_mode_takes_20_recurring_and_20_one_time_line_items(client):
    recurring = [_line("eur", 100, monthly=True, name=f"Poste {i}") for i in range(21)]
    one_time = [_line("eur", 100, name=f"Frais {i}") for i in range(21)]
    accepted = _session(client, "subscription", recurring[:20] + one_time[:20])
    assert accepted.amount_total == 4000
    too_many_recurring = _refused(lambda: _session(client, "subscription", recurring + one_time[:20]))
    assert too_many_recurring.param == "line_items" and "recurring" in too_many_recurring.user_message
    too_many_one_time = _refused(lambda: _session(client, "subscription", recurring[:20] + one_time))
    assert too_many_one_time.param == "line_items" and "one-time" in too_many_one_time.user_message


# --- payment methods and currencies -----------------------------------------------------------
def test_sepa_debit_is_dropped_outside_euros_and_a_session_left_without_a_method_is_refused(client):
    dollars = _session(client, "payment", [_line("usd", 5000)], allowed_payment_method_types=["card", "sepa_debit"])
    assert dollars.payment_method_types == ["card"]
    euros = _session(client, "payment", [_line("eur", 5000)], allowed_payment_method_types=["card", "sepa_debit"])
    assert euros.payment_method_types == ["card", "sepa_debit"]
    error = _refused(
        lambda: _session(client, "payment", [_line("usd", 5000)], allowed_payment_method_types=["sepa_debit"])
    )
    assert error.user_message.startswith("No valid payment method types for this Checkout Session.")


def test_three_decimal_currencies_take_amounts_ending_in_zero(client):
    error = _refused(lambda: client.v1.prices.create(params=_price_data("kwd", 5125)))
    assert error.param == "unit_amount"
    assert client.v1.prices.create(params=_price_data("kwd", 5120)).unit_amount == 5120
    inline = _refused(lambda: _session(client, "payment", [_line("kwd", 5125)]))
    assert inline.param == "line_items[0][price_data][unit_amount]"


def test_an_isk_invoice_is_rounded_to_whole_kronur_and_the_difference_goes_to_the_balance(client):
    vat = client.v1.tax_rates.create(params={"display_name": "VSK", "percentage": 7.25, "inclusive": False})
    customer = new_customer(client)
    # 1 000 kr a month (100000 in Stripe's minor units) plus 7.25 % is 1 072,50 kr: 1 073 kr are charged.
    session = _session(
        client, "subscription", [_line("isk", 100_000, monthly=True, tax_rates=[vat.id])], customer=customer.id
    )
    assert session.amount_total == 107_250
    completed = complete(client, session.id, card_number="4242424242424242")
    invoice = client.v1.invoices.retrieve(completed.invoice)
    assert (invoice.total, invoice.amount_due, invoice.amount_paid, invoice.status) == (
        107_250,
        107_300,
        107_300,
        "paid",
    )
    assert client.v1.customers.retrieve(customer.id).balance == -50  # 0,50 kr owed back to the customer
    assert invoice.ending_balance == -50


def test_amounts_are_shown_with_stripes_minor_units(client):
    for currency, amount, shown in (
        ("jpy", 5000, "5 000 JPY"),
        ("isk", 500_000, "5 000 ISK"),
        ("huf", 1_234_567, "12 345,67 HUF"),
    ):
        session = _session(client, "payment", [_line(currency, amount)])
        assert shown in _words(httpx.get(session.url).text), currency


def test_an_invoice_shows_whole_kronur(client):
    customer = new_customer(client)
    session = _session(client, "subscription", [_line("isk", 500_000, monthly=True)], customer=customer.id)
    invoice = client.v1.invoices.retrieve(complete(client, session.id, card_number="4242424242424242").invoice)
    page = _words(httpx.get(invoice.hosted_invoice_url).text)
    assert "5 000 ISK" in page and "500 000" not in page

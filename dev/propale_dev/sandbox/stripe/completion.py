"""Paying a Checkout Session, from the hosted page or from the test helper, and what follows.

    POST /v1/test_helpers/checkout/sessions/{id}/complete   card_number= | iban=  [name=, email=]

A declined card changes nothing: the session stays open for another try (402 card_error from the
helper, a French message on the page). SEPA completes the session unpaid; the settlement job then
emits checkout.session.async_payment_succeeded or async_payment_failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from propale_dev.sandbox.stripe import (
    checkout,
    customers,
    invoices,
    payment_methods,
    payments,
    subscriptions,
    test_instruments,
)
from propale_dev.sandbox.stripe.core import Stripe
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.invoices import LineSpec
from propale_dev.sandbox.stripe.routing import Call, Row


@dataclass
class PaymentInput:
    method: str
    card_number: str = ""
    exp_month: int = 12
    exp_year: int = 2034
    iban: str = ""
    name: str | None = None
    email: str | None = None


class InputError(StripeError):
    """A problem with what the payer typed (field-level, shown next to the form)."""

    def __init__(self, message: str, *, param: str, reason: str):
        super().__init__(message, param=param)
        self.reason = reason


def validate(session: dict[str, Any], payment: PaymentInput) -> None:
    if session["status"] != "open":
        raise StripeError(f"This Checkout Session is {session['status']} and can no longer be paid.", param="session")
    if payment.method not in session["payment_method_types"]:
        raise StripeError(
            f"This Checkout Session does not accept {payment.method}; it accepts {', '.join(session['payment_method_types'])}.",
            param="card_number" if payment.method == "card" else "iban",
        )
    if not (session.get("customer") or session.get("customer_email") or payment.email):
        raise InputError("Missing required param: email.", param="email", reason="email_missing")
    if payment.email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", payment.email):
        raise InputError("Invalid email address.", param="email", reason="email_invalid")
    if payment.method == "card":
        problem = test_instruments.card_problem(payment.card_number)
        if problem is None:
            problem = test_instruments.DECLINES.get(payment.card_number)
        if problem is None and payment.card_number in test_instruments.FAILS_ON_CHARGE:
            problem = test_instruments.GENERIC
        if problem:
            raise test_instruments.card_error(problem, param="card_number")
    elif not test_instruments.iban_ok(payment.iban):
        raise InputError("The IBAN you entered is invalid.", param="iban", reason="iban_invalid")


def complete(stripe: Stripe, session_id: str, payment: PaymentInput) -> dict[str, Any]:
    session = checkout.fresh(stripe, session_id)
    validate(session, payment)
    extras = checkout.session_extras(stripe, session_id)
    customer = stripe.find("customer", session.get("customer"))
    now = stripe.clock_time(customer.get("test_clock") if customer else None)
    email = (customer or {}).get("email") or session.get("customer_email") or payment.email
    needs_customer = (
        session["mode"] == "subscription"
        or session.get("customer_creation") == "always"
        or ((session.get("invoice_creation") or {}).get("enabled"))
    )
    if customer is None and needs_customer:
        customer = customers.new_customer(stripe, {"email": email, "name": payment.name or None})
    if payment.method == "card":
        pm = payment_methods.new_card_method(
            stripe, payment.card_number, exp_month=payment.exp_month, exp_year=payment.exp_year,
            name=payment.name, email=email, created=now,
        )  # fmt: skip
    else:
        pm = payment_methods.new_sepa_method(stripe, payment.iban, name=payment.name, email=email, created=now)
    if customer is not None and session["mode"] == "subscription":
        # Saved for the renewals; a one-off payment leaves the method unattached, as on Stripe.
        pm = payment_methods.attach_payment_method(stripe, pm["id"], customer["id"])
    lines = _lines(stripe, extras)
    session.update(
        {
            "customer": customer["id"] if customer else None,
            "customer_details": {
                "address": None, "business_name": None, "email": email, "individual_name": None,
                "name": payment.name or (customer or {}).get("name"), "phone": None, "tax_exempt": "none", "tax_ids": [],
            },
        }
    )  # fmt: skip
    if session["mode"] == "subscription":
        assert customer is not None
        recurring = [line for line in lines if line[0]["recurring"]]
        one_off = [line for line in lines if not line[0]["recurring"]]
        sub_data = extras.get("subscription_data") or {}
        sub, invoice, pi = subscriptions.create_for_checkout(
            stripe, customer=customer, pm=pm, recurring=recurring, one_off=one_off, currency=session["currency"],
            metadata_=sub_data.get("metadata") or {}, description=sub_data.get("description"), now=now, session_id=session_id,
        )  # fmt: skip
        session.update({"subscription": sub["id"], "invoice": invoice["id"]})
    else:
        pi_data = extras.get("payment_intent_data") or {}
        pi = payments.collect(
            stripe, customer=customer["id"] if customer else None, pm=pm, amount=session["amount_total"],
            currency=session["currency"], description=pi_data.get("description"), metadata_=pi_data.get("metadata"),
            now=now, receipt_email=pi_data.get("receipt_email"), purpose={"session": session_id},
        )  # fmt: skip
        session["payment_intent"] = pi["id"]
        if pi["status"] == "succeeded":
            session["invoice"] = _payment_mode_invoice(stripe, session, extras, pi, now)
    session.update(
        {"status": "complete", "payment_status": "paid" if pi["status"] == "succeeded" else "unpaid", "url": None}
    )
    stripe.save(session)
    stripe.emit("checkout.session.completed", session, created=now)
    return session


def _lines(stripe: Stripe, extras: dict[str, Any]) -> list[tuple[dict[str, Any], int, list[dict[str, Any]]]]:
    return [
        (stripe.get("price", spec["price"]), spec["quantity"], [stripe.get("tax_rate", r) for r in spec["tax_rates"]])
        for spec in extras["specs"]
    ]


def _payment_mode_invoice(
    stripe: Stripe, session: dict[str, Any], extras: dict[str, Any], pi: dict[str, Any], now: int
) -> str | None:
    """With invoice_creation, Checkout issues a paid invoice for a one-off payment once it succeeds."""
    creation = session.get("invoice_creation") or {}
    if not creation.get("enabled") or not session.get("customer"):
        return None
    data = creation["invoice_data"]
    customer = stripe.get("customer", session["customer"])
    specs = []
    for price, qty, rates in _lines(stripe, extras):
        ii = invoices.new_invoice_item(
            stripe,
            customer=customer,
            price=price,
            quantity=qty,
            tax_rates=rates,
            invoice_id=None,
            subscription_id=None,
            created=now,
        )
        specs.append(LineSpec(price, qty, rates, (now, now), invoice_item=ii["id"], description=ii["description"]))
    invoice = invoices.new_invoice(
        stripe, customer=customer, currency=session["currency"], billing_reason="manual", created=now, lines=specs,
        metadata_=data.get("metadata") or {}, description=data.get("description"), footer=data.get("footer"),
        custom_fields=data.get("custom_fields"), auto_advance=False,
    )  # fmt: skip
    for spec in specs:
        stripe.save({**stripe.get("invoiceitem", spec.invoice_item), "invoice": invoice["id"]})
    invoice = invoices.finalize(stripe, invoice, now)
    invoices.attach_paid_intent(stripe, invoice, pi, now)
    return invoice["id"]


def settle(stripe: Stripe, job: dict[str, Any]) -> None:
    """A SEPA debit has cleared or bounced: move the payment, its invoice, subscription and session on."""
    pi = stripe.get("payment_intent", job["payment_intent"])
    now = stripe.customer_time(pi.get("customer"))
    pi = payments.settle_sepa(stripe, pi["id"], job["outcome"], now)
    purpose = job.get("purpose") or {}
    if purpose.get("invoice"):
        invoice = invoices.payment_settled(stripe, purpose["invoice"], pi, now)
        subscriptions.payment_settled(stripe, invoice, pi, now)
    if purpose.get("session"):
        session = stripe.get("checkout.session", purpose["session"])
        if pi["status"] == "succeeded":
            if session["mode"] == "payment" and not session.get("invoice"):
                extras = checkout.session_extras(stripe, session["id"])
                session["invoice"] = _payment_mode_invoice(stripe, session, extras, pi, now)
            session["payment_status"] = "paid"
            stripe.save(session)
            stripe.emit("checkout.session.async_payment_succeeded", session, created=now)
        else:
            stripe.emit("checkout.session.async_payment_failed", session, created=now)


# the test helper --------------------------------------------------------------------------
def complete_endpoint(call: Call) -> dict[str, Any]:
    params = call.params
    card = test_instruments.normalise_card(str(params.get("card_number") or ""))
    iban = test_instruments.normalise_iban(str(params.get("iban") or ""))
    if bool(card) == bool(iban):
        raise StripeError("Provide exactly one of card_number or iban.", param="card_number")
    payment = PaymentInput(
        method="card" if card else "sepa_debit",
        card_number=card,
        iban=iban,
        name=params.get("name") or None,
        email=params.get("email") or None,
    )
    return complete(call.stripe, call.path["id"], payment)


def routes() -> list[Row]:
    # Stripe has no such endpoint (its tests pay on the hosted page), so no params class describes
    # it: the sandbox names what it reads.
    return [
        (
            "POST",
            "/v1/test_helpers/checkout/sessions/{id}/complete",
            complete_endpoint,
            frozenset({"card_number", "iban", "name", "email", "expand"}),
        ),
    ]

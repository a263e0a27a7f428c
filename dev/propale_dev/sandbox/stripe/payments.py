"""Payment intents and charges.

Cards settle at once (succeed or decline). SEPA Direct Debit is a delayed-notification method:
the payment intent stays `processing` and a job settles it after the `sepa_delay_s` fault
setting (`sepa_slow_delay_s` for the IBANs Stripe documents as settling "after three minutes").
"""

from __future__ import annotations

from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe.core import Stripe, internal
from propale_dev.sandbox.stripe.lists import created_filter, newest_first, paginate
from propale_dev.sandbox.stripe.payment_methods import secret_of
from propale_dev.sandbox.stripe.routing import Call, Row
from propale_dev.sandbox.stripe.test_instruments import DECLINES, FAILS_ON_CHARGE, GENERIC, SEPA_FAILURE, iban_outcome

JOBS = internal("job")


def _new_intent(
    stripe: Stripe, *, customer: str | None, pm: dict[str, Any], amount: int, currency: str, description: str | None,
    metadata_: dict[str, str], created: int, receipt_email: str | None,
) -> dict[str, Any]:  # fmt: skip
    pi_id = stripe.new_id("pi_")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "allowed_payment_method_types": None,
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{pi_id}_secret_{stripe.new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "hooks": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata_,
        "next_action": None,
        "on_behalf_of": None,
        "payment_details": None,
        "payment_method": pm["id"],
        "payment_method_configuration_details": None,
        "payment_method_options": {pm["type"]: {}},
        "payment_method_types": [pm["type"]],
        "payment_record": None,
        "presentment_details": None,
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def _new_charge(stripe: Stripe, pi: dict[str, Any], pm: dict[str, Any], created: int) -> dict[str, Any]:
    sepa = pm["type"] == "sepa_debit"
    charge_id = stripe.new_id("py_" if sepa else "ch_")
    if sepa:
        details: dict[str, Any] = {
            "sepa_debit": {
                "bank_code": pm["sepa_debit"]["bank_code"],
                "branch_code": pm["sepa_debit"]["branch_code"],
                "country": pm["sepa_debit"]["country"],
                "expected_debit_date": None,
                "fingerprint": pm["sepa_debit"]["fingerprint"],
                "last4": pm["sepa_debit"]["last4"],
                "mandate": "mandate_" + pm["id"][3:27],
            },
            "type": "sepa_debit",
        }
    else:
        card = pm["card"]
        details = {
            "card": {
                "amount_authorized": pi["amount"],
                "authorization_code": None,
                "brand": card["brand"],
                "checks": card["checks"],
                "country": card["country"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "last4": card["last4"],
                "mandate": None,
                "network": card["brand"],
                "network_token": {"used": False},
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        }
    account = stripe.account()
    return {
        "id": charge_id,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "authorization_code": None,
        "balance_transaction": None,
        "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": account["name"].upper()[:22],
        "captured": False,
        "created": created,
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "level3": None,
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": details,
        "presentment_details": None,
        "radar_options": {},
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"{stripe.base_url}/receipts/payment/{charge_id}",
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "pending",
        "transfer": None,
        "transfer_data": None,
        "transfer_group": None,
    }


def _succeed(
    stripe: Stripe, pi: dict[str, Any], charge: dict[str, Any], now: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    charge = {
        **charge,
        "amount_captured": charge["amount"],
        "balance_transaction": stripe.new_id("txn_"),
        "captured": True,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "status": "succeeded",
    }
    pi = {
        **pi,
        "amount_received": pi["amount"],
        "latest_charge": charge["id"],
        "status": "succeeded",
        "last_payment_error": None,
    }
    stripe.save(charge)
    stripe.save(pi)
    stripe.emit("charge.succeeded", charge, created=now)
    stripe.emit("payment_intent.succeeded", pi, created=now)
    return pi, charge


def _fail(
    stripe: Stripe, pi: dict[str, Any], charge: dict[str, Any], pm: dict[str, Any], now: int, *,
    code: str, decline_code: str | None, message: str,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    charge = {
        **charge,
        "failure_code": code if pm["type"] == "card" else decline_code,
        "failure_message": message,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": decline_code,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        },
        "status": "failed",
    }
    error = {
        "advice_code": None,
        "charge": charge["id"],
        "code": code,
        "decline_code": decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "network_advice_code": None,
        "network_decline_code": None,
        "param": None,
        "payment_method": pm,
        "payment_method_type": pm["type"],
        "type": "card_error" if pm["type"] == "card" else "invalid_request_error",
    }
    pi = {**pi, "latest_charge": charge["id"], "status": "requires_payment_method", "last_payment_error": error}
    stripe.save(charge)
    stripe.save(pi)
    stripe.emit("charge.failed", charge, created=now)
    stripe.emit("payment_intent.payment_failed", pi, created=now)
    return pi, charge


def collect(
    stripe: Stripe, *, customer: str | None, pm: dict[str, Any], amount: int, currency: str, description: str | None,
    metadata_: dict[str, str] | None, now: int, receipt_email: str | None = None, purpose: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Charge `pm`; returns the payment intent: succeeded, requires_payment_method (declined) or processing."""
    pi = _new_intent(
        stripe, customer=customer, pm=pm, amount=amount, currency=currency, description=description,
        metadata_=metadata_ or {}, created=now, receipt_email=receipt_email,
    )  # fmt: skip
    stripe.save(pi)
    stripe.emit("payment_intent.created", pi, created=now)
    charge = _new_charge(stripe, pi, pm, now)
    secret = secret_of(stripe, pm["id"])
    if pm["type"] == "card":
        decline = DECLINES.get(secret) or (GENERIC if secret in FAILS_ON_CHARGE else None)
        if decline:
            pi, _ = _fail(
                stripe,
                pi,
                charge,
                pm,
                now,
                code=decline.code,
                decline_code=decline.decline_code,
                message=decline.message,
            )
        else:
            pi, _ = _succeed(stripe, pi, charge, now)
        return pi
    outcome, slow = iban_outcome(secret)
    pi = {**pi, "latest_charge": charge["id"], "status": "processing"}
    stripe.save(charge)
    stripe.save(pi)
    stripe.emit("payment_intent.processing", pi, created=now)
    stripe.emit("charge.pending", charge, created=now)
    delay = stripe.faults["sepa_slow_delay_s" if slow else "sepa_delay_s"]
    stripe.store.put(
        JOBS,
        pi["id"],
        {
            "type": "sepa_settlement",
            "due": stripe.wall_time_precise() + delay,
            "payment_intent": pi["id"],
            "outcome": outcome,
            "purpose": purpose or {},
        },
    )
    return pi


def settle_sepa(stripe: Stripe, pi_id: str, outcome: str, now: int) -> dict[str, Any]:
    pi = stripe.get("payment_intent", pi_id)
    charge = stripe.get("charge", pi["latest_charge"])
    pm = stripe.get("payment_method", pi["payment_method"])
    if outcome == "succeeded":
        pi, _ = _succeed(stripe, pi, charge, now)
    else:
        code, message = SEPA_FAILURE
        pi, _ = _fail(stripe, pi, charge, pm, now, code=code, decline_code=code, message=message)
    return pi


def retrieve_intent(call: Call) -> dict[str, Any]:
    return call.stripe.get("payment_intent", call.path["id"])


def list_intents(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    items = [
        x
        for x in newest_first(call.stripe.all("payment_intent"))
        if keep(x) and (not params.get("customer") or x.get("customer") == params["customer"])
    ]
    return paginate(items, params, "/v1/payment_intents", "payment_intent")


def retrieve_charge(call: Call) -> dict[str, Any]:
    return call.stripe.get("charge", call.path["id"])


def list_charges(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    items = [
        x
        for x in newest_first(call.stripe.all("charge"))
        if keep(x)
        and (not params.get("customer") or x.get("customer") == params["customer"])
        and (not params.get("payment_intent") or x.get("payment_intent") == params["payment_intent"])
    ]
    return paginate(items, params, "/v1/charges", "charge")


def routes() -> list[Row]:
    return [
        ("GET", "/v1/payment_intents", list_intents, stripe_params.PaymentIntentListParams),
        ("GET", "/v1/payment_intents/{id}", retrieve_intent, stripe_params.PaymentIntentRetrieveParams),
        ("GET", "/v1/charges", list_charges, stripe_params.ChargeListParams),
        ("GET", "/v1/charges/{id}", retrieve_charge, stripe_params.ChargeRetrieveParams),
    ]

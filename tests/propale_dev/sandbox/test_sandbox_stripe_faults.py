"""Idempotency keys, injected faults (5xx, 429, latency) and request counting on the Stripe stand-in."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
import stripe

from propale_dev.sandbox.admin import SandboxAdmin
from support.stripe_sandbox import make_client, new_customer


def _customers_with(client: stripe.StripeClient, email: str) -> list[str]:
    return [c.id for c in client.v1.customers.list(params={"email": email, "limit": 100}).data]


def test_same_key_same_params_replays_the_first_response(client, sandbox_config):
    key = str(uuid.uuid4())
    email = f"idem-{time.time_ns()}@exemple.fr"
    first = client.v1.customers.create(params={"email": email}, options={"idempotency_key": key})
    again = client.v1.customers.create(params={"email": email}, options={"idempotency_key": key})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None
    assert _customers_with(client, email) == [first.id]


def test_same_key_other_params_is_an_idempotency_error(client):
    key = str(uuid.uuid4())
    client.v1.customers.create(params={"email": "a@exemple.fr"}, options={"idempotency_key": key})
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.customers.create(params={"email": "b@exemple.fr"}, options={"idempotency_key": key})
    assert raised.value.http_status == 400
    assert raised.value.error.type == "idempotency_error"


def test_a_declined_payment_is_replayed_not_retried(client, sandbox_config):
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_chargeDeclined"}})
    customer = new_customer(client)
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "amount": 1000,
            "currency": "eur",
            "description": "Café",
        }
    )
    key = str(uuid.uuid4())
    for _ in range(2):
        with pytest.raises(stripe.CardError) as raised:
            client.v1.invoices.pay(invoice.id, params={"payment_method": pm.id}, options={"idempotency_key": key})
        assert raised.value.code == "card_declined"
    assert raised.value.headers.get("Idempotent-Replayed") == "true"
    assert len(client.v1.payment_intents.list(params={"customer": customer.id}).data) == 1


@pytest.mark.parametrize("fault", ["error_rate", "lost_response_rate"])
def test_retries_after_5xx_never_create_twice(sandbox_config, stripe_faults, fault):
    """`error_rate` fails before the request runs; `lost_response_rate` after it ran (the
    dangerous case: only the idempotency key the library sends stops a duplicate)."""
    retrying = make_client(sandbox_config, max_network_retries=10)
    plain = make_client(sandbox_config)
    email = f"retry-{time.time_ns()}@exemple.fr"
    created: list[str] = []
    with SandboxAdmin(sandbox_config.stripe_url) as admin:
        admin.reset_stats()
        stripe_faults(**{fault: 0.4})
        # Keep going until the fault has hit a few times, so the test always exercises retries.
        while len(created) < 30:
            created.append(retrying.v1.customers.create(params={"email": email, "name": f"n{len(created)}"}).id)
            failures = int(admin.stats()["endpoints"]["POST /v1/customers"]["statuses"].get("500", 0))
            if failures >= 3:
                break
        stripe_faults(**{fault: 0})
    assert failures >= 3
    assert len(set(created)) == len(created)
    assert sorted(_customers_with(plain, email)) == sorted(created)


def test_injected_5xx_is_an_api_error_without_retries(sandbox_config, stripe_faults):
    stripe_faults(error_rate=1)
    with pytest.raises(stripe.APIError) as raised:
        make_client(sandbox_config).v1.customers.list()
    assert raised.value.http_status == 500
    assert raised.value.error.type == "api_error"


def test_rate_limit_is_stripes_429(sandbox_config, stripe_faults):
    stripe_faults(rate_limit=25, rate_window_s=1)
    limited = make_client(sandbox_config)
    with pytest.raises(stripe.RateLimitError) as raised:
        for _ in range(60):
            limited.v1.customers.list(params={"limit": 1})
    assert raised.value.http_status == 429
    assert raised.value.error.code == "rate_limit"
    assert raised.value.headers.get("Stripe-Rate-Limited-Reason") == "global-rate"
    # hosted pages are never limited
    assert httpx.get(f"{sandbox_config.stripe_url}/c/pay/cs_test_nothing").status_code == 404


def test_latency_is_added(sandbox_config, stripe_faults):
    stripe_faults(latency_ms=300)
    started = time.monotonic()
    make_client(sandbox_config).v1.customers.list(params={"limit": 1})
    assert time.monotonic() - started >= 0.3


def test_requests_are_counted_per_endpoint_template(client, sandbox_config):
    customer = new_customer(client)
    with SandboxAdmin(sandbox_config.stripe_url) as admin:
        admin.reset_stats()
        client.v1.customers.retrieve(customer.id)
        client.v1.customers.retrieve(customer.id)
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.customers.retrieve("cus_missing")
        endpoints = admin.stats()["endpoints"]
    assert endpoints["GET /v1/customers/{id}"]["count"] == 3
    assert endpoints["GET /v1/customers/{id}"]["statuses"] == {"200": 2, "404": 1}


def test_unknown_fault_setting_is_refused(sandbox_config):
    response = httpx.patch(f"{sandbox_config.stripe_url}/_sandbox/faults", json={"sepa_delay": 1})
    assert response.status_code == 400
    settings = httpx.get(f"{sandbox_config.stripe_url}/_sandbox/faults").json()
    assert {"sepa_delay_s", "sepa_slow_delay_s", "clock_advance_s", "rate_limit", "error_rate", "latency_ms"} <= set(
        settings
    )
    assert settings["rate_limit"] == 0

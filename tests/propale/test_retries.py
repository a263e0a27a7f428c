"""Propale's HubSpot and Stripe clients get through a rate limit, and leave a trace of it.

Found by the chaos run: Stripe's library does not retry a 429, so a customer clicking while the
account was rate-limited got an error page; and neither library logs its retries where Airflow's
task logs show them, so outages and rate limits left no trace.
"""

from __future__ import annotations

import logging
import time

from propale.crm import make_client
from propale.stripe_client import make_stripe_client


def test_hubspot_calls_wait_out_a_rate_limit_and_log_it(sandbox, sandbox_config, caplog):
    client = make_client(sandbox_config.hubspot_token, host=sandbox_config.hubspot_url)
    with sandbox.admin("hubspot") as admin:
        admin.set_faults(rate_limit=1, rate_window_s=1)
    with caplog.at_level(logging.WARNING, logger="propale.crm"):
        pages = [client.crm.owners.owners_api.get_page(limit=1) for _ in range(2)]
    assert all(page.results is not None for page in pages)
    assert "HubSpot answered 429 to GET /crm/v3/owners/; retrying" in caplog.text


def test_stripe_calls_retry_a_rate_limit_and_log_it(sandbox, sandbox_config, caplog):
    client = make_stripe_client(sandbox_config.stripe_secret_key, sandbox_config.stripe_url)
    email = f"rate-limit-{time.time_ns()}@exemple.fr"
    with sandbox.admin("stripe") as admin:
        admin.set_faults(rate_limit=1, rate_window_s=1)
    with caplog.at_level(logging.WARNING, logger="propale.stripe_client"):
        created = client.v1.customers.create({"email": email}, {"idempotency_key": f"propale-test:{email}"})
        listed = client.v1.customers.list({"email": email})
    assert [c.id for c in listed.data] == [created.id], "one customer: the retried write was not doubled"
    assert "Stripe answered 429 to GET /v1/customers; retrying (1 of 4)" in caplog.text
    assert email not in caplog.text, "the query, with the customer's address, stays out of the logs"

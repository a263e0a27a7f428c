"""The Stripe stand-in's state, idempotency records and pending SEPA debits survive a restart."""

from __future__ import annotations

import signal

from propale_dev.sandbox.process import SandboxProcess
from support.polling import wait_for
from support.stripe_sandbox import Catalog, complete, make_client, new_customer, subscription_session


def test_state_survives_a_crash_and_pending_debits_resume(start_sandbox):
    process = start_sandbox(reset=True, faults={"stripe.sepa_delay_s": 1.5})
    client = make_client(process.config)
    catalog = Catalog(client)
    customer = new_customer(client)
    paid = complete(client, subscription_session(client, catalog, customer).id, card_number="4242424242424242")
    first_number = client.v1.invoices.retrieve(paid.invoice).number
    pending = complete(
        client, subscription_session(client, catalog, customer).id, iban="DE89370400440532013000", name="C. M."
    )
    assert pending.payment_status == "unpaid"
    replayed_key = "restart-key"
    created = client.v1.customers.create(
        params={"email": "persist@exemple.fr"}, options={"idempotency_key": replayed_key}
    )

    process.stop(sig=signal.SIGKILL)
    process.restart()
    client = make_client(process.config)

    assert client.v1.subscriptions.retrieve(paid.subscription).status == "active"
    assert client.v1.checkout.sessions.retrieve(paid.id).payment_status == "paid"
    again = client.v1.customers.create(
        params={"email": "persist@exemple.fr"}, options={"idempotency_key": replayed_key}
    )
    assert again.id == created.id
    wait_for(lambda: client.v1.checkout.sessions.retrieve(pending.id).payment_status == "paid", timeout=15)
    assert client.v1.invoices.retrieve(pending.invoice).status == "paid"
    later = complete(client, subscription_session(client, catalog, customer).id, card_number="4242424242424242")
    later_number = client.v1.invoices.retrieve(later.invoice).number
    assert later_number.rsplit("-", 1)[0] == first_number.rsplit("-", 1)[0]
    assert int(later_number.rsplit("-", 1)[1]) == int(first_number.rsplit("-", 1)[1]) + 2
    types = [e.type for e in client.v1.events.list(params={"limit": 100}).auto_paging_iter()]
    assert types.count("checkout.session.completed") == 3


def test_reset_forgets_stripe_state(start_sandbox):
    process = start_sandbox(reset=True)
    new_customer(make_client(process.config))
    process.stop()
    with SandboxProcess(process.config, reset=True) as again:
        assert make_client(again.config).v1.customers.list().data == []

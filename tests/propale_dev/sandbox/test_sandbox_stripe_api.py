"""The Stripe stand-in's API basics through the official library: auth, errors, resources, lists."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest
import stripe

from support.stripe_sandbox import new_customer


def test_a_wrong_or_missing_key_is_an_authentication_error(sandbox_config):
    bad = stripe.StripeClient("sk_test_not_the_right_one", base_addresses={"api": sandbox_config.stripe_url})
    with pytest.raises(stripe.AuthenticationError) as raised:
        bad.v1.customers.list()
    assert raised.value.http_status == 401
    assert "Invalid API Key provided" in raised.value.user_message
    response = httpx.get(f"{sandbox_config.stripe_url}/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    basic = httpx.get(f"{sandbox_config.stripe_url}/v1/customers", auth=(sandbox_config.stripe_secret_key, ""))
    assert basic.status_code == 200 and basic.json()["object"] == "list"


def test_customer_lifecycle_and_shape(client):
    customer = client.v1.customers.create(
        params={
            "email": "camille@exemple.fr",
            "name": "Camille Martin",
            "metadata": {"hubspot_contact_id": "101"},
            "address": {"line1": "1 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"},
            "preferred_locales": ["fr"],
        }
    )
    assert customer.id.startswith("cus_") and customer.object == "customer"
    assert customer.livemode is False and isinstance(customer.created, int)
    assert customer.address.city == "Paris" and customer.preferred_locales == ["fr"]
    updated = client.v1.customers.update(
        customer.id, params={"metadata": {"deal_id": "9", "hubspot_contact_id": ""}, "name": "C. Martin"}
    )
    assert updated.metadata.to_dict() == {"deal_id": "9"}
    assert client.v1.customers.retrieve(customer.id).name == "C. Martin"
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.update(customer.id, params={"name": "x"})
    assert raised.value.http_status == 404 and raised.value.code == "resource_missing"


def test_customers_list_by_email_and_search(client):
    email = f"search-{time.time_ns()}@exemple.fr"
    first = new_customer(client, email=email, metadata={"deal_id": "d1"})
    second = new_customer(client, email=email, metadata={"deal_id": "d2"})
    new_customer(client)
    listed = client.v1.customers.list(params={"email": email})
    assert [c.id for c in listed.data] == [second.id, first.id]
    found = client.v1.customers.search(params={"query": f"email:'{email}'"})
    assert found.object == "search_result" and {c.id for c in found.data} == {first.id, second.id}
    by_meta = client.v1.customers.search(params={"query": f"email:'{email}' AND metadata['deal_id']:'d2'"})
    assert [c.id for c in by_meta.data] == [second.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.search(params={"query": "email = nope"})


def test_products_take_caller_ids_once(client):
    product_id = f"desk-{time.time_ns()}"
    product = client.v1.products.create(params={"id": product_id, "name": "Bureau fixe", "metadata": {"sku": "BF"}})
    assert product.id == product_id and product.active is True and product.type == "service"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.products.create(params={"id": product_id, "name": "Encore"})
    assert raised.value.code == "resource_already_exists"
    assert client.v1.products.update(product_id, params={"active": False}).active is False
    assert product_id in [p.id for p in client.v1.products.list(params={"active": False, "limit": 100}).data]


def test_prices_recurring_one_off_lookup_keys_and_filters(client):
    product = client.v1.products.create(params={"name": "Bureau privatif"})
    key = f"private-office-{time.time_ns()}"
    monthly = client.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 90000, "lookup_key": key,
                "recurring": {"interval": "month", "interval_count": 3}}
    )  # fmt: skip
    one_off = client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 15000})
    assert (monthly.type, monthly.recurring.interval, monthly.recurring.interval_count) == ("recurring", "month", 3)
    assert (one_off.type, one_off.recurring, one_off.unit_amount_decimal) == ("one_time", None, Decimal("15000"))
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 1, "lookup_key": key})
    assert raised.value.param == "lookup_key"
    assert [p.id for p in client.v1.prices.list(params={"lookup_keys": [key]}).data] == [monthly.id]
    assert [p.id for p in client.v1.prices.list(params={"product": product.id, "type": "one_time"}).data] == [
        one_off.id
    ]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.prices.create(
            params={"product": product.id, "currency": "eur", "unit_amount": 1, "recurring": {"interval": "fortnight"}}
        )
    assert raised.value.param == "recurring[interval]"


def test_tax_rates(client):
    rate = client.v1.tax_rates.create(
        params={"display_name": "TVA", "percentage": 20, "inclusive": False, "country": "FR"}
    )
    assert rate.id.startswith("txr_") and rate.percentage == 20 and rate.inclusive is False
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.tax_rates.create(params={"display_name": "TVA", "percentage": 20})
    assert raised.value.code == "parameter_missing" and raised.value.param == "inclusive"
    assert rate.id in [r.id for r in client.v1.tax_rates.list(params={"inclusive": False, "limit": 100}).data]


def test_unknown_parameters_and_urls_are_invalid_requests(client, sandbox_config):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.create(params={"emial": "typo@exemple.fr"})
    assert raised.value.code == "parameter_unknown" and raised.value.param == "emial"
    response = httpx.get(f"{sandbox_config.stripe_url}/v1/nothing_here", auth=(sandbox_config.stripe_secret_key, ""))
    assert response.status_code == 404 and "Unrecognized request URL" in response.json()["error"]["message"]


def test_list_pagination_both_ways(client):
    email = f"page-{time.time_ns()}@exemple.fr"
    ids = [new_customer(client, email=email).id for _ in range(5)]
    newest_first = list(reversed(ids))
    page = client.v1.customers.list(params={"email": email, "limit": 2})
    assert (page.object, page.url, page.has_more) == ("list", "/v1/customers", True)
    assert [c.id for c in page.data] == newest_first[:2]
    page2 = client.v1.customers.list(params={"email": email, "limit": 2, "starting_after": page.data[-1].id})
    assert [c.id for c in page2.data] == newest_first[2:4] and page2.has_more
    last = client.v1.customers.list(params={"email": email, "limit": 2, "starting_after": page2.data[-1].id})
    assert [c.id for c in last.data] == newest_first[4:] and not last.has_more
    back = client.v1.customers.list(params={"email": email, "limit": 2, "ending_before": newest_first[4]})
    assert [c.id for c in back.data] == newest_first[2:4] and back.has_more
    assert [
        c.id for c in client.v1.customers.list(params={"email": email, "limit": 2}).auto_paging_iter()
    ] == newest_first
    for bad in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.customers.list(params={"limit": bad})
        assert raised.value.param == "limit"


def test_events_filters_and_snapshots(client):
    start = int(time.time())
    customer = new_customer(client)
    client.v1.customers.update(customer.id, params={"name": "Nouveau nom"})
    mine = [
        e
        for e in client.v1.events.list(params={"type": "customer.*", "limit": 100}).data
        if e.data.object.id == customer.id
    ]
    assert [e.type for e in mine] == ["customer.updated", "customer.created"]
    updated, created = mine
    assert updated.data.previous_attributes.to_dict() == {"name": "Camille Martin"}
    assert created.data.object.name == "Camille Martin"  # as it was then
    assert updated.api_version == "2026-10-28.endive" and updated.id.startswith("evt_")
    assert client.v1.events.retrieve(updated.id).type == "customer.updated"
    both = client.v1.events.list(
        params={"types": ["customer.created", "customer.updated"], "created": {"gte": start}, "limit": 100}
    )
    assert {e.type for e in both.data} <= {"customer.created", "customer.updated"}
    assert {updated.id, created.id} <= {e.id for e in both.data}
    # The shared sandbox also holds other tests' events, test clocks' among them dated in the future.
    later = client.v1.events.list(params={"created": {"gt": updated.created}, "limit": 100}).data
    assert [e.id for e in later if e.data.object.id == customer.id] == []


def test_expand_replaces_ids_and_rejects_unknown_paths(client):
    customer = new_customer(client)
    product = client.v1.products.create(params={"name": "Domiciliation"})
    price = client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 2000})
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["product"]})
    assert expanded.product.name == "Domiciliation"
    listed = client.v1.prices.list(params={"product": product.id, "expand": ["data.product"]})
    assert listed.data[0].product.id == product.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer.id, params={"expand": ["nonsense"]})

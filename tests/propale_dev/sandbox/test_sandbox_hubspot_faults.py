"""HubSpot stand-in, injected faults and request counts, through the official client."""

from __future__ import annotations

import json
import time

import hubspot
import pytest
from hubspot.crm.deals import ApiException, BatchResponseSimplePublicObjectWithErrors
from urllib3.util.retry import Retry


def _client(config, retry=None):
    return hubspot.Client.create(access_token=config.hubspot_token, host=config.hubspot_url, retry=retry)


def test_latency_is_added_to_every_call(sandbox_config, hubspot_admin):
    client = _client(sandbox_config)
    hubspot_admin.set_faults(latency_ms=300)
    started = time.monotonic()
    client.crm.deals.basic_api.get_page(limit=1)
    assert time.monotonic() - started >= 0.3


def test_rate_limit_answers_hubspots_ten_secondly_429_with_its_headers(sandbox_config, hubspot_admin):
    # Without it, urllib3's default Retry would honour Retry-After on these GETs and retry them.
    client = _client(sandbox_config, retry=Retry(0))
    hubspot_admin.set_faults(rate_limit=2, rate_window_s=10)
    client.crm.deals.basic_api.get_page(limit=1)
    client.crm.deals.basic_api.get_page(limit=1)
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.basic_api.get_page(limit=1)
    assert excinfo.value.status == 429
    body = json.loads(excinfo.value.body)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT" and body["correlationId"]
    headers = excinfo.value.headers
    assert headers["X-HubSpot-RateLimit-Max"] == "2"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert int(headers["X-HubSpot-RateLimit-Daily"]) > int(headers["X-HubSpot-RateLimit-Daily-Remaining"])
    assert 1 <= int(headers["Retry-After"]) <= 10


def test_the_clients_retry_configuration_recovers_from_429s(sandbox_config, hubspot_admin):
    retry = Retry(
        total=5, status_forcelist=[429], allowed_methods=None, respect_retry_after_header=True, backoff_factor=0
    )
    client = _client(sandbox_config, retry=retry)
    hubspot_admin.set_faults(rate_limit=2, rate_window_s=1)
    hubspot_admin.reset_stats()
    results = [client.crm.deals.basic_api.create({"properties": {"dealname": f"Retry {i}"}}) for i in range(4)]
    assert all(r.id for r in results)
    stats = hubspot_admin.stats()
    assert stats["endpoints"]["POST /crm/v3/objects/deals"]["statuses"]["201"] == 4
    assert stats["injected_faults"]["rate_limited"] >= 1


def test_error_rate_answers_5xx_in_hubspot_shape(sandbox_config, hubspot_admin):
    client = _client(sandbox_config)
    hubspot_admin.set_faults(error_rate=1)
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.basic_api.get_page(limit=1)
    assert excinfo.value.status in (502, 503)
    body = json.loads(excinfo.value.body)
    assert body["status"] == "error" and body["correlationId"] and body["category"]
    hubspot_admin.set_faults(error_rate=0)
    assert client.crm.deals.basic_api.get_page(limit=1).results is not None


def test_batch_error_rate_fails_some_inputs_with_a_207(sandbox_config, hubspot_admin):
    client = _client(sandbox_config)
    hubspot_admin.set_faults(batch_error_rate=0.5)
    created = client.crm.deals.batch_api.create(
        {"inputs": [{"properties": {"dealname": f"Lot {i}"}, "objectWriteTraceId": str(i)} for i in range(40)]}
    )
    assert isinstance(created, BatchResponseSimplePublicObjectWithErrors)
    assert 0 < len(created.results) < 40
    assert len(created.results) + created.num_errors == 40
    failed = {e.context["objectWriteTraceId"][0] for e in created.errors}
    written = {r.properties["dealname"].split()[1] for r in created.results}
    assert failed.isdisjoint(written) and failed | written == {str(i) for i in range(40)}
    hubspot_admin.set_faults(batch_error_rate=0)
    read = client.crm.deals.batch_api.read(
        {"inputs": [{"id": r.id} for r in created.results], "properties": ["dealname"], "propertiesWithHistory": []}
    )
    assert len(read.results) == len(created.results)


def test_requests_are_counted_per_endpoint_template(sandbox_config, hubspot_admin):
    client = _client(sandbox_config)
    hubspot_admin.reset_stats()
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "Compté"}})
    client.crm.deals.basic_api.get_by_id(deal.id)
    client.crm.deals.basic_api.get_by_id(deal.id)
    client.crm.line_items.search_api.do_search({"limit": 1})
    with pytest.raises(ApiException):
        client.crm.deals.basic_api.get_by_id("1")
    endpoints = hubspot_admin.stats()["endpoints"]
    assert endpoints["GET /crm/v3/objects/deals/{object_id}"] == {"count": 3, "statuses": {"200": 2, "404": 1}}
    assert endpoints["POST /crm/v3/objects/deals"]["count"] == 1
    assert endpoints["POST /crm/v3/objects/line_items/search"]["count"] == 1

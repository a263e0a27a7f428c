"""HubSpot's documented limits: the stand-in refuses one over each with HubSpot's error body, and
Propale stays within each of them, through the official client."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.deals import ApiException
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate
from hubspot.crm.owners import ApiException as OwnersApiException
from urllib3.util.retry import Retry

from propale import crm
from propale.crm import HubSpotGateway, Status, make_client
from propale_dev.sandbox.hubspot import limits


@pytest.fixture
def client(sandbox_config):
    # No retries: a refusal must reach the test as HubSpot sent it.
    return hubspot.Client.create(
        access_token=sandbox_config.hubspot_token, host=sandbox_config.hubspot_url, retry=Retry(0)
    )


def _refusal(call) -> dict:
    # Each API of the client has its own ApiException class.
    with pytest.raises(Exception, match=r"\(400\)") as refused:
        call()
    body = json.loads(refused.value.body)
    assert refused.value.status == 400
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    return body


def _ids(count: int) -> list[dict[str, str]]:
    return [{"id": str(1_000_000 + i)} for i in range(count)]


# --- Propale's constants against the table ---------------------------------------------------------

PROPALE_VALUES = {
    "batch_inputs": crm.BATCH_LIMIT,
    "history_batch_read_inputs": crm.HISTORY_BATCH_READ_LIMIT,
    "associations_batch_read_inputs": crm.ASSOCIATIONS_BATCH_LIMIT,
    "search_page_size": crm.SEARCH_PAGE_LIMIT,
    "search_requests_per_second": crm.SEARCH_REQUESTS_PER_SECOND,
}


@pytest.mark.parametrize("name", sorted(PROPALE_VALUES))
def test_each_of_propales_values_is_within_hubspots_documented_limit(name):
    assert 0 < PROPALE_VALUES[name] <= limits.LIMITS[name].value


def test_every_limit_says_where_it_is_documented():
    assert all(limit.source.startswith("https://") and limit.value > 0 for limit in limits.LIMITS.values())


# --- the stand-in refuses one over each ----------------------------------------------------------


def test_a_batch_of_101_is_refused_for_reads_creates_and_updates(client):
    over = limits.BATCH_INPUTS.value + 1
    read = _refusal(
        lambda: client.crm.deals.batch_api.read(
            {"inputs": _ids(over), "properties": ["dealname"], "propertiesWithHistory": []}
        )
    )
    assert f"at most {limits.BATCH_INPUTS.value}" in read["message"]
    _refusal(
        lambda: client.crm.deals.batch_api.create(
            {"inputs": [{"properties": {"dealname": f"D{i}"}} for i in range(over)]}
        )
    )
    _refusal(
        lambda: client.crm.deals.batch_api.update({"inputs": [{"id": i["id"], "properties": {}} for i in _ids(over)]})
    )


def test_a_history_batch_read_takes_50_and_refuses_51_in_hubspots_words(client):
    allowed = limits.HISTORY_BATCH_READ_INPUTS.value
    read = client.crm.deals.batch_api.read(
        {"inputs": _ids(allowed), "properties": ["dealname"], "propertiesWithHistory": ["dealname"]}
    )
    assert read.results == [], "50 unknown ids: a 207 listing them, not a refusal"
    body = _refusal(
        lambda: client.crm.deals.batch_api.read(
            {"inputs": _ids(allowed + 1), "properties": ["dealname"], "propertiesWithHistory": ["dealname"]}
        )
    )
    assert body["message"].startswith(
        "The maximum number of inputs supported in a batch request for property histories is 50"
    )


def test_an_associations_batch_read_refuses_1001(client):
    over = limits.ASSOCIATIONS_BATCH_READ_INPUTS.value + 1
    _refusal(lambda: client.crm.associations.v4.batch_api.get_page("deals", "contacts", {"inputs": _ids(over)}))


def _search(client, **body):
    return client.crm.deals.search_api.do_search(public_object_search_request=body)


def _filter(i: int) -> dict:
    return {"propertyName": "dealname", "operator": "NEQ", "value": f"x{i}"}


@pytest.mark.parametrize(
    ("allowed", "over"),
    [
        ({"limit": 200}, {"limit": 201}),
        ({"after": "9800", "limit": 200}, {"after": "9801", "limit": 200}),
        ({"filterGroups": [{"filters": [_filter(0)]}] * 5}, {"filterGroups": [{"filters": [_filter(0)]}] * 6}),
        (
            {"filterGroups": [{"filters": [_filter(i) for i in range(6)]}]},
            {"filterGroups": [{"filters": [_filter(i) for i in range(7)]}]},
        ),
        (
            {"filterGroups": [{"filters": [_filter(i) for i in range(6)]}] * 3},
            {"filterGroups": [{"filters": [_filter(i) for i in range(6)]}] * 3 + [{"filters": [_filter(0)]}]},
        ),
        ({"query": "a" * 3000}, {"query": "a" * 3001}),
    ],
    ids=["page size", "10,000 results", "filter groups", "filters per group", "filters in all", "query length"],
)
def test_search_takes_each_limit_and_refuses_one_over(client, allowed, over):
    assert _search(client, **allowed).total >= 0
    _refusal(lambda: _search(client, **over))


def test_the_documented_search_rate_is_enforced_with_hubspots_secondly_429(client, hubspot_admin):
    hubspot_admin.set_faults(search_rate_limit=limits.SEARCH_REQUESTS_PER_SECOND.value)
    for _ in range(limits.SEARCH_REQUESTS_PER_SECOND.value):
        _search(client, limit=1)
    with pytest.raises(ApiException) as refused:
        _search(client, limit=1)
    assert refused.value.status == 429
    assert json.loads(refused.value.body)["policyName"] == "SECONDLY"


def test_the_documented_ten_second_window_is_enforced_with_hubspots_429(client, hubspot_admin):
    hubspot_admin.set_faults(rate_limit=limits.TEN_SECOND_REQUESTS.value)
    assert hubspot_admin.faults()["rate_window_s"] == limits.TEN_SECOND_WINDOW_S.value
    for _ in range(limits.TEN_SECOND_REQUESTS.value):
        client.crm.owners.owners_api.get_page(limit=1)
    with pytest.raises(OwnersApiException) as refused:
        client.crm.owners.owners_api.get_page(limit=1)
    assert refused.value.status == 429
    assert json.loads(refused.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert refused.value.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert refused.value.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


# --- Propale within them, end to end ---------------------------------------------------------------


@pytest.fixture
def gateway(start_sandbox):
    sandbox = start_sandbox(reset=True)
    gateway = HubSpotGateway(make_client(sandbox.config.hubspot_token, host=sandbox.config.hubspot_url))
    gateway.ensure_deal_properties()
    return sandbox, gateway


def _create_flagged(client, count: int) -> list[str]:
    ids = []
    for start in range(0, count, 100):
        inputs = [
            {"properties": {"dealname": f"Deal {start + i}", "propale_status": Status.TO_PROPOSE}}
            for i in range(min(100, count - start))
        ]
        ids += [
            d.id
            for d in client.crm.deals.batch_api.create(
                BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
            ).results
        ]
    return ids


def test_more_than_50_flagged_deals_are_read_with_their_status_history(gateway):
    _sandbox, gateway = gateway
    flagged = _create_flagged(gateway.client, 120)
    deals = gateway.read_deals(flagged)
    assert sorted(deals) == sorted(flagged)
    assert all(deal.status_set_at for deal in deals.values()), "the history tells a rep's new request from a retry"


def test_finding_flagged_deals_keeps_within_the_search_rate_and_page_size(gateway):
    sandbox, gateway = gateway
    flagged = _create_flagged(gateway.client, 6 * crm.SEARCH_PAGE_LIMIT)
    with sandbox.admin("hubspot") as admin:
        admin.set_faults(search_rate_limit=limits.SEARCH_REQUESTS_PER_SECOND.value)
        admin.reset_stats()
        found = gateway.find_deal_ids(Status.TO_PROPOSE)
        [search] = [entry for endpoint, entry in admin.stats()["endpoints"].items() if endpoint.endswith("/search")]
    assert found == sorted(flagged, key=int)
    assert search == {"count": 6, "statuses": {"200": 6}}, "six full pages, none refused for going too fast"

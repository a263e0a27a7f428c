"""HubSpot stand-in, CRM search: operators, AND/OR, sorts, projection, paging, limits, index lag."""

from __future__ import annotations

import json
import time
import uuid

import hubspot
import pytest
from hubspot.crm.deals import ApiException, CollectionResponseWithTotalSimplePublicObjectForwardPaging


@pytest.fixture
def client(sandbox_config):
    return hubspot.Client.create(access_token=sandbox_config.hubspot_token, host=sandbox_config.hubspot_url)


@pytest.fixture
def deals(client):
    """Four deals tagged with a token (in `description`) no other test uses."""
    token = uuid.uuid4().hex
    specs = [
        {"dealname": "Alpha bureau privé", "amount": "100", "closedate": "2026-01-10", "dealstage": "qualifiedtobuy"},
        {"dealname": "Beta poste nomade", "amount": "200", "closedate": "2026-02-10", "dealstage": "closedwon"},
        {"dealname": "Gamma salle", "amount": "1000", "closedate": "2026-03-10", "dealstage": "closedwon"},
        {"dealname": "Delta sans montant", "dealstage": "closedlost"},
    ]
    created = client.crm.deals.batch_api.create(
        {"inputs": [{"properties": {**s, "description": token}} for s in specs]}
    )
    by_name = {d.properties["dealname"].split()[0]: d.id for d in created.results}
    return token, by_name


def _search(client, token, *filters, groups=None, **body):
    tag = {"propertyName": "description", "operator": "EQ", "value": token}
    if groups is None:
        groups = [[*filters]]
    request = {"filterGroups": [{"filters": [tag, *g]} for g in groups], "limit": 100, **body}
    return client.crm.deals.search_api.do_search(request)


def _names(result) -> list[str]:
    return [r.properties["dealname"].split()[0] for r in result.results]


def _flt(name, operator, value=None, **extra):
    f = {"propertyName": name, "operator": operator, **extra}
    if value is not None:
        f["value"] = value
    return f


def _search_error(client, body) -> tuple[int, dict]:
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.search_api.do_search(body)
    return excinfo.value.status, json.loads(excinfo.value.body)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (_flt("amount", "EQ", "200"), {"Beta"}),
        (_flt("amount", "NEQ", "200"), {"Alpha", "Gamma", "Delta"}),
        (_flt("amount", "LT", "200"), {"Alpha"}),
        (_flt("amount", "LTE", "200"), {"Alpha", "Beta"}),
        # Numbers compare as numbers: as text, "1000" < "200".
        (_flt("amount", "GT", "200"), {"Gamma"}),
        (_flt("amount", "GTE", "200"), {"Beta", "Gamma"}),
        (_flt("amount", "BETWEEN", "150", highValue="1000"), {"Beta", "Gamma"}),
        (_flt("dealstage", "IN", values=["closedwon", "closedlost"]), {"Beta", "Gamma", "Delta"}),
        (_flt("dealstage", "NOT_IN", values=["closedwon"]), {"Alpha", "Delta"}),
        (_flt("amount", "HAS_PROPERTY"), {"Alpha", "Beta", "Gamma"}),
        (_flt("amount", "NOT_HAS_PROPERTY"), {"Delta"}),
        (_flt("dealname", "CONTAINS_TOKEN", "nomade"), {"Beta"}),
        (_flt("dealname", "CONTAINS_TOKEN", "*mma"), {"Gamma"}),
        (_flt("dealname", "NOT_CONTAINS_TOKEN", "salle"), {"Alpha", "Beta", "Delta"}),
        (_flt("dealname", "EQ", "alpha bureau privé"), {"Alpha"}),
        # Datetimes compare as instants, given as epoch milliseconds or ISO dates.
        (_flt("closedate", "GTE", str(1767225600000 + 31 * 86400000)), {"Beta", "Gamma"}),
        (_flt("closedate", "BETWEEN", "2026-01-01", highValue="2026-02-28"), {"Alpha", "Beta"}),
    ],
)
def test_every_operator(client, deals, flt, expected):
    token, _ = deals
    result = _search(client, token, flt)
    assert isinstance(result, CollectionResponseWithTotalSimplePublicObjectForwardPaging)
    assert set(_names(result)) == expected
    assert result.total == len(expected)


def test_filters_are_and_inside_a_group_and_or_across_groups(client, deals):
    token, _ = deals
    both = _search(client, token, _flt("dealstage", "EQ", "closedwon"), _flt("amount", "GT", "500"))
    assert _names(both) == ["Gamma"]
    either = _search(client, token, groups=[[_flt("amount", "EQ", "100")], [_flt("dealstage", "EQ", "closedlost")]])
    assert set(_names(either)) == {"Alpha", "Delta"}


def test_sorts_projection_and_default_properties(client, deals):
    token, _ = deals
    descending = _search(client, token, sorts=[{"propertyName": "amount", "direction": "DESCENDING"}])
    assert _names(descending) == ["Gamma", "Beta", "Alpha", "Delta"]  # unset values last
    ascending = _search(client, token, sorts=["closedate"], properties=["dealname", "description"])
    assert _names(ascending)[:3] == ["Alpha", "Beta", "Gamma"]
    assert set(ascending.results[0].properties) == {"dealname", "description"}
    defaults = _search(client, token)
    assert set(defaults.results[0].properties) == {
        "amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline",
    }  # fmt: skip


def test_query_matches_words_of_the_default_searchable_properties(client, deals):
    token, _ = deals
    assert _names(_search(client, token, query="bureau")) == ["Alpha"]
    assert _names(_search(client, token, query="pos nom")) == ["Beta"]
    assert _search(client, token, query="introuvable").total == 0


def test_paging_with_after_until_the_last_page(client, deals):
    token, _ = deals
    seen, after = [], None
    while True:
        page = _search(client, token, limit=3, after=after, sorts=["dealname"])
        assert page.total == 4
        seen += _names(page)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == ["Alpha", "Beta", "Delta", "Gamma"]


def test_limits_of_hubspot_search_are_400s(client):
    status, body = _search_error(client, {"limit": 201})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    flt = {"propertyName": "amount", "operator": "HAS_PROPERTY"}
    assert _search_error(client, {"filterGroups": [{"filters": [flt]}] * 6})[0] == 400
    assert _search_error(client, {"filterGroups": [{"filters": [flt] * 7}]})[0] == 400
    assert _search_error(client, {"filterGroups": [{"filters": [flt] * 5}] * 4})[0] == 400  # 20 > 18
    ok = client.crm.deals.search_api.do_search({"filterGroups": [{"filters": [flt] * 6}] * 3, "limit": 200})
    assert ok.total >= 0
    assert (
        _search_error(
            client, {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "LIKE", "value": "1"}]}]}
        )[0]
        == 400
    )
    assert (
        _search_error(
            client, {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}]}
        )[0]
        == 400
    )


def test_paging_past_10000_results_is_a_400(client):
    status, body = _search_error(client, {"after": "9950", "limit": 100})
    assert status == 400 and body["category"] == "VALIDATION_ERROR" and "10,000" in body["message"]
    assert client.crm.deals.search_api.do_search({"after": "9900", "limit": 100}).results == []


def test_search_index_lags_writes_by_search_lag_s(client, hubspot_admin):
    token = uuid.uuid4().hex
    existing = client.crm.deals.basic_api.create({"properties": {"dealname": "Avant", "description": token}})
    hubspot_admin.set_faults(search_lag_s=1.5)
    fresh = client.crm.deals.basic_api.create({"properties": {"dealname": "Nouveau", "description": token}})
    client.crm.deals.basic_api.update(existing.id, {"properties": {"dealname": "Après"}})
    seen = client.crm.deals.search_api.do_search(
        {"filterGroups": [{"filters": [{"propertyName": "description", "operator": "EQ", "value": token}]}]}
    )
    # The new deal is not indexed yet; the updated one is found with its old values.
    assert [(r.id, r.properties["dealname"]) for r in seen.results] == [(existing.id, "Avant")]
    # The API itself is up to date.
    assert client.crm.deals.basic_api.get_by_id(existing.id).properties["dealname"] == "Après"
    time.sleep(1.6)
    seen = client.crm.deals.search_api.do_search(
        {"filterGroups": [{"filters": [{"propertyName": "description", "operator": "EQ", "value": token}]}]}
    )
    assert sorted((r.id, r.properties["dealname"]) for r in seen.results) == sorted(
        [(existing.id, "Après"), (fresh.id, "Nouveau")]
    )


def test_search_rate_limit_answers_hubspots_secondly_429(client, hubspot_admin):
    hubspot_admin.set_faults(search_rate_limit=2)
    client.crm.deals.search_api.do_search({"limit": 1})
    client.crm.deals.search_api.do_search({"limit": 1})
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.search_api.do_search({"limit": 1})
    assert excinfo.value.status == 429
    body = json.loads(excinfo.value.body)
    assert body["policyName"] == "SECONDLY" and body["errorType"] == "RATE_LIMIT"
    client.crm.deals.basic_api.get_page(limit=1)  # other endpoints are not limited by it
    time.sleep(1.05)
    assert client.crm.deals.search_api.do_search({"limit": 1}).total >= 0

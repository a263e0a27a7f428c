"""HubSpot stand-in: JSON bodies are checked against the pinned hubspot-api-client's models, and an
undeclared field is refused as HubSpot refuses it (400 VALIDATION_ERROR naming the field)."""

from __future__ import annotations

import re

import httpx
import pytest
from hubspot.crm.associations.v4.models import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.objects.models import PublicObjectSearchRequest
from starlette.routing import Route

from propale_dev.sandbox.hubspot import contract
from propale_dev.sandbox.hubspot.app import HUBSPOT_FAULTS, build_app
from propale_dev.sandbox.hubspot.errors import HubSpotError
from propale_dev.sandbox.hubspot.routes_access_tokens import PATH as ACCESS_TOKEN_INFO_PATH
from propale_dev.sandbox.hubspot.state import HubSpotAccount
from propale_dev.sandbox.service import Faults
from propale_dev.sandbox.store import Store

UNKNOWN = "propaleUnknownField"
# Body-taking routes the contract cannot cover, each for a reason the pinned client gives.
UNCHECKED = {
    ("POST", ACCESS_TOKEN_INFO_PATH): "hubspot-api-client 12.0.0 has no model (nor method) for it",
    ("POST", "/files/v3/files"): "a multipart upload, not a JSON body",
    ("POST", "/settings/v3/users"): "the client's UserProvisionRequest lacks the documented firstName and lastName",
    ("POST", "/settings/v3/users/"): "the client's UserProvisionRequest lacks the documented firstName and lastName",
    ("PUT", "/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}"): "the client sends no body",
}
# Values for the path parameters of the stand-in's routes, so that each route is reached.
PATH_VALUES = {
    "object_type": "deals",
    "object_id": "1",
    "from_type": "deals",
    "to_type": "contacts",
    "from_id": "1",
    "to_id": "2",
    "property_name": "dealname",
    "group_name": "dealinformation",
    "user_id": "1",
    "file_id": "1",
}


@pytest.fixture
def api(sandbox_config):
    headers = {"Authorization": f"Bearer {sandbox_config.hubspot_token}"}
    with httpx.Client(base_url=sandbox_config.hubspot_url, headers=headers, timeout=30) as client:
        yield client


def _refused_field(response: httpx.Response) -> str:
    """The field HubSpot's 400 names, after checking the body has HubSpot's error shape."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    found = re.fullmatch(
        r'Invalid input JSON on line \d+, column \d+: Unrecognized field "([^"]+)", not marked as ignorable',
        body["message"],
    )
    assert found, body["message"]
    return found.group(1)


def test_an_unknown_top_level_field_is_refused_with_hubspots_400_naming_it(api):
    sent = '{"inputs": [], "properties": ["dealname"],\n  "foo": 1}'
    response = api.post("/crm/v3/objects/deals/batch/read", content=sent, headers={"Content-Type": "application/json"})
    assert _refused_field(response) == "foo"
    # HubSpot reports where its JSON reader stopped: just after the field's name.
    assert response.json()["message"].startswith("Invalid input JSON on line 2, column 8:")


def test_an_unknown_nested_field_is_refused_naming_it(api):
    body = {"inputs": [{"id": "1", "foo": "bar"}], "properties": ["dealname"]}
    assert _refused_field(api.post("/crm/v3/objects/deals/batch/read", json=body)) == "foo"
    search = {
        "filterGroups": [{"filters": [{"propertyName": "dealname", "operator": "EQ", "value": "x", "valeur": "x"}]}]
    }
    assert _refused_field(api.post("/crm/v3/objects/deals/search", json=search)) == "valeur"


def test_free_maps_take_any_key_and_a_declared_body_is_accepted(api):
    # `properties` is a free map: an unknown property passes the JSON reader and is refused as a
    # property, the way HubSpot refuses it, not as a JSON field.
    created = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Bureau", "propale_any_key": "x"}})
    assert created.status_code == 400
    assert created.json()["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert "Unrecognized field" not in created.json()["message"]
    search = api.post("/crm/v3/objects/deals/search", json={"filterGroups": [], "properties": ["dealname"], "limit": 1})
    assert search.status_code == 200, search.text


def _body_routes(tmp_path, config) -> list[tuple[str, str]]:
    account = HubSpotAccount(Store(tmp_path / "routes.db"), Faults(HUBSPOT_FAULTS), config.hubspot_url)
    found = []
    for route in build_app(account, config).routes:
        assert isinstance(route, Route)
        for method in sorted((route.methods or set()) & {"POST", "PUT", "PATCH"}):
            found.append((method, route.path_format))
    return found


def test_every_body_taking_route_checks_its_model(api, sandbox_config, tmp_path):
    routes = _body_routes(tmp_path, sandbox_config)
    assert len(routes) > 20
    unchecked = []
    for method, path_format in routes:
        if (method, path_format) in UNCHECKED:
            continue
        path = path_format.format(**{name: PATH_VALUES[name] for name in re.findall(r"{(\w+)}", path_format)})
        response = api.request(method, path, json={UNKNOWN: True})
        if UNKNOWN not in response.text:
            response = api.request(method, path, json=[{UNKNOWN: True}])  # a body that is a JSON array
        if response.status_code != 400 or f'Unrecognized field "{UNKNOWN}"' not in response.json().get("message", ""):
            unchecked.append(f"{method} {path_format}: {response.status_code} {response.text[:120]}")
    assert not unchecked, "routes taking an unchecked JSON body (name the client's model):\n" + "\n".join(unchecked)


def test_the_contract_reads_the_models_keys_and_nested_types():
    keys = contract.json_keys(PublicObjectSearchRequest)
    assert set(keys) == {"query", "limit", "after", "sorts", "properties", "filterGroups"}
    filter_group = keys["filterGroups"].item.model
    assert filter_group.__name__ == "FilterGroup"
    assert "propertyName" in contract.json_keys(contract.json_keys(filter_group)["filters"].item.model)
    # The python attribute `_from` is the JSON key `from`.
    fetch = contract.json_keys(BatchInputPublicFetchAssociationsBatchRequest)["inputs"].item.model
    assert set(contract.json_keys(fetch)) == {"id", "after"}


def test_the_contract_refuses_unknown_keys_at_any_depth_and_accepts_the_declared_ones():
    contract.validate(
        {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GT", "value": "1"}]}]},
        PublicObjectSearchRequest,
    )
    contract.validate({"inputs": [{"id": "1", "after": "2"}]}, BatchInputPublicFetchAssociationsBatchRequest)
    with pytest.raises(HubSpotError, match='Unrecognized field "operateur"') as refused:
        contract.validate({"filterGroups": [{"filters": [{"operateur": "GT"}]}]}, PublicObjectSearchRequest)
    assert refused.value.status_code == 400 and refused.value.category == "VALIDATION_ERROR"
    with pytest.raises(HubSpotError, match='Unrecognized field "from"'):
        contract.validate({"inputs": [{"id": "1", "from": {"id": "1"}}]}, BatchInputPublicFetchAssociationsBatchRequest)

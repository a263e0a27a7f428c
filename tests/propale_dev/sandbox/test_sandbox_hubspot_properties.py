"""HubSpot stand-in, property definitions and groups, and what they do to writes."""

from __future__ import annotations

import json
import uuid

import hubspot
import pytest
from hubspot.crm.deals import ApiException as DealApiException
from hubspot.crm.properties import (
    ApiException,
    BatchResponseProperty,
    CollectionResponsePropertyGroupNoPaging,
    CollectionResponsePropertyNoPaging,
    ModelProperty,
    PropertyGroup,
)


@pytest.fixture
def client(sandbox_config):
    return hubspot.Client.create(access_token=sandbox_config.hubspot_token, host=sandbox_config.hubspot_url)


def _name() -> str:
    return f"propale_test_{uuid.uuid4().hex[:8]}"


def test_builtin_properties_exist_from_the_start(client):
    deal_props = client.crm.properties.core_api.get_all("deals")
    assert isinstance(deal_props, CollectionResponsePropertyNoPaging)
    names = {p.name for p in deal_props.results}
    assert {
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "closedate",
        "hubspot_owner_id",
        "deal_currency_code",
    } <= names
    frequency = client.crm.properties.core_api.get_by_name("line_items", "recurringbillingfrequency")
    assert isinstance(frequency, ModelProperty) and frequency.type == "enumeration"
    assert {"monthly", "quarterly", "annually"} <= {o.value for o in frequency.options}
    company = {p.name for p in client.crm.properties.core_api.get_all("companies").results}
    assert {"name", "domain", "address", "city", "zip", "country", "siren", "vat_number"} <= company


def test_create_an_enumeration_property_then_write_valid_and_invalid_options(client):
    group = client.crm.properties.groups_api.create("deals", {"name": _name(), "label": "Propale"})
    assert isinstance(group, PropertyGroup)
    name = _name()
    created = client.crm.properties.core_api.create(
        "deals",
        {"name": name, "label": "Statut", "type": "enumeration", "fieldType": "select", "groupName": group.name,
         "options": [{"label": "À proposer", "value": "to_propose", "displayOrder": 0, "hidden": False},
                     {"label": "Envoyée", "value": "sent", "displayOrder": 1, "hidden": False}]},
    )  # fmt: skip
    assert isinstance(created, ModelProperty) and created.group_name == group.name and created.hubspot_defined is False
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "x", name: "to_propose"}})
    assert deal.properties[name] == "to_propose"
    with pytest.raises(DealApiException) as excinfo:
        client.crm.deals.basic_api.update(deal.id, {"properties": {name: "accepted"}})
    body = json.loads(excinfo.value.body)
    assert excinfo.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    updated = client.crm.properties.core_api.update(
        "deals", name, {"options": [{"label": "Acceptée", "value": "accepted", "displayOrder": 0, "hidden": False}]}
    )
    assert [o.value for o in updated.options] == ["accepted"]
    assert client.crm.deals.basic_api.update(deal.id, {"properties": {name: "accepted"}}).properties[name] == "accepted"


def test_creating_an_existing_property_is_a_409(client):
    spec = {"name": _name(), "label": "Numéro", "type": "string", "fieldType": "text", "groupName": "dealinformation"}
    client.crm.properties.core_api.create("deals", spec)
    with pytest.raises(ApiException) as excinfo:
        client.crm.properties.core_api.create("deals", spec)
    assert excinfo.value.status == 409
    assert json.loads(excinfo.value.body)["category"] == "OBJECT_ALREADY_EXISTS"
    with pytest.raises(ApiException) as excinfo:
        client.crm.properties.core_api.create("deals", {**spec, "name": "dealname"})
    assert excinfo.value.status == 409


def test_an_archived_property_is_gone_for_reads_and_writes(client):
    name = _name()
    client.crm.properties.core_api.create(
        "deals",
        {"name": name, "label": "Temporaire", "type": "string", "fieldType": "text", "groupName": "dealinformation"},
    )
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "x", name: "valeur"}})
    assert client.crm.properties.core_api.archive("deals", name) is None
    with pytest.raises(ApiException) as excinfo:
        client.crm.properties.core_api.get_by_name("deals", name)
    assert excinfo.value.status == 404
    assert client.crm.properties.core_api.get_by_name("deals", name, archived=True).archived is True
    assert name in {p.name for p in client.crm.properties.core_api.get_all("deals", archived=True).results}
    with pytest.raises(DealApiException) as excinfo:
        client.crm.deals.basic_api.update(deal.id, {"properties": {name: "autre"}})
    assert "PROPERTY_DOESNT_EXIST" in json.loads(excinfo.value.body)["message"]
    assert name not in client.crm.deals.basic_api.get_by_id(deal.id, properties=[name]).properties


def test_hubspot_defined_properties_cannot_be_archived_and_bad_definitions_are_400s(client):
    with pytest.raises(ApiException) as excinfo:
        client.crm.properties.core_api.archive("deals", "dealname")
    assert excinfo.value.status == 400
    with pytest.raises(ApiException) as excinfo:
        client.crm.properties.core_api.create(
            "deals", {"name": _name(), "label": "x", "type": "string", "fieldType": "text", "groupName": "nope"}
        )
    assert excinfo.value.status == 400


def test_groups_list_get_update_and_batch_read(client):
    groups = client.crm.properties.groups_api.get_all("deals")
    assert isinstance(groups, CollectionResponsePropertyGroupNoPaging)
    assert "dealinformation" in {g.name for g in groups.results}
    name = _name()
    client.crm.properties.groups_api.create("deals", {"name": name, "label": "Avant", "displayOrder": 3})
    assert client.crm.properties.groups_api.update("deals", name, {"label": "Après"}).label == "Après"
    assert client.crm.properties.groups_api.get_by_name("deals", name).label == "Après"
    read = client.crm.properties.batch_api.read(
        "deals", {"archived": False, "inputs": [{"name": "amount"}, {"name": "dealname"}]}
    )
    assert isinstance(read, BatchResponseProperty) and {p.name for p in read.results} == {"amount", "dealname"}

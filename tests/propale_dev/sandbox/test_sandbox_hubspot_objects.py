"""HubSpot stand-in, CRM objects: driven only through the official hubspot-api-client."""

from __future__ import annotations

import uuid

import hubspot
import pytest
from hubspot.crm.deals import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
    CollectionResponseSimplePublicObjectWithAssociationsForwardPaging,
    SimplePublicObject,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
    SimplePublicObjectWithAssociations,
)
from hubspot.crm.line_items import ApiException as LineItemApiException


@pytest.fixture
def client(sandbox_config):
    return hubspot.Client.create(access_token=sandbox_config.hubspot_token, host=sandbox_config.hubspot_url)


def _error(excinfo) -> dict:
    import json

    return json.loads(excinfo.value.body)


def _deal(client, **properties) -> SimplePublicObject:
    properties.setdefault("dealname", f"Deal {uuid.uuid4().hex[:8]}")
    return client.crm.deals.basic_api.create(SimplePublicObjectInputForCreate(properties=properties))


def test_create_returns_201_with_server_kept_properties_as_strings(client):
    deal = _deal(client, dealname="Bureau privé", amount=1600.0, closedate="2026-09-01", pipeline="default")
    assert isinstance(deal, SimplePublicObject)
    assert deal.id.isdigit()
    assert deal.properties["amount"] == "1600"
    assert deal.properties["closedate"] == "2026-09-01T00:00:00Z"
    assert deal.properties["hs_object_id"] == deal.id
    assert deal.properties["createdate"] and deal.properties["hs_lastmodifieddate"]
    assert deal.created_at == deal.updated_at
    assert deal.archived is False


def test_contacts_keep_lastmodifieddate_not_hs_lastmodifieddate(client):
    contact = client.crm.contacts.basic_api.create({"properties": {"email": f"{uuid.uuid4().hex}@client.example"}})
    assert "lastmodifieddate" in contact.properties
    assert "hs_lastmodifieddate" not in contact.properties


def test_get_returns_the_type_defaults_with_nulls_or_the_requested_properties(client):
    deal = _deal(client, dealname="Défauts", description="pas dans les défauts")
    fetched = client.crm.deals.basic_api.get_by_id(deal.id)
    assert isinstance(fetched, SimplePublicObjectWithAssociations)
    assert set(fetched.properties) == {
        "amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline",
    }  # fmt: skip
    assert fetched.properties["amount"] is None
    projected = client.crm.deals.basic_api.get_by_id(deal.id, properties=["description", "no_such_property"])
    assert projected.properties == {"description": "pas dans les défauts"}


def test_update_changes_values_and_the_modification_dates(client):
    deal = _deal(client, amount="10")
    updated = client.crm.deals.basic_api.update(
        deal.id, SimplePublicObjectInput(properties={"amount": "20", "description": ""})
    )
    assert updated.properties["amount"] == "20"
    assert updated.updated_at >= deal.updated_at
    assert updated.properties["hs_lastmodifieddate"] >= deal.properties["hs_lastmodifieddate"]
    history = client.crm.deals.basic_api.get_by_id(deal.id, properties_with_history=["amount"])
    assert [v.value for v in history.properties_with_history["amount"]] == ["20", "10"]


def test_unknown_id_is_a_404_in_hubspot_shape(client):
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.basic_api.get_by_id("999999999")
    assert excinfo.value.status == 404
    body = _error(excinfo)
    assert body["category"] == "OBJECT_NOT_FOUND" and body["status"] == "error" and body["correlationId"]
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.basic_api.update("999999999", SimplePublicObjectInput(properties={"amount": "1"}))
    assert excinfo.value.status == 404


def test_archive_is_204_then_the_object_is_only_readable_as_archived(client):
    deal = _deal(client)
    assert client.crm.deals.basic_api.archive(deal.id) is None
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.basic_api.get_by_id(deal.id)
    assert excinfo.value.status == 404
    archived = client.crm.deals.basic_api.get_by_id(deal.id, archived=True)
    assert archived.archived is True and archived.archived_at is not None


def test_unknown_property_and_read_only_property_are_validation_errors(client):
    with pytest.raises(ApiException) as excinfo:
        _deal(client, propale_nothing="1")
    assert excinfo.value.status == 400
    body = _error(excinfo)
    assert body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    with pytest.raises(ApiException) as excinfo:
        _deal(client, hs_object_id="12")
    assert excinfo.value.status == 400 and "READ_ONLY_VALUE" in _error(excinfo)["message"]


def test_enumeration_and_number_values_are_validated(client):
    with pytest.raises(ApiException) as excinfo:
        _deal(client, dealstage="signed")
    body = _error(excinfo)
    assert excinfo.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    assert '"closedwon"' in body["errors"][0]["message"]
    with pytest.raises(ApiException) as excinfo:
        _deal(client, amount="beaucoup")
    assert excinfo.value.status == 400
    with pytest.raises(ApiException) as excinfo:
        _deal(client, hubspot_owner_id="123")
    assert "INVALID_OPTION" in _error(excinfo)["message"]


def test_list_pages_with_an_after_cursor_until_the_end(client):
    token = uuid.uuid4().hex
    created = {client.crm.products.basic_api.create({"properties": {"name": f"{token} {i}"}}).id for i in range(7)}
    seen, after = [], None
    while True:
        page = client.crm.products.basic_api.get_page(limit=3, after=after, properties=["name"])
        assert type(page).__name__ == CollectionResponseSimplePublicObjectWithAssociationsForwardPaging.__name__
        seen += [p.id for p in page.results if (p.properties["name"] or "").startswith(token)]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


def test_get_all_helper_of_the_client_reads_every_page(client):
    token = uuid.uuid4().hex
    for i in range(3):
        client.crm.companies.basic_api.create({"properties": {"name": f"{token} {i}"}})
    everything = client.crm.companies.get_all()
    assert sum(1 for c in everything if (c.properties.get("name") or "").startswith(token)) == 3


def test_object_type_ids_and_generic_objects_api_reach_the_same_records(client):
    deal = _deal(client, dealname="Par type id")
    fetched = client.crm.objects.basic_api.get_by_id("0-3", deal.id, properties=["dealname"])
    assert fetched.properties["dealname"] == "Par type id"
    note = client.crm.objects.notes.basic_api.create(
        {"properties": {"hs_note_body": "Appel de qualification", "hs_timestamp": "2026-05-01T10:00:00Z"}}
    )
    assert note.properties["hs_note_body"] == "Appel de qualification"


def test_get_by_id_property(client):
    email = f"{uuid.uuid4().hex}@client.example"
    contact = client.crm.contacts.basic_api.create({"properties": {"email": email, "firstname": "Zoé"}})
    fetched = client.crm.contacts.basic_api.get_by_id(email, id_property="email")
    assert fetched.id == contact.id


def test_line_item_takes_the_products_values_and_hubspot_computes_its_amount(client):
    product = client.crm.products.basic_api.create(
        {
            "properties": {
                "name": "Bureau fixe",
                "price": "320",
                "hs_sku": "FIXE",
                "recurringbillingfrequency": "monthly",
            }
        }
    )
    line = client.crm.line_items.basic_api.create(
        {"properties": {"hs_product_id": product.id, "quantity": "2", "hs_discount_percentage": "10"}}
    )
    assert line.properties["name"] == "Bureau fixe"
    assert line.properties["recurringbillingfrequency"] == "monthly"
    assert line.properties["amount"] == "576"
    with pytest.raises(LineItemApiException) as excinfo:
        client.crm.line_items.basic_api.create({"properties": {"name": "x", "recurringbillingfrequency": "daily"}})
    assert excinfo.value.status == 400 and "INVALID_OPTION" in _error(excinfo)["message"]


def test_create_with_associations_and_read_them_back_in_v3_form(client):
    company = client.crm.companies.basic_api.create({"properties": {"name": "Onde Verte"}})
    contact = client.crm.contacts.basic_api.create({"properties": {"firstname": "Nadia"}})
    deal = client.crm.deals.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"dealname": "Associée"},
            associations=[
                {
                    "to": {"id": company.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
                },
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                },
            ],
        )
    )
    fetched = client.crm.deals.basic_api.get_by_id(deal.id, associations=["companies", "contacts"])
    companies = fetched.associations["companies"].results
    assert {(a.id, a.type) for a in companies} == {
        (company.id, "deal_to_company"),
        (company.id, "deal_to_company_unlabeled"),
    }
    assert [(a.id, a.type) for a in fetched.associations["contacts"].results] == [(contact.id, "deal_to_contact")]
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.basic_api.create(
            SimplePublicObjectInputForCreate(
                properties={"dealname": "x"},
                associations=[
                    {"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}
                ],
            )
        )
    assert excinfo.value.status == 400


def test_batch_create_read_update_archive(client):
    created = client.crm.deals.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": {"dealname": f"Lot {i}"}} for i in range(3)]
        )
    )
    assert isinstance(created, BatchResponseSimplePublicObject) and created.status == "COMPLETE"
    ids = [d.id for d in created.results]
    assert len(ids) == 3
    read = client.crm.deals.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in ids], properties=["dealname"], properties_with_history=[]
        )
    )
    assert isinstance(read, BatchResponseSimplePublicObject)
    assert sorted(d.properties["dealname"] for d in read.results) == ["Lot 0", "Lot 1", "Lot 2"]
    updated = client.crm.deals.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(inputs=[{"id": i, "properties": {"amount": "5"}} for i in ids])
    )
    assert {d.properties["amount"] for d in updated.results} == {"5"}
    assert client.crm.deals.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[{"id": i} for i in ids])) is None
    with pytest.raises(ApiException):
        client.crm.deals.basic_api.get_by_id(ids[0])


def test_batch_with_unknown_ids_is_a_207_with_object_not_found_errors(client):
    deal = _deal(client)
    read = client.crm.deals.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": deal.id}, {"id": "999999991"}], properties=[], properties_with_history=[]
        )
    )
    assert isinstance(read, BatchResponseSimplePublicObjectWithErrors)
    assert [d.id for d in read.results] == [deal.id]
    assert read.num_errors == 1
    assert read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"ids": ["999999991"]}
    updated = client.crm.deals.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": deal.id, "properties": {"amount": "1"}}, {"id": "999999992", "properties": {"amount": "1"}}]
        )
    )
    assert isinstance(updated, BatchResponseSimplePublicObjectWithErrors)
    assert updated.errors[0].context == {"ids": ["999999992"]}


def test_batch_over_100_inputs_or_with_a_bad_property_is_refused_whole(client):
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=[{"properties": {"dealname": "x"}}] * 101)
        )
    assert excinfo.value.status == 400 and _error(excinfo)["category"] == "VALIDATION_ERROR"
    token = uuid.uuid4().hex
    with pytest.raises(ApiException) as excinfo:
        client.crm.deals.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[{"properties": {"dealname": token}}, {"properties": {"dealname": "y", "dealstage": "nope"}}]
            )
        )
    assert excinfo.value.status == 400
    found = client.crm.deals.search_api.do_search(
        {"filterGroups": [{"filters": [{"propertyName": "dealname", "operator": "EQ", "value": token}]}]}
    )
    assert found.total == 0


def test_missing_or_wrong_token_is_a_401_in_hubspot_shape(sandbox_config):
    for token in ("wrong-token", None):
        client = hubspot.Client.create(access_token=token, host=sandbox_config.hubspot_url)
        with pytest.raises(ApiException) as excinfo:
            client.crm.deals.basic_api.get_page()
        assert excinfo.value.status == 401
        body = _error(excinfo)
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert set(body) == {"status", "message", "correlationId", "category"}

"""HubSpot stand-in, associations v4: default type ids, labels, both directions, archiving."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.associations.v4 import (
    ApiException,
    BatchResponseLabelsBetweenObjectPair,
    BatchResponsePublicAssociationMultiWithLabel,
    BatchResponsePublicAssociationMultiWithLabelWithErrors,
    BatchResponsePublicDefaultAssociation,
    CollectionResponseMultiAssociatedObjectWithLabelForwardPaging,
    LabelsBetweenObjectPair,
)


@pytest.fixture
def client(sandbox_config):
    return hubspot.Client.create(access_token=sandbox_config.hubspot_token, host=sandbox_config.hubspot_url)


@pytest.fixture
def records(client):
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "Associations"}})
    contact = client.crm.contacts.basic_api.create({"properties": {"firstname": "Léa"}})
    company = client.crm.companies.basic_api.create({"properties": {"name": "Atelier Lumen"}})
    lines = [
        client.crm.line_items.basic_api.create({"properties": {"name": f"Ligne {i}", "price": "10", "quantity": "1"}})
        for i in range(2)
    ]
    return {"deal": deal.id, "contact": contact.id, "company": company.id, "lines": [line.id for line in lines]}


def _types(result) -> set[tuple[int, str | None]]:
    return {(t.type_id, t.label) for t in result.association_types}


def test_default_associations_use_hubspots_type_ids_both_ways(client, records):
    v4 = client.crm.associations.v4
    made = v4.basic_api.create_default("deals", records["deal"], "contacts", records["contact"])
    assert isinstance(made, BatchResponsePublicDefaultAssociation)
    assert {r.association_spec.association_type_id for r in made.results} == {3, 4}
    v4.basic_api.create_default("deals", records["deal"], "companies", records["company"])
    page = v4.basic_api.get_page("deals", records["deal"], "companies")
    assert isinstance(page, CollectionResponseMultiAssociatedObjectWithLabelForwardPaging)
    assert [(r.to_object_id, _types(r)) for r in page.results] == [(records["company"], {(341, None)})]
    back = v4.basic_api.get_page("contacts", records["contact"], "deals")
    assert [(r.to_object_id, _types(r)) for r in back.results] == [(records["deal"], {(4, None)})]


def test_labeled_primary_company_is_5_and_brings_the_unlabeled_one(client, records):
    v4 = client.crm.associations.v4
    labels = v4.basic_api.create(
        "deals", records["deal"], "companies", records["company"],
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
    )  # fmt: skip
    assert isinstance(labels, LabelsBetweenObjectPair)
    assert labels.labels == ["Primary"] and labels.from_object_type_id == "0-3" and labels.to_object_type_id == "0-2"
    page = v4.basic_api.get_page("companies", records["company"], "deals")
    assert _types(page.results[0]) == {(6, "Primary"), (342, None)}
    with pytest.raises(ApiException) as excinfo:
        v4.basic_api.create(
            "deals", records["deal"], "companies", records["company"],
            [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        )  # fmt: skip
    assert excinfo.value.status == 400


def test_batch_create_read_and_archive(client, records):
    batch = client.crm.associations.v4.batch_api
    created = batch.create(
        "deals", "line_items",
        {"inputs": [{"from": {"id": records["deal"]}, "to": {"id": line},
                     "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}]} for line in records["lines"]]},
    )  # fmt: skip
    assert isinstance(created, BatchResponseLabelsBetweenObjectPair) and len(created.results) == 2
    read = batch.get_page("deals", "line_items", {"inputs": [{"id": records["deal"]}]})
    assert isinstance(read, BatchResponsePublicAssociationMultiWithLabel)
    assert read.results[0]._from.id == records["deal"]
    assert sorted(t.to_object_id for t in read.results[0].to) == sorted(records["lines"])
    assert {t.association_types[0].type_id for t in read.results[0].to} == {19}
    reverse = batch.get_page("line_items", "deals", {"inputs": [{"id": records["lines"][0]}]})
    assert reverse.results[0].to[0].association_types[0].type_id == 20
    batch.archive(
        "deals", "line_items", {"inputs": [{"from": {"id": records["deal"]}, "to": [{"id": records["lines"][0]}]}]}
    )
    after = batch.get_page("deals", "line_items", {"inputs": [{"id": records["deal"]}]})
    assert [t.to_object_id for t in after.results[0].to] == [records["lines"][1]]


def test_batch_read_of_a_record_without_associations_is_a_207(client, records):
    read = client.crm.associations.v4.batch_api.get_page("deals", "contacts", {"inputs": [{"id": records["deal"]}]})
    assert isinstance(read, BatchResponsePublicAssociationMultiWithLabelWithErrors)
    assert read.results == [] and read.num_errors == 1
    assert read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"fromObjectId": [records["deal"]]}


def test_batch_read_takes_hubspots_1000_ids_and_refuses_more(client, records):
    batch = client.crm.associations.v4.batch_api
    ids = [{"id": records["deal"]}] + [{"id": str(900_000_000 + i)} for i in range(999)]
    read = batch.get_page("deals", "line_items", {"inputs": ids})
    assert len(read.results) + read.num_errors == 1000, "every id answered, in one call"
    with pytest.raises(ApiException) as refused:
        batch.get_page("deals", "line_items", {"inputs": [*ids, {"id": "1"}]})
    assert refused.value.status == 400
    assert "at most 1000" in json.loads(refused.value.body)["message"]


def test_note_associations_and_archiving_a_record_removes_its_associations(client, records):
    note = client.crm.objects.notes.basic_api.create(
        {
            "properties": {"hs_note_body": "Devis envoyé", "hs_timestamp": "2026-05-01T10:00:00Z"},
            "associations": [
                {
                    "to": {"id": records["deal"]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}],
                }
            ],
        }
    )
    v4 = client.crm.associations.v4
    assert [(r.to_object_id, _types(r)) for r in v4.basic_api.get_page("deals", records["deal"], "notes").results] == [
        (note.id, {(213, None)})
    ]
    v4.basic_api.create_default("deals", records["deal"], "contacts", records["contact"])
    client.crm.deals.basic_api.archive(records["deal"])
    assert v4.basic_api.get_page("contacts", records["contact"], "deals").results == []
    assert v4.basic_api.get_page("notes", note.id, "deals").results == []


def test_associating_a_missing_record_is_refused(client, records):
    with pytest.raises(ApiException) as excinfo:
        client.crm.associations.v4.basic_api.create_default("deals", records["deal"], "contacts", "999999999")
    assert excinfo.value.status == 400
    assert json.loads(excinfo.value.body)["category"] == "VALIDATION_ERROR"

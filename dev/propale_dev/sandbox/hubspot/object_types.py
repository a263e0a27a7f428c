"""The CRM object types the stand-in serves, with the names HubSpot accepts for each in paths."""

from __future__ import annotations

from dataclasses import dataclass

from propale_dev.sandbox.hubspot.errors import HubSpotError


@dataclass(frozen=True)
class ObjectType:
    name: str  # the plural used in paths: "deals", "line_items"
    type_id: str  # "0-3"
    singular: str  # "deal": used in v3 association type names
    error_label: str  # "DEAL": how HubSpot names the type in error messages
    association_key: str  # the key of v3 `associations` on a GET: "line items"
    default_properties: tuple[str, ...]  # returned when the request names none
    query_properties: tuple[str, ...]  # what a search `query` matches
    modified_property: str = "hs_lastmodifieddate"
    aliases: tuple[str, ...] = ()


OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType(
        "contacts", "0-1", "contact", "CONTACT", "contacts",
        ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
        ("firstname", "lastname", "email", "phone", "company"),
        modified_property="lastmodifieddate",
        aliases=("contact",),
    ),
    ObjectType(
        "companies", "0-2", "company", "COMPANY", "companies",
        ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        ("name", "domain", "website", "phone"),
        aliases=("company",),
    ),
    ObjectType(
        "deals", "0-3", "deal", "DEAL", "deals",
        ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
         "hs_object_id", "pipeline"),
        ("dealname",),
        aliases=("deal",),
    ),
    ObjectType(
        "products", "0-7", "product", "PRODUCT", "products",
        ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
        ("name", "description", "hs_sku"),
        aliases=("product",),
    ),
    ObjectType(
        "line_items", "0-8", "line_item", "LINE_ITEM", "line items",
        ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_product_id", "name",
         "price", "quantity"),
        ("name", "description", "hs_sku"),
        aliases=("line_item", "lineitem", "lineitems", "line items"),
    ),
    ObjectType(
        "notes", "0-46", "note", "NOTE", "notes",
        ("createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("hs_note_body",),
        aliases=("note",),
    ),
)  # fmt: skip

_BY_ANY_NAME: dict[str, ObjectType] = {}
for _type in OBJECT_TYPES:
    for _name in (_type.name, _type.type_id, _type.singular, *_type.aliases):
        _BY_ANY_NAME[_name.lower()] = _type


def find_type(name: str) -> ObjectType | None:
    return _BY_ANY_NAME.get(name.lower())


def resolve_type(name: str) -> ObjectType:
    found = find_type(name)
    if found is None:
        raise HubSpotError(
            400,
            f"Unable to infer object type from: {name}",
            "VALIDATION_ERROR",
            context={"objectType": [name]},
        )
    return found

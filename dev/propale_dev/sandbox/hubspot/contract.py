"""JSON request bodies checked against the installed `hubspot-api-client`'s own models.

Each body-taking route names the model class that the official client sends for that call
(`hubspot.crm.objects.models.BatchReadInputSimplePublicObjectId`, `PublicObjectSearchRequest`…,
as named in the client's `api/*_api.py`). The models are generated from HubSpot's OpenAPI specs:
`attribute_map` gives each field's JSON key and `openapi_types` its type as a string
('list[SimplePublicObjectId]', 'dict[str, str]', 'PublicObjectId', 'str'). Reading them at run time
makes the stand-in accept exactly what the pinned client may send: bumping `hubspot-api-client` in
the lock moves the contract with it, and no list of field names is copied here.

What is checked is what HubSpot's JSON reader refuses: a key that the model does not declare, at any
depth. Free maps (`dict[str, str]`, `object`) take any key. Values stay with the handlers.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import typing
from dataclasses import dataclass
from typing import Any

from propale_dev.sandbox.hubspot.errors import HubSpotError, validation_error

# What a route names: a model class, or `list[Model]` for the few calls whose body is a JSON array
# (the v4 `PUT …/associations/{toType}/{toId}` takes `list[AssociationSpec]`).
RequestModel = Any

_CONTAINER = re.compile(r"^(list|dict)\[(.*)\]$")


@dataclass(frozen=True)
class Field:
    """What one JSON value may hold: a model's fields, a list or map of something, or anything."""

    model: type | None = None  # an object with this model's keys
    item: Field | None = None  # a list of these
    value: Field | None = None  # a map of free keys to these
    free: bool = False  # a scalar or a free object: nothing to check


ANYTHING = Field(free=True)


def validate(body: Any, model: RequestModel, raw: bytes = b"") -> None:
    """Raises HubSpot's 400 for the first JSON key, in document order, that `model` does not define.

    `raw` is the request body as sent, to report the line and column as HubSpot does."""
    _check(body, _field_of_request_model(model), raw)


def json_keys(model: type) -> dict[str, Field]:
    """The JSON keys a model declares and what each holds (cached per class)."""
    return _keys(model)


# reading the client's models ----------------------------------------------------------------
def _field_of_request_model(model: RequestModel) -> Field:
    if typing.get_origin(model) is list:
        (item,) = typing.get_args(model)
        return Field(item=Field(model=item))
    return Field(model=model)


@functools.cache
def _keys(model: type) -> dict[str, Field]:
    package = importlib.import_module(model.__module__.rpartition(".")[0])
    return {
        model.attribute_map[attribute]: _parse(type_name, package)
        for attribute, type_name in model.openapi_types.items()
    }


def _parse(type_name: str, package: Any) -> Field:
    container = _CONTAINER.match(type_name)
    if container:
        kind, inner = container.groups()
        if kind == "list":
            return Field(item=_parse(inner, package))
        return Field(value=_parse(inner.partition(",")[2].strip(), package))
    model = getattr(package, type_name, None)
    # Scalars ('str', 'int', 'bool', 'datetime') and 'object' are no classes of the package.
    return Field(model=model) if isinstance(model, type) and hasattr(model, "openapi_types") else ANYTHING


# walking a body ------------------------------------------------------------------------------
def _check(value: Any, field: Field, raw: bytes) -> None:
    if field.model is not None and isinstance(value, dict):
        keys = _keys(field.model)
        for key, inner in value.items():
            if key not in keys:
                raise unrecognized_field(key, raw)
            _check(inner, keys[key], raw)
    elif field.item is not None and isinstance(value, list):
        for inner in value:
            _check(inner, field.item, raw)
    elif field.value is not None and isinstance(value, dict):
        for inner in value.values():
            _check(inner, field.value, raw)


def unrecognized_field(key: str, raw: bytes) -> HubSpotError:
    """HubSpot answers an undeclared key with its JSON reader's message, a 400 VALIDATION_ERROR:
    "Invalid input JSON on line 1, column 119: …" (the prefix and category as reported in
    https://github.com/HubSpot/hubspot-api-nodejs/issues/555 and
    https://github.com/Chinchilla-Software-Com/HubSpot.NET/issues/23), the reader being Jackson,
    whose message for an undeclared key is `Unrecognized field "foo" (class …), not marked as
    ignorable`. The Java class name and Jackson's list of known properties are left out: no public
    report shows HubSpot's own."""
    line, column = _position_of_key(key, raw)
    return validation_error(
        f'Invalid input JSON on line {line}, column {column}: Unrecognized field "{key}", not marked as ignorable'
    )


def _position_of_key(key: str, raw: bytes) -> tuple[int, int]:
    """Line and column just after the key's name, where Jackson stops; 1, 1 if it cannot be found."""
    text = raw.decode("utf-8", errors="replace")
    for spelled in (json.dumps(key, ensure_ascii=False), json.dumps(key)):
        found = re.search(re.escape(spelled) + r"\s*:", text)
        if found:
            end = found.start() + len(spelled)
            return text.count("\n", 0, end) + 1, end - (text.rfind("\n", 0, end) + 1) + 1
    return 1, 1

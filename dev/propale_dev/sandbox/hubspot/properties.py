"""Property definitions and groups per object type, and the validation of values written to objects.

Definitions live in the Store (so custom properties survive a restart) and are mirrored in memory
because every object write and search consults them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from propale_dev.sandbox.hubspot.builtin_properties import BUILTIN_PROPERTIES, GROUPS, READ_ONLY
from propale_dev.sandbox.hubspot.errors import HubSpotError, not_found, property_values_error, validation_error
from propale_dev.sandbox.hubspot.values import (
    as_property_string,
    normalize_date,
    normalize_datetime,
    now_iso,
    parse_number,
)
from propale_dev.sandbox.store import Store

PROPERTY_KIND = "hubspot.properties"
GROUP_KIND = "hubspot.property_groups"
PROPERTY_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool", "phone_number"}
FIELD_TYPES = {
    "textarea", "text", "date", "file", "number", "select", "radio", "checkbox",
    "booleancheckbox", "calculation_equation", "html", "phonenumber",
}  # fmt: skip
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def _key(object_type: str, name: str) -> str:
    return f"{object_type}:{name}"


def _option(value: str, label: str, order: int) -> dict[str, Any]:
    return {"label": label, "value": value, "displayOrder": order, "hidden": False, "description": ""}


def _options(raw: list[Any]) -> list[dict[str, Any]]:
    options = []
    for order, item in enumerate(raw):
        if isinstance(item, tuple):
            options.append(_option(item[0], item[1], order))
        else:
            options.append(
                {
                    "label": str(item.get("label", item.get("value", ""))),
                    "value": str(item.get("value", "")),
                    "displayOrder": item.get("displayOrder", order),
                    "hidden": bool(item.get("hidden", False)),
                    "description": item.get("description") or "",
                }
            )
    return options


def new_definition(object_type: str, spec: Mapping[str, Any], *, hubspot_defined: bool) -> dict[str, Any]:
    """A full ModelProperty as HubSpot returns it (the client requires description and options)."""
    stamp = now_iso()
    read_only = spec["name"] in READ_ONLY or bool(spec.get("calculated"))
    return {
        "name": spec["name"],
        "label": spec["label"],
        "type": spec["type"],
        "fieldType": spec["fieldType"],
        "description": spec.get("description") or "",
        "groupName": spec.get("groupName") or GROUPS[object_type][0],
        "options": _options(spec.get("options") or []),
        "displayOrder": spec.get("displayOrder", -1),
        "calculated": bool(spec.get("calculated", False)),
        "externalOptions": bool(spec.get("externalOptions", False)),
        "hasUniqueValue": bool(spec.get("hasUniqueValue", False)),
        "hidden": bool(spec.get("hidden", False)),
        "hubspotDefined": hubspot_defined,
        "formField": bool(spec.get("formField", not read_only)),
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }


def _group(name: str, label: str, order: int = -1) -> dict[str, Any]:
    return {"name": name, "label": label, "displayOrder": order, "archived": False}


class PropertyCatalog:
    def __init__(self, store: Store, owner_ids: Callable[[], set[str]]):
        self._store = store
        self._owner_ids = owner_ids
        self._properties: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in GROUPS}
        self._groups: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in GROUPS}
        install_builtins(store)
        for definition in store.all(PROPERTY_KIND):
            object_type = definition.pop("_objectType")
            self._properties[object_type][definition["name"]] = definition
        for group in store.all(GROUP_KIND):
            object_type = group.pop("_objectType")
            self._groups[object_type][group["name"]] = group

    # ---- definitions -------------------------------------------------------------------------

    def get(self, object_type: str, name: str, *, archived: bool = False) -> dict[str, Any] | None:
        definition = self._properties[object_type].get(name)
        if definition is None or definition["archived"] != archived:
            return None
        return definition

    def active(self, object_type: str, name: str) -> dict[str, Any] | None:
        return self.get(object_type, name)

    def list(self, object_type: str, *, archived: bool = False) -> list[dict[str, Any]]:
        return [d for d in self._properties[object_type].values() if d["archived"] == archived]

    def create(self, object_type: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        missing = [f for f in ("name", "label", "type", "fieldType", "groupName") if not spec.get(f)]
        if missing:
            raise validation_error(
                f"Invalid input JSON on line 1: missing required field(s) {', '.join(missing)}",
                errors=[{"message": f"{f} is required", "code": "REQUIRED_FIELD", "in": f} for f in missing],
            )
        name = spec["name"]
        if not NAME_PATTERN.match(name) or name.startswith("hs_"):
            raise validation_error(
                f"Property name '{name}' is invalid: use lowercase letters, digits and underscores, "
                "starting with a letter; names starting with 'hs_' are reserved for HubSpot.",
                sub_category="PropertyValidationError.INVALID_PROPERTY_NAME",
            )
        self._check_types(spec)
        if (
            spec["groupName"] not in self._groups[object_type]
            or self._groups[object_type][spec["groupName"]]["archived"]
        ):
            raise validation_error(
                f"Property group '{spec['groupName']}' does not exist.",
                sub_category="PropertyValidationError.GROUP_DOES_NOT_EXIST",
            )
        with self._store.transaction():
            if name in self._properties[object_type]:
                raise HubSpotError(
                    409,
                    f"A property named '{name}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    sub_category="PropertyValidationError.PROPERTY_ALREADY_EXISTS",
                    context={"name": [name]},
                )
            definition = new_definition(object_type, spec, hubspot_defined=False)
            self._save(object_type, definition)
        return definition

    def update(self, object_type: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self._store.transaction():
            definition = self.get(object_type, name)
            if definition is None:
                raise self.missing_error(object_type, name)
            self._check_types({**definition, **{k: v for k, v in changes.items() if v is not None}})
            for field in (
                "label",
                "description",
                "groupName",
                "type",
                "fieldType",
                "displayOrder",
                "hidden",
                "formField",
            ):
                if changes.get(field) is not None:
                    definition[field] = changes[field]
            if changes.get("options") is not None:
                definition["options"] = _options(changes["options"])
            definition["updatedAt"] = now_iso()
            self._save(object_type, definition)
            return definition

    def archive(self, object_type: str, name: str) -> None:
        with self._store.transaction():
            definition = self.get(object_type, name)
            if definition is None:
                raise self.missing_error(object_type, name)
            if definition["hubspotDefined"]:
                raise validation_error(
                    f"Can't archive HubSpot-defined property {name}.",
                    sub_category="PropertyValidationError.CANNOT_ARCHIVE_HUBSPOT_DEFINED",
                )
            definition["archived"] = True
            definition["archivedAt"] = now_iso()
            self._save(object_type, definition)

    def missing_error(self, object_type: str, name: str) -> HubSpotError:
        return not_found(
            f"Unable to find property {name} for object type {object_type}.",
            sub_category="PropertyValidationError.PROPERTY_NOT_FOUND",
        )

    def _check_types(self, spec: Mapping[str, Any]) -> None:
        if spec.get("type") not in PROPERTY_TYPES:
            raise validation_error(f"Invalid property type '{spec.get('type')}'.")
        if spec.get("fieldType") not in FIELD_TYPES:
            raise validation_error(f"Invalid field type '{spec.get('fieldType')}'.")
        if spec["type"] == "enumeration" and not spec.get("options") and not spec.get("externalOptions"):
            raise validation_error("Enumeration properties need at least one option.")

    def _save(self, object_type: str, definition: dict[str, Any]) -> None:
        self._properties[object_type][definition["name"]] = definition
        self._store.put(
            PROPERTY_KIND, _key(object_type, definition["name"]), {**definition, "_objectType": object_type}
        )

    # ---- groups ------------------------------------------------------------------------------

    def groups(self, object_type: str) -> list[dict[str, Any]]:
        return [g for g in self._groups[object_type].values() if not g["archived"]]

    def group(self, object_type: str, name: str) -> dict[str, Any]:
        group = self._groups[object_type].get(name)
        if group is None or group["archived"]:
            raise not_found(f"Unable to find property group {name} for object type {object_type}.")
        return group

    def create_group(self, object_type: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        if not spec.get("name") or not spec.get("label"):
            raise validation_error("A property group needs a name and a label.")
        with self._store.transaction():
            if spec["name"] in self._groups[object_type]:
                raise HubSpotError(
                    409,
                    f"A property group named '{spec['name']}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    context={"name": [spec["name"]]},
                )
            group = _group(spec["name"], spec["label"], spec.get("displayOrder", -1))
            self._save_group(object_type, group)
        return group

    def update_group(self, object_type: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self._store.transaction():
            group = self.group(object_type, name)
            for field in ("label", "displayOrder"):
                if changes.get(field) is not None:
                    group[field] = changes[field]
            self._save_group(object_type, group)
        return group

    def archive_group(self, object_type: str, name: str) -> None:
        with self._store.transaction():
            group = self.group(object_type, name)
            group["archived"] = True
            self._save_group(object_type, group)

    def _save_group(self, object_type: str, group: dict[str, Any]) -> None:
        self._groups[object_type][group["name"]] = group
        self._store.put(GROUP_KIND, _key(object_type, group["name"]), {**group, "_objectType": object_type})

    # ---- values ------------------------------------------------------------------------------

    def clean_values(self, object_type: str, raw: Mapping[str, Any]) -> dict[str, str | None]:
        """Validate values written to an object; None means "clear it". Raises HubSpot's 400."""
        if not isinstance(raw, Mapping):
            raise validation_error("Invalid input JSON: properties must be an object")
        cleaned: dict[str, str | None] = {}
        problems: list[dict[str, str]] = []
        for name, value in raw.items():
            definition = self.active(object_type, name)
            if definition is None:
                problems.append(
                    {"name": name, "error": "PROPERTY_DOESNT_EXIST", "message": f'Property "{name}" does not exist'}
                )
                continue
            if name in READ_ONLY:
                problems.append(
                    {
                        "name": name,
                        "error": "READ_ONLY_VALUE",
                        "message": f"{name} is a read only property; its value cannot be set.",
                    }
                )
                continue
            text = as_property_string(value)
            if text is None or text == "":
                cleaned[name] = None
                continue
            normalized, problem = self._normalize(definition, text)
            if problem:
                problems.append({"name": name, **problem})
            else:
                cleaned[name] = normalized
        if problems:
            raise property_values_error(problems)
        return cleaned

    def _normalize(self, definition: dict[str, Any], text: str) -> tuple[str | None, dict[str, str] | None]:
        kind = definition["type"]
        if kind == "number":
            if parse_number(text) is None:
                return None, {"error": "INVALID_DECIMAL", "message": f"{text} was not a valid number."}
            return text, None
        if kind == "datetime":
            value = normalize_datetime(text)
            if value is None:
                return None, {"error": "INVALID_DATE", "message": f"{text} was not a valid date/time."}
            return value, None
        if kind == "date":
            value = normalize_date(text)
            if value is None:
                return None, {"error": "INVALID_DATE", "message": f"{text} was not a valid date."}
            return value, None
        if kind == "bool":
            if text.lower() not in {"true", "false"}:
                return None, {"error": "INVALID_BOOLEAN", "message": f"{text} was not a valid boolean."}
            return text.lower(), None
        if kind == "enumeration":
            allowed = self._allowed_options(definition)
            chosen = text.split(";") if definition["fieldType"] == "checkbox" else [text]
            unknown = [c for c in chosen if c not in allowed]
            if unknown:
                listing = ", ".join(f'label: "{label}"\nvalue: "{value}"\n' for value, label in allowed.items())
                return None, {
                    "error": "INVALID_OPTION",
                    "message": f"{unknown[0]} was not one of the allowed options: [{listing}]",
                }
        return text, None

    def _allowed_options(self, definition: dict[str, Any]) -> dict[str, str]:
        if definition["name"] == "hubspot_owner_id":
            return {owner_id: owner_id for owner_id in self._owner_ids()}
        return {o["value"]: o["label"] for o in definition["options"]}


def install_builtins(store: Store) -> None:
    """Give a fresh account HubSpot's own groups and properties (idempotent)."""
    with store.transaction():
        for object_type, (group_name, label) in GROUPS.items():
            if store.get(GROUP_KIND, _key(object_type, group_name)) is None:
                store.put(
                    GROUP_KIND, _key(object_type, group_name), {**_group(group_name, label), "_objectType": object_type}
                )
        for object_type, specs in BUILTIN_PROPERTIES.items():
            for spec in specs:
                if store.get(PROPERTY_KIND, _key(object_type, spec["name"])) is None:
                    definition = new_definition(object_type, spec, hubspot_defined=spec["hubspotDefined"])
                    store.put(
                        PROPERTY_KIND, _key(object_type, spec["name"]), {**definition, "_objectType": object_type}
                    )

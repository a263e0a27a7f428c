"""The JSON shapes of HubSpot's CRM responses, built from records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from propale_dev.sandbox.hubspot.object_types import ObjectType
from propale_dev.sandbox.hubspot.values import now_iso

if TYPE_CHECKING:
    from propale_dev.sandbox.hubspot.properties import PropertyCatalog


def project_properties(
    object_type: ObjectType,
    values: dict[str, str],
    requested: Iterable[str] | None,
    catalog: PropertyCatalog,
) -> dict[str, str | None]:
    """Requested (or the type's default) properties; unset ones are null, unknown ones left out."""
    names = list(requested) if requested else list(object_type.default_properties)
    return {name: values.get(name) for name in names if catalog.active(object_type.name, name) is not None}


def object_json(
    object_type: ObjectType,
    record: dict[str, Any],
    catalog: PropertyCatalog,
    *,
    requested: Iterable[str] | None = None,
    everything: bool = False,
    with_history: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A SimplePublicObject; `everything` returns all set values, as after a create or update."""
    if everything:
        properties: dict[str, str | None] = {
            k: v for k, v in record["properties"].items() if catalog.active(object_type.name, k) is not None
        }
    else:
        properties = project_properties(object_type, record["properties"], requested, catalog)
    body: dict[str, Any] = {
        "id": record["id"],
        "properties": properties,
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "archived": record["archived"],
    }
    if record["archived"]:
        body["archivedAt"] = record.get("archivedAt", record["updatedAt"])
    if with_history:
        body["propertiesWithHistory"] = {
            name: record["history"].get(name, []) for name in with_history if catalog.active(object_type.name, name)
        }
    return body


def batch_json(results: list[Any], errors: list[dict[str, Any]], started_at: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started_at,
        "completedAt": now_iso(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body

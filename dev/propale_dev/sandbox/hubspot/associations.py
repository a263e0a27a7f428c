"""Associations between records: HubSpot-defined types, both directions kept in step.

Each record's associations are one Store document (`hubspot.associations`, id `type:id`) mapping
target type → target id → type ids, mirrored in memory like the records themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from propale_dev.sandbox.hubspot.errors import validation_error
from propale_dev.sandbox.hubspot.object_types import ObjectType
from propale_dev.sandbox.store import Store

ASSOCIATION_KIND = "hubspot.associations"
HUBSPOT_DEFINED = "HUBSPOT_DEFINED"


@dataclass(frozen=True)
class AssociationType:
    from_type: str
    to_type: str
    type_id: int
    reverse_id: int
    v3_name: str
    label: str | None = None  # None: the unlabeled (default) association
    single: bool = False  # a record has at most one target of this type (the primary one)


def _pair(from_type, to_type, type_id, reverse_id, from_name, to_name, label=None, single=False, suffix=""):
    return [
        AssociationType(from_type, to_type, type_id, reverse_id, f"{from_name}_to_{to_name}{suffix}", label, single),
        AssociationType(to_type, from_type, reverse_id, type_id, f"{to_name}_to_{from_name}{suffix}", label),
    ]


ASSOCIATION_TYPES: list[AssociationType] = [
    *_pair("contacts", "companies", 279, 280, "contact", "company", suffix="_unlabeled"),
    *_pair("contacts", "companies", 1, 2, "contact", "company", "Primary", single=True),
    *_pair("deals", "contacts", 3, 4, "deal", "contact"),
    *_pair("deals", "companies", 341, 342, "deal", "company", suffix="_unlabeled"),
    *_pair("deals", "companies", 5, 6, "deal", "company", "Primary", single=True),
    *_pair("deals", "line_items", 19, 20, "deal", "line_item"),
    *_pair("notes", "contacts", 202, 201, "note", "contact"),
    *_pair("notes", "companies", 190, 189, "note", "company"),
    *_pair("notes", "deals", 214, 213, "note", "deal"),
]
_BY_ID: dict[tuple[str, str, int], AssociationType] = {
    (a.from_type, a.to_type, a.type_id): a for a in ASSOCIATION_TYPES
}
_DEFAULT: dict[tuple[str, str], AssociationType] = {}
for _a in ASSOCIATION_TYPES:
    if _a.label is None:
        _DEFAULT.setdefault((_a.from_type, _a.to_type), _a)


def default_type(from_type: ObjectType, to_type: ObjectType) -> AssociationType:
    found = _DEFAULT.get((from_type.name, to_type.name))
    if found is None:
        raise validation_error(f"There is no association between {from_type.singular} and {to_type.singular} objects.")
    return found


def association_type(from_type: ObjectType, to_type: ObjectType, category: str, type_id: Any) -> AssociationType:
    try:
        found = _BY_ID.get((from_type.name, to_type.name, int(type_id)))
    except (TypeError, ValueError):
        found = None
    if found is None or category != HUBSPOT_DEFINED:
        raise validation_error(
            f"{category} association type {type_id} is not valid from {from_type.singular} to {to_type.singular}.",
            sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
            context={"associationTypeId": [str(type_id)]},
        )
    return found


def association_type_by_id(from_type: ObjectType, category: Any, type_id: Any) -> AssociationType:
    """The association type of a create's `associations`: its id alone names the target type."""
    for kind in ASSOCIATION_TYPES:
        if kind.from_type == from_type.name and str(kind.type_id) == str(type_id) and category == HUBSPOT_DEFINED:
            return kind
    raise validation_error(
        f"{category} association type {type_id} is not valid from {from_type.singular}.",
        sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
        context={"associationTypeId": [str(type_id)]},
    )


def v3_associations(targets: list[tuple[str, list[AssociationType]]]) -> list[dict[str, str]]:
    """The v3 form: one entry per target and association type, e.g. `deal_to_company`."""
    return [{"id": to_id, "type": kind.v3_name} for to_id, kinds in targets for kind in kinds]


def v4_spec(kind: AssociationType) -> dict[str, Any]:
    return {"category": HUBSPOT_DEFINED, "typeId": kind.type_id, "label": kind.label}


class AssociationGraph:
    def __init__(self, store: Store, exists: Callable[[ObjectType, str], bool]):
        self._store = store
        self._exists = exists
        self._edges: dict[str, dict[str, dict[str, list[int]]]] = {}
        for doc in store.all(ASSOCIATION_KIND):
            self._edges[doc["key"]] = doc["to"]

    def targets(
        self, from_type: ObjectType, from_id: str, to_type: ObjectType
    ) -> list[tuple[str, list[AssociationType]]]:
        """Associated ids (oldest first) with their association types."""
        found = self._edges.get(f"{from_type.name}:{from_id}", {}).get(to_type.name, {})
        return [
            (to_id, [_BY_ID[(from_type.name, to_type.name, t)] for t in type_ids]) for to_id, type_ids in found.items()
        ]

    def associate(
        self, from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str, kinds: Iterable[AssociationType]
    ) -> list[AssociationType]:
        """Add association types (a labeled one brings the unlabeled default along, as in HubSpot)."""
        self._check_exists(from_type, from_id, to_type, to_id)
        wanted = list(kinds)
        if any(k.label for k in wanted):
            wanted.append(default_type(from_type, to_type))
        with self._store.transaction():
            for kind in wanted:
                if kind.single:
                    for other_id, other_kinds in self.targets(from_type, from_id, to_type):
                        if other_id != to_id and kind in other_kinds:
                            self._remove_ids(from_type, from_id, to_type, other_id, {kind.type_id})
                            self._flush(from_type, from_id, to_type, other_id)
                self._add_id(from_type, from_id, to_type, to_id, kind.type_id)
                self._add_id(to_type, to_id, from_type, from_id, kind.reverse_id)
            self._flush(from_type, from_id, to_type, to_id)
        return dict(self.targets(from_type, from_id, to_type)).get(to_id, [])

    def remove(
        self, from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str, type_ids: set[int] | None = None
    ) -> None:
        """Remove some association types between two records, or all of them."""
        with self._store.transaction():
            if type_ids is None:
                current = self._edges.get(f"{from_type.name}:{from_id}", {}).get(to_type.name, {}).get(to_id, [])
                type_ids = set(current)
            self._remove_ids(from_type, from_id, to_type, to_id, type_ids)
            self._flush(from_type, from_id, to_type, to_id)

    def drop_record(self, object_type: ObjectType, object_id: str, resolve: Callable[[str], ObjectType]) -> None:
        """An archived record loses all its associations, on both sides."""
        with self._store.transaction():
            key = f"{object_type.name}:{object_id}"
            for to_name, targets in list(self._edges.get(key, {}).items()):
                to_type = resolve(to_name)
                for to_id in list(targets):
                    self.remove(object_type, object_id, to_type, to_id)

    def _check_exists(self, from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str) -> None:
        missing = [f"{t.singular} {i}" for t, i in ((from_type, from_id), (to_type, to_id)) if not self._exists(t, i)]
        if missing:
            raise validation_error(
                f"No object found for {' and '.join(missing)}.",
                sub_category="crm.associations.OBJECT_NOT_FOUND",
                context={"objectIds": [m.split()[-1] for m in missing]},
            )

    def _add_id(self, from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str, type_id: int) -> None:
        ids = (
            self._edges.setdefault(f"{from_type.name}:{from_id}", {}).setdefault(to_type.name, {}).setdefault(to_id, [])
        )
        if type_id not in ids:
            ids.append(type_id)

    def _remove_ids(
        self, from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str, type_ids: set[int]
    ) -> None:
        reverse = {
            _BY_ID[(from_type.name, to_type.name, t)].reverse_id
            for t in type_ids
            if (from_type.name, to_type.name, t) in _BY_ID
        }
        for a_type, a_id, b_type, b_id, ids in (
            (from_type, from_id, to_type, to_id, type_ids),
            (to_type, to_id, from_type, from_id, reverse),
        ):
            targets = self._edges.get(f"{a_type.name}:{a_id}", {}).get(b_type.name, {})
            if b_id in targets:
                targets[b_id] = [t for t in targets[b_id] if t not in ids]
                if not targets[b_id]:
                    del targets[b_id]

    def _flush(self, *pairs: Any) -> None:
        a_type, a_id, b_type, b_id = pairs
        for key in (f"{a_type.name}:{a_id}", f"{b_type.name}:{b_id}"):
            edges = {t: ids for t, ids in self._edges.get(key, {}).items() if ids}
            self._edges[key] = edges
            if edges:
                self._store.put(ASSOCIATION_KIND, key, {"key": key, "to": edges})
            else:
                self._store.delete(ASSOCIATION_KIND, key)

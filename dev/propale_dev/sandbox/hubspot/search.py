"""`POST /crm/v3/objects/{type}/search`: filters, free-text query, sorts, projection and paging,
with HubSpot's documented limits (filter groups and filters, `query` length, page size, results:
see limits.py).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from propale_dev.sandbox.hubspot.errors import HubSpotError, validation_error
from propale_dev.sandbox.hubspot.limits import (
    SEARCH_FILTER_GROUPS,
    SEARCH_FILTERS,
    SEARCH_FILTERS_PER_GROUP,
    SEARCH_PAGE_SIZE,
    SEARCH_QUERY_CHARACTERS,
    SEARCH_RESULTS,
)
from propale_dev.sandbox.hubspot.object_types import ObjectType
from propale_dev.sandbox.hubspot.properties import PropertyCatalog
from propale_dev.sandbox.hubspot.records import ObjectRecords
from propale_dev.sandbox.hubspot.shapes import project_properties
from propale_dev.sandbox.hubspot.values import parse_number, parse_timestamp_ms

MAX_GROUPS = SEARCH_FILTER_GROUPS.value
MAX_FILTERS_PER_GROUP = SEARCH_FILTERS_PER_GROUP.value
MAX_FILTERS = SEARCH_FILTERS.value
MAX_LIMIT = SEARCH_PAGE_SIZE.value
MAX_RESULTS = SEARCH_RESULTS.value
MAX_QUERY_CHARACTERS = SEARCH_QUERY_CHARACTERS.value
DEFAULT_LIMIT = 10
OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}  # fmt: skip
TOKEN_SPLIT = re.compile(r"[\s@.,;:!?/\\()\[\]{}\"'+_-]+")

Predicate = Callable[[dict[str, str]], bool]


def search(object_type: ObjectType, body: Any, records: ObjectRecords, catalog: PropertyCatalog) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    limit = _limit(body.get("limit"))
    offset = _offset(body.get("after"))
    if offset + limit > MAX_RESULTS:
        raise validation_error(
            f"The search would page past the {MAX_RESULTS:,} results a search can return "
            f"(after={offset}, limit={limit}). Narrow the filters instead.",
            sub_category="SEARCH_RESULT_WINDOW_EXCEEDED",
            context={"after": [str(offset)], "limit": [str(limit)]},
        )
    groups = _compile_groups(object_type, body.get("filterGroups") or [], catalog)
    query = _query_matcher(object_type, body.get("query"))
    matches = [
        view
        for view in records.searchable(object_type)
        if (not groups or any(all(f(view["properties"]) for f in group) for group in groups))
        and query(view["properties"])
    ]
    for key, descending in reversed(_sorts(object_type, body.get("sorts") or [], catalog)):
        present = [m for m in matches if key(m) is not None]
        absent = [m for m in matches if key(m) is None]
        present.sort(key=key, reverse=descending)  # type: ignore[arg-type,return-value]
        matches = present + absent
    page = matches[offset : offset + limit]
    requested = body.get("properties") or None
    response: dict[str, Any] = {
        "total": len(matches),
        "results": [
            {
                "id": view["id"],
                "properties": project_properties(object_type, view["properties"], requested, catalog),
                "createdAt": view["createdAt"],
                "updatedAt": view["updatedAt"],
                "archived": False,
            }
            for view in page
        ],
    }
    if offset + limit < len(matches):
        response["paging"] = {"next": {"after": str(offset + limit)}}
    return response


def _limit(raw: Any) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise validation_error(f"Invalid input JSON: limit must be an integer, not {raw!r}") from None
    if limit < 1 or limit > MAX_LIMIT:
        raise validation_error(
            f"limit must be between 1 and {MAX_LIMIT}, got {limit}.",
            errors=[{"message": f"must be less than or equal to {MAX_LIMIT}", "in": "limit", "code": "INVALID_LIMIT"}],
        )
    return limit


def _offset(raw: Any) -> int:
    if raw in (None, ""):
        return 0
    text = str(raw)
    if not text.isdigit():
        raise validation_error(f"Invalid after: {text!r} is not a paging cursor returned by this search.")
    return int(text)


def _compile_groups(object_type: ObjectType, raw: Any, catalog: PropertyCatalog) -> list[list[Predicate]]:
    if not isinstance(raw, list):
        raise validation_error("Invalid input JSON: filterGroups must be a list")
    total = sum(len(g.get("filters") or []) for g in raw if isinstance(g, dict))
    if (
        len(raw) > MAX_GROUPS
        or total > MAX_FILTERS
        or any(len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in raw if isinstance(g, dict))
    ):
        raise HubSpotError(
            400,
            f"Too many filters: use at most {MAX_GROUPS} filterGroups, {MAX_FILTERS_PER_GROUP} filters "
            f"per group and {MAX_FILTERS} filters in all (got {len(raw)} groups, {total} filters).",
            "VALIDATION_ERROR",
            sub_category="TOO_MANY_FILTERS",
        )
    return [[_compile_filter(object_type, f, catalog) for f in group.get("filters") or []] for group in raw]


def _compile_filter(object_type: ObjectType, raw: Any, catalog: PropertyCatalog) -> Predicate:
    if not isinstance(raw, dict) or not raw.get("propertyName") or not raw.get("operator"):
        raise validation_error("Each filter needs a propertyName and an operator.")
    name, operator = raw["propertyName"], raw["operator"]
    if operator not in OPERATORS:
        raise validation_error(
            f"Invalid operator {operator!r}; use one of {', '.join(sorted(OPERATORS))}.",
            context={"operator": [str(operator)]},
        )
    definition = catalog.active(object_type.name, name)
    if definition is None:
        raise validation_error(
            f"Property {name!r} does not exist on {object_type.name} and can't be used in a filter.",
            sub_category="PROPERTY_DOESNT_EXIST",
            context={"propertyName": [name]},
        )
    to_key = _comparable(definition["type"])

    def has(props: dict[str, str]) -> bool:
        return props.get(name) not in (None, "")

    if operator == "HAS_PROPERTY":
        return has
    if operator == "NOT_HAS_PROPERTY":
        return lambda props: not has(props)
    if operator in {"IN", "NOT_IN"}:
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise validation_error(f"{operator} needs a non-empty values list.")
        wanted = {to_key(str(v)) for v in values}
        if operator == "IN":
            return lambda props: has(props) and to_key(props[name]) in wanted
        return lambda props: not has(props) or to_key(props[name]) not in wanted
    if raw.get("value") is None:
        raise validation_error(f"The {operator} filter on {name} needs a value.")
    value = str(raw["value"])
    if operator in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
        matches = _token_matcher(value)
        if operator == "CONTAINS_TOKEN":
            return lambda props: has(props) and matches(props[name])
        return lambda props: not has(props) or not matches(props[name])
    target = to_key(value)
    if target is None:
        raise validation_error(f"{value!r} is not a valid value for {name} ({definition['type']}).")
    if operator == "EQ":
        return lambda props: has(props) and to_key(props[name]) == target
    if operator == "NEQ":
        return lambda props: not has(props) or to_key(props[name]) != target
    if operator == "BETWEEN":
        high = to_key(str(raw.get("highValue")))
        if raw.get("highValue") is None or high is None:
            raise validation_error(f"BETWEEN on {name} needs a highValue.")
        return lambda props: has(props) and _in_order(target, to_key(props[name]), high)
    compare = {
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
    }[operator]
    return lambda props: has(props) and _safe(compare, to_key(props[name]), target)


def _in_order(low: Any, value: Any, high: Any) -> bool:
    return value is not None and _safe(lambda a, b: a <= b, low, value) and _safe(lambda a, b: a <= b, value, high)


def _safe(compare: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    try:
        return a is not None and compare(a, b)
    except TypeError:
        return False


def _comparable(property_type: str) -> Callable[[str], Any]:
    """Numbers compare as numbers, dates as instants, everything else as case-insensitive text."""
    if property_type == "number":
        return lambda text: parse_number(text)
    if property_type in {"date", "datetime"}:
        return lambda text: parse_timestamp_ms(text)
    return lambda text: text.lower()


def _tokens(text: str) -> list[str]:
    return [t for t in TOKEN_SPLIT.split(text.lower()) if t]


def _token_matcher(value: str) -> Callable[[str], bool]:
    pattern = value.lower()
    if "*" in pattern:
        return lambda text: (
            fnmatch.fnmatchcase(text.lower(), pattern) or any(fnmatch.fnmatchcase(t, pattern) for t in _tokens(text))
        )
    wanted = _tokens(pattern)
    return lambda text: text.lower() == pattern or (bool(wanted) and all(w in _tokens(text) for w in wanted))


def _query_matcher(object_type: ObjectType, raw: Any) -> Callable[[dict[str, str]], bool]:
    """Free text: every word must start a word of one of the type's default searchable properties."""
    if raw and len(str(raw)) > MAX_QUERY_CHARACTERS:
        raise validation_error(
            f"The query is {len(str(raw))} characters long; a search query can contain at most "
            f"{MAX_QUERY_CHARACTERS:,} characters.",
            context={"query": [str(len(str(raw)))]},
        )
    words = _tokens(str(raw)) if raw else []
    if not words:
        return lambda props: True

    def matches(props: dict[str, str]) -> bool:
        haystack = [t for name in object_type.query_properties for t in _tokens(props.get(name) or "")]
        return all(any(t.startswith(w) for t in haystack) for w in words)

    return matches


def _sorts(object_type: ObjectType, raw: Any, catalog: PropertyCatalog) -> list[tuple[Callable[[dict], Any], bool]]:
    if not isinstance(raw, list):
        raise validation_error("Invalid input JSON: sorts must be a list")
    sorts = []
    for item in raw:
        if isinstance(item, str):
            name, descending = item.lstrip("-"), item.startswith("-")
        elif isinstance(item, dict) and item.get("propertyName"):
            direction = str(item.get("direction", "ASCENDING")).upper()
            if direction not in {"ASCENDING", "DESCENDING"}:
                raise validation_error(f"Invalid sort direction {direction!r}: use ASCENDING or DESCENDING.")
            name, descending = item["propertyName"], direction == "DESCENDING"
        else:
            raise validation_error("Each sort needs a propertyName and a direction.")
        definition = catalog.active(object_type.name, name)
        if definition is None:
            raise validation_error(f"Property {name!r} does not exist on {object_type.name} and can't be sorted on.")
        to_key = _comparable(definition["type"])
        sorts.append(
            (
                (
                    lambda view, n=name, k=to_key: (
                        k(view["properties"][n]) if view["properties"].get(n) not in (None, "") else None
                    )
                ),
                descending,
            )
        )
    if not sorts:
        sorts.append((lambda view: int(view["id"]), False))
    return sorts

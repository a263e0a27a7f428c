"""List objects and cursor pagination as Stripe has them (newest first, 1 ≤ limit ≤ 100)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from propale_dev.sandbox.stripe.errors import StripeError, resource_missing
from propale_dev.sandbox.stripe.forms import as_int

Item = dict[str, Any]


def created_filter(params: dict[str, Any], name: str = "created") -> Callable[[Item], bool]:
    """`created=ts` or `created[gt|gte|lt|lte]=ts`."""
    value = params.get(name)
    if value is None or value == "":
        return lambda item: True
    if not isinstance(value, dict):
        exact = as_int(params, name)
        return lambda item: item.get(name) == exact
    bounds = {}
    for op in value:
        if op not in ("gt", "gte", "lt", "lte"):
            raise StripeError(
                f"Received unknown parameter: {name}[{op}]", param=f"{name}[{op}]", code="parameter_unknown"
            )
        bounds[op] = as_int(value, op, param=f"{name}[{op}]")

    def keep(item: Item) -> bool:
        ts = item.get(name) or 0
        return (
            ("gt" not in bounds or ts > bounds["gt"])
            and ("gte" not in bounds or ts >= bounds["gte"])
            and ("lt" not in bounds or ts < bounds["lt"])
            and ("lte" not in bounds or ts <= bounds["lte"])
        )

    return keep


def limit_of(params: dict[str, Any]) -> int:
    limit = as_int(params, "limit", default=10)
    assert limit is not None
    if limit < 1 or limit > 100:
        raise StripeError(
            "Invalid limit: must be an integer between 1 and 100", param="limit", code="parameter_invalid_integer"
        )
    return limit


def paginate(
    newest_first: Iterable[Item], params: dict[str, Any], url: str, object_label: str = "object"
) -> dict[str, Any]:
    """One page of `newest_first` after `starting_after` or before `ending_before`."""
    items = list(newest_first)
    limit = limit_of(params)
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after and ending_before:
        raise StripeError("You may only specify one of these parameters: ending_before, starting_after.")
    ids = [item["id"] for item in items]
    if starting_after:
        if starting_after not in ids:
            raise resource_missing(object_label, starting_after, "starting_after")
        rest = items[ids.index(starting_after) + 1 :]
        page, has_more = rest[:limit], len(rest) > limit
    elif ending_before:
        if ending_before not in ids:
            raise resource_missing(object_label, ending_before, "ending_before")
        before = items[: ids.index(ending_before)]
        page, has_more = before[-limit:], len(before) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return list_object(page, url, has_more=has_more)


def list_object(
    data: list[Item], url: str, *, has_more: bool = False, total_count: int | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more, "url": url}
    if total_count is not None:
        result["total_count"] = total_count
    return result


def newest_first(items: list[Item]) -> list[Item]:
    """Store order is creation order; Stripe lists the most recent first."""
    return list(reversed(items))

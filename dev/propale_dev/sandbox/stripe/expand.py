"""`expand[]`: replace ids by the objects they name, up to Stripe's four levels."""

from __future__ import annotations

from typing import Any

from propale_dev.sandbox.stripe.core import Stripe
from propale_dev.sandbox.stripe.errors import StripeError

MAX_DEPTH = 4


def expand(stripe: Stripe, obj: Any, paths: list[str], includables: Any = None) -> Any:
    for path in paths:
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise StripeError(
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
                param="expand",
            )
        _expand(stripe, obj, parts, path, includables)
    return obj


def _expand(stripe: Stripe, node: Any, parts: list[str], path: str, includables: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(stripe, item, parts, path, includables)
        return
    if not isinstance(node, dict):
        return
    key, rest = parts[0], parts[1:]
    if includables and key not in node:
        included = includables(node, key)
        if included is not None:
            node[key] = included
    if key not in node:
        message = f"This property cannot be expanded ({path})."
        if node.get("object") == "list":
            message += f" You may want to try expanding 'data.{path}' instead."
        raise StripeError(message, param="expand")
    value = node[key]
    if isinstance(value, str):
        loaded = stripe.load_by_id(value, key)
        if loaded is None:
            raise StripeError(f"This property cannot be expanded ({path}).", param="expand")
        node[key] = loaded
        value = loaded
    if rest:
        _expand(stripe, value, rest, path, includables)

"""Stripe's form encoding: `a[b][0][c]=v` keys decoded into nested dicts and lists.

The official libraries index arrays (`expand[0]=x`); curl users write `expand[]=x`. Both decode to
lists. Values stay strings: each endpoint coerces what it reads, so errors name the right param.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from propale_dev.sandbox.stripe.errors import StripeError

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise StripeError(f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _assign(root, parts, value, key)
    return _listify(root)


def _assign(node: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    for part in parts[:-1]:
        if part == "":
            part = str(_next_index(node))
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise StripeError(f"Invalid parameter: {key} mixes a value and a hash", param=key)
        node = child
    last = parts[-1]
    if last == "":
        last = str(_next_index(node))
    node[last] = value


def _next_index(node: dict[str, Any]) -> int:
    numeric = [int(k) for k in node if k.isdigit()]
    return max(numeric) + 1 if numeric else 0


def _listify(node: Any) -> Any:
    """Dicts whose keys are all indexes become lists, ordered by index."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def as_list(value: Any) -> list[Any]:
    """A param that may arrive as a list or, from hand-written requests, as one value."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def as_int(params: dict[str, Any], name: str, *, param: str | None = None, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(f"Invalid integer: {value}", param=param or name, code="parameter_invalid_integer") from None


def as_bool(params: dict[str, Any], name: str, *, param: str | None = None, default: bool | None = None) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise StripeError(f"Invalid boolean: {value}", param=param or name, code="parameter_invalid_boolean")


def as_dict(params: dict[str, Any], name: str, *, param: str | None = None) -> dict[str, Any]:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError(
            f"Invalid object: {param or name} must be a hash", param=param or name, code="parameter_invalid_string"
        )
    return value


def check_length(value: Any, limit: int, param: str) -> None:
    """Stripe's maxLength on string params (its OpenAPI spec: e.g. 256 for a customer's name)."""
    if isinstance(value, str) and len(value) > limit:
        raise StripeError(
            f"Invalid string: {value[:40]}...; must be at most {limit} characters",
            param=param,
            code="parameter_invalid_string",
        )


def require(params: dict[str, Any], name: str, *, param: str | None = None) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise StripeError(f"Missing required param: {param or name}.", param=param or name, code="parameter_missing")
    return value


def metadata(params: dict[str, Any], existing: dict[str, str] | None = None) -> dict[str, str]:
    """Stripe's metadata update rules: keys merge, an empty value deletes, `metadata=` clears."""
    result = dict(existing or {})
    if "metadata" not in params:
        return result
    value = params["metadata"]
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError("Invalid hash", param="metadata", code="parameter_invalid_string")
    for key, item in value.items():
        if len(key) > 40:
            raise StripeError(
                f"Metadata keys can have up to 40 characters; {key!r} is too long.", param=f"metadata[{key}]"
            )
        if item == "":
            result.pop(key, None)
        else:
            if len(str(item)) > 500:
                raise StripeError("Metadata values can have up to 500 characters.", param=f"metadata[{key}]")
            result[key] = str(item)
    if len(result) > 50:
        raise StripeError("Metadata can have up to 50 keys.", param="metadata")
    return result

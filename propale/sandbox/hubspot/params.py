"""Reading requests the way HubSpot does: repeated or comma-separated list parameters, lenient
booleans, JSON bodies whose syntax errors are HubSpot 400s."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from propale.sandbox.hubspot.errors import validation_error

MAX_BATCH_INPUTS = 100
# Associations batch reads (v3 and v4) take up to 1,000 ids (HubSpot changelog, February 2025).
MAX_ASSOCIATIONS_READ_INPUTS = 1000


def query_list(request: Request, name: str) -> list[str] | None:
    values = [v for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]
    return [v.strip() for v in values] or None


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    return default if raw is None else raw.strip().lower() == "true"


def query_int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer, not {raw!r}") from None
    if value < 1:
        raise validation_error(f"{name} must be at least 1")
    return min(value, maximum) if maximum else value


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise validation_error("Invalid input JSON: the request body is empty")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise validation_error(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


async def batch_inputs(request: Request, limit: int = MAX_BATCH_INPUTS) -> tuple[dict[str, Any], list[Any]]:
    """A batch body and its `inputs`, refusing more than HubSpot's `limit` per call (100 for most)."""
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: a batch body needs an inputs list")
    inputs = body["inputs"]
    if len(inputs) > limit:
        raise validation_error(
            f"Too many inputs: {len(inputs)}. A batch accepts at most {limit} inputs.",
            context={"inputs": [str(len(inputs))]},
        )
    return body, inputs


def input_id(item: Any) -> str:
    if not isinstance(item, dict) or item.get("id") in (None, ""):
        raise validation_error("Invalid input JSON: every input needs an id")
    return str(item["id"])

"""Reading requests the way HubSpot does: repeated or comma-separated list parameters, lenient
booleans, JSON bodies whose syntax errors are HubSpot 400s."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from propale_dev.sandbox.hubspot import contract
from propale_dev.sandbox.hubspot.errors import validation_error
from propale_dev.sandbox.hubspot.limits import BATCH_INPUTS, Limit


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


async def json_body(request: Request, model: contract.RequestModel) -> Any:
    """The decoded body, refused as HubSpot does if it holds a key that `model` does not define.

    `model` is the class the official client sends for this call (see contract.py); `None` only
    where the client has no model for the route, said next to the call."""
    raw = await request.body()
    if not raw:
        raise validation_error("Invalid input JSON: the request body is empty")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise validation_error(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if model is not None:
        contract.validate(body, model, raw)
    return body


async def batch_inputs(
    request: Request, model: contract.RequestModel, limit: Limit = BATCH_INPUTS
) -> tuple[dict[str, Any], list[Any]]:
    """A batch body of `model` and its `inputs`, refusing more than HubSpot's `limit` per call."""
    body = await json_body(request, model)
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: a batch body needs an inputs list")
    inputs = body["inputs"]
    if len(inputs) > limit.value:
        raise validation_error(
            f"Too many inputs: {len(inputs)}. A batch accepts at most {limit.value} inputs.",
            context={"inputs": [str(len(inputs))]},
        )
    return body, inputs


def input_id(item: Any) -> str:
    if not isinstance(item, dict) or item.get("id") in (None, ""):
        raise validation_error("Invalid input JSON: every input needs an id")
    return str(item["id"])

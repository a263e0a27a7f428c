"""`/v1/events`: list (newest first, filters as Stripe's) and retrieve."""

from __future__ import annotations

import fnmatch
from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_list
from propale_dev.sandbox.stripe.lists import created_filter, paginate
from propale_dev.sandbox.stripe.routing import Call, Row

MAX_TYPES = 20


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    if params.get("type") and params.get("types"):
        raise StripeError("You may only specify one of these parameters: type, types.", param="type")
    types = [str(t) for t in as_list(params.get("types"))]
    if len(types) > MAX_TYPES:
        raise StripeError(f"You can pass at most {MAX_TYPES} event types.", param="types")
    pattern = params.get("type")
    keep_created = created_filter(params)

    def wanted(type_: str, created: int) -> bool:
        if pattern and not fnmatch.fnmatchcase(type_, pattern):
            return False
        if types and type_ not in types:
            return False
        return keep_created({"created": created})

    stubs = [{"id": id_} for id_, type_, created in reversed(call.stripe.event_index()) if wanted(type_, created)]
    page = paginate(stubs, params, "/v1/events", "event")
    page["data"] = [call.stripe.get("event", stub["id"]) for stub in page["data"]]
    return page


def retrieve(call: Call) -> dict[str, Any]:
    return call.stripe.get("event", call.path["id"])


def routes() -> list[Row]:
    return [
        ("GET", "/v1/events", list_, stripe_params.EventListParams),
        ("GET", "/v1/events/{id}", retrieve, stripe_params.EventRetrieveParams),
    ]

"""Turns plain handlers into Stripe API endpoints: auth, form decoding, idempotency, `expand[]`.

A handler receives a `Call` and returns the object to send (status 200). It raises `StripeError`
for Stripe's error responses. Handlers run under the store lock, one at a time, so a
read-modify-write never interleaves with another request or with the background worker.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.stripe import contract, idempotency
from propale_dev.sandbox.stripe.core import API_VERSION, Stripe
from propale_dev.sandbox.stripe.errors import StripeError, error_response, request_id, server_error
from propale_dev.sandbox.stripe.expand import expand
from propale_dev.sandbox.stripe.forms import as_list, decode


@dataclass
class Call:
    stripe: Stripe
    params: dict[str, Any]
    path: dict[str, str]
    method: str
    url_path: str


Handler = Callable[[Call], dict[str, Any]]
# What a route accepts: the `stripe.params` TypedDict the pinned library declares for the call
# (see contract.py), or, for the sandbox's own endpoints that Stripe does not have, their names.
Accepts = type | frozenset[str]
Row = tuple[str, str, Handler, Accepts]


def includable(stripe: Stripe) -> Callable[[dict[str, Any], str], Any]:
    """Fields Stripe leaves out unless expanded (`line_items` of a session, `payments` of an invoice,
    `tax_ids` of a customer)."""
    # Imported here because those modules import this one for `Call`.
    from propale_dev.sandbox.stripe import checkout, invoices, tax_ids

    def include(obj: dict[str, Any], key: str) -> Any:
        if obj.get("object") == "checkout.session" and key == "line_items":
            return checkout.line_items_list(stripe, obj["id"], {"limit": "100"})
        if obj.get("object") == "invoice" and key == "payments":
            return invoices.payments_list(stripe, obj["id"])
        if obj.get("object") == "customer" and key == "tax_ids":
            return tax_ids.listed(stripe, obj["id"], {"limit": "100"})
        return None

    return include


def _authenticate(stripe: Stripe, request: Request) -> None:
    header = request.headers.get("authorization", "")
    key = ""
    if header.lower().startswith("bearer "):
        key = header[7:].strip()
    elif header.lower().startswith("basic "):
        try:
            key = base64.b64decode(header[6:].strip()).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeError(
            "You did not provide an API key. You need to provide your API key in the Authorization "
            "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
            "https://stripe.com/docs/api#authentication for details, or we can help at "
            "https://support.stripe.com/.",
            status=401,
        )
    if key != stripe.config.stripe_secret_key:
        shown = key[:8] + "*" * 12 + key[-4:] if len(key) > 12 else "*" * len(key)
        raise StripeError(f"Invalid API Key provided: {shown}", status=401)


async def _params(request: Request) -> dict[str, Any]:
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method in ("POST",):
        body = (await request.body()).decode("utf-8", errors="replace")
        content_type = request.headers.get("content-type", "")
        if body and "json" in content_type:
            raise StripeError("Invalid request: the v1 API takes application/x-www-form-urlencoded bodies, not JSON.")
        pairs += parse_qsl(body, keep_blank_values=True)
    return decode(pairs)


def _check_params(params: dict[str, Any], accepts: Accepts) -> None:
    if isinstance(accepts, frozenset):
        contract.validate_names(params, accepts)
    else:
        contract.validate(params, accepts)


def endpoint(stripe: Stripe, handler: Handler, accepts: Accepts) -> Callable[[Request], Any]:
    include = includable(stripe)

    async def run(request: Request) -> Response:
        req_id = request_id()
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        headers = {"Request-Id": req_id, "Stripe-Version": request.headers.get("stripe-version", API_VERSION)}
        if key:
            headers["Idempotency-Key"] = key
        try:
            _authenticate(stripe, request)
            params = await _params(request)
            print_ = idempotency.fingerprint(request.method, request.url.path, params) if key else ""
            with stripe.lock:
                if key:
                    replay = idempotency.lookup(stripe.store, key, print_)
                    if replay is not None:
                        return JSONResponse(
                            replay.body,
                            status_code=replay.status,
                            headers={**headers, "Idempotent-Replayed": "true", "Original-Request": replay.request_id},
                        )
                status, body = _execute(stripe, request, handler, params, accepts, include, req_id, key)
                # Stripe keeps the outcome of a request that ran, declines included, but not a
                # request refused before it ran (bad parameters, unknown ids).
                if key and status in (200, 402):
                    idempotency.remember(stripe.store, key, print_, status, body, req_id)
            if request.method == "POST" and random.random() < stripe.faults["lost_response_rate"]:
                # The request ran but its answer never reaches the client, as when a connection
                # drops: only the idempotency key keeps the client's retry from doing it twice.
                return server_error(request)
        except StripeError as error:
            return error_response(error, headers)
        return JSONResponse(body, status_code=status, headers=headers)

    return run


def _execute(
    stripe: Stripe,
    request: Request,
    handler: Handler,
    params: dict[str, Any],
    accepts: Accepts,
    include: Callable[[dict[str, Any], str], Any],
    req_id: str,
    key: str | None,
) -> tuple[int, Any]:
    _check_params(params, accepts)
    call = Call(stripe, params, dict(request.path_params), request.method, request.url.path)
    stripe.request = {"id": req_id, "idempotency_key": key}
    try:
        result = handler(call)
        result = expand(
            stripe, json.loads(json.dumps(result)), [str(p) for p in as_list(params.get("expand"))], include
        )
        return 200, result
    except StripeError as error:
        if error.status == 402:
            return 402, error.body()
        raise
    finally:
        stripe.request = None


def api_routes(stripe: Stripe, table: list[Row]) -> list[Route]:
    """`(method, path, handler, params class or allowed names)` rows → Starlette routes.

    Rows sharing a path share a route so counting by path template stays per endpoint."""
    by_path: dict[str, dict[str, Callable[[Request], Any]]] = {}
    for method, path, handler, accepts in table:
        by_path.setdefault(path, {})[method] = endpoint(stripe, handler, accepts)
    routes = []
    for path, methods in by_path.items():

        async def dispatch(request: Request, methods: dict[str, Callable[[Request], Any]] = methods) -> Response:
            return await methods[request.method](request)

        routes.append(Route(path, dispatch, methods=list(methods)))
    return routes


async def unknown_url(request: Request) -> Response:
    return error_response(
        StripeError(
            f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
    )

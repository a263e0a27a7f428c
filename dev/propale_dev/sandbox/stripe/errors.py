"""Stripe's error bodies and statuses, so the official library raises the matching exception."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

DOCS = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An API error as Stripe renders it; 400 invalid_request_error unless told otherwise."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOCS + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def resource_missing(object_name: str, id_: str, param: str = "id") -> StripeError:
    return StripeError(f"No such {object_name}: '{id_}'", status=404, code="resource_missing", param=param)


def request_id() -> str:
    return "req_" + secrets.token_hex(7)


def error_response(error: StripeError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers={"Request-Id": request_id(), **(headers or {})})


def rate_limited(request: Request, retry_after: float) -> JSONResponse:
    # Stripe sends no Retry-After and no Stripe-Should-Retry here: clients must back off themselves.
    error = StripeError(
        "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
        status=429,
        code="rate_limit",
    )
    return error_response(error, {"Stripe-Rate-Limited-Reason": "global-rate"})


def server_error(request: Request) -> JSONResponse:
    error = StripeError("An unknown error occurred", status=500, type="api_error")
    return error_response(error)

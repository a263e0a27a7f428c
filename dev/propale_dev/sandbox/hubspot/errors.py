"""HubSpot's error bodies: `status`, `message`, `correlationId`, `category` and, where HubSpot has
them, `subCategory`, `errors` and `context`. The fault responders (429, 5xx, 401) live here too."""

from __future__ import annotations

import json
import math
import random
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from propale_dev.sandbox.hubspot.limits import DAILY_REQUESTS, TEN_SECOND_REQUESTS

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
# What a private app on a Professional account gets; reported in the rate-limit headers.
TEN_SECONDLY_MAX = TEN_SECOND_REQUESTS.value
DAILY_MAX = DAILY_REQUESTS.value


def correlation_id() -> str:
    return str(uuid.uuid4())


class HubSpotError(Exception):
    """Raised anywhere in a handler; the app turns it into HubSpot's JSON error response."""

    def __init__(
        self,
        status_code: int,
        message: str,
        category: str,
        *,
        sub_category: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
    ):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.category = category
        self.sub_category = sub_category
        self.errors = errors
        self.context = context

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.errors:
            body["errors"] = self.errors
        if self.context:
            body["context"] = self.context
        return body

    def response(self) -> Response:
        return JSONResponse(self.body(), status_code=self.status_code)


def validation_error(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR", **extra)


def not_found(message: str = "resource not found", **extra: Any) -> HubSpotError:
    return HubSpotError(404, message, "OBJECT_NOT_FOUND", **extra)


def property_values_error(problems: list[dict[str, Any]]) -> HubSpotError:
    """HubSpot's 400 for bad property values: the problems as JSON inside `message`, and as `errors`."""
    detailed = [
        {
            "isValid": False,
            "message": p["message"],
            "error": p["error"],
            "name": p["name"],
            "localizedErrorMessage": p["message"],
        }
        for p in problems
    ]
    return validation_error(
        "Property values were not valid: " + json.dumps(detailed, ensure_ascii=False),
        errors=[
            {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}} for p in problems
        ],
    )


def batch_error(category: str, message: str, context: dict[str, list[str]], **extra: Any) -> dict[str, Any]:
    """One entry of a 207 response's `errors` (StandardError: every key the client requires)."""
    entry: dict[str, Any] = {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }
    entry.update(extra)
    return entry


def unauthorized() -> Response:
    return JSONResponse(
        {
            "status": "error",
            "message": AUTH_MESSAGE,
            "correlationId": correlation_id(),
            "category": "INVALID_AUTHENTICATION",
        },
        status_code=401,
    )


def _retry_after_seconds(retry_after: float) -> str:
    # urllib3's Retry reads Retry-After as whole seconds only.
    return str(max(1, math.ceil(retry_after)))


def rate_limited(request: Request, retry_after: float, max_requests: float, window_s: float) -> Response:
    """The TEN_SECONDLY_ROLLING 429 every private app meets when it sends too much too fast."""
    return JSONResponse(
        {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": "publicapi:private-app:sandbox",
        },
        status_code=429,
        headers={
            "X-HubSpot-RateLimit-Max": str(int(max_requests) or TEN_SECONDLY_MAX),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window_s * 1000)),
            "X-HubSpot-RateLimit-Daily": str(DAILY_MAX),
            "X-HubSpot-RateLimit-Daily-Remaining": str(DAILY_MAX - 1),
            "Retry-After": _retry_after_seconds(retry_after),
        },
    )


def search_rate_limited(retry_after: float) -> Response:
    """Search endpoints have their own per-account limit, reported as the SECONDLY policy."""
    return JSONResponse(
        {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": "SECONDLY",
            "groupName": "publicapi:private-app:search",
        },
        status_code=429,
        headers={"Retry-After": _retry_after_seconds(retry_after)},
    )


def server_error(request: Request) -> Response:
    status = random.choice([502, 503])
    message = "Bad Gateway" if status == 502 else "Service Unavailable"
    return JSONResponse(
        {
            "status": "error",
            "message": message,
            "correlationId": correlation_id(),
            "category": "INTERNAL_ERROR" if status == 502 else "SERVICE_UNAVAILABLE",
        },
        status_code=status,
    )

"""What every stand-in shares: request counting, fault injection and the `/_sandbox` admin API.

Each stand-in (HubSpot, Stripe, mailbox, Slack) is a Starlette app wrapped by `SandboxService`,
which counts requests per endpoint (the route's path template, e.g.
`GET /crm/v3/objects/deals/{object_id}`) and injects the faults set for it: latency, rate limiting
with the real service's 429 body, and a rate of 5xx. Scripts read and change these over HTTP:

    GET    /_sandbox/health
    GET    /_sandbox/stats       counts per endpoint and status
    DELETE /_sandbox/stats       start counting afresh
    GET    /_sandbox/faults      the fault settings in force
    PATCH  /_sandbox/faults      change some of them (JSON object); unknown names are a 400
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

ADMIN_PREFIX = "/_sandbox"

# Faults every stand-in understands; a service adds its own (search lag, SEPA delay…).
COMMON_FAULTS: dict[str, float] = {
    "latency_ms": 0,  # added to every API request
    "error_rate": 0.0,  # fraction of API requests answered with a 5xx before they touch state
    "rate_limit": 0,  # API requests allowed per rate_window_s; 0 = unlimited
    "rate_window_s": 10.0,
}


class Faults:
    """Named numeric fault settings, validated so a typo fails loudly instead of doing nothing."""

    def __init__(self, defaults: Mapping[str, float]):
        self._defaults = dict(defaults)
        self._values = dict(defaults)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)

    def update(self, changes: Mapping[str, Any]) -> None:
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise ValueError(f"unknown fault setting(s) {', '.join(unknown)}; known: {', '.join(sorted(self._values))}")
        parsed = {}
        for name, value in changes.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"fault setting {name} must be a number, not {value!r}") from None
            if number < 0:
                raise ValueError(f"fault setting {name} must not be negative")
            parsed[name] = number
        self._values.update(parsed)

    def reset(self) -> None:
        self._values = dict(self._defaults)


class RateLimiter:
    """Sliding-window limiter: at most `limit` events per `window_s` seconds for each key."""

    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._settings: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, limit: float, window_s: float) -> float | None:
        """Record one event; None if allowed, else the seconds until a slot frees up.

        A new limit or window starts an empty window: requests made under earlier settings (another
        test's, or while the limit was off) do not count against the new one."""
        if limit <= 0:
            self._settings.pop(key, None)  # switched off: switching it on again starts afresh
            return None
        now = time.monotonic()
        with self._lock:
            if self._settings.get(key) != (limit, window_s):
                self._settings[key] = (limit, window_s)
                self._events[key].clear()
            events = self._events[key]
            while events and events[0] <= now - window_s:
                events.popleft()
            if len(events) >= limit:
                return max(0.0, events[0] + window_s - now)
            events.append(now)
            return None


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, int]] = Counter()
        self._faults: Counter[str] = Counter()

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._counts[(endpoint, status)] += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            endpoints: dict[str, dict[str, Any]] = {}
            for (endpoint, status), count in sorted(self._counts.items()):
                entry = endpoints.setdefault(endpoint, {"count": 0, "statuses": {}})
                entry["count"] += count
                entry["statuses"][str(status)] = count
            return {
                "total": sum(self._counts.values()),
                "endpoints": endpoints,
                "injected_faults": dict(self._faults),
            }

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._faults.clear()


ErrorResponder = Callable[[Request], Response]
RateLimitResponder = Callable[[Request, float], Response]


class SandboxService:
    """Wraps a stand-in's Starlette app with counting, faults and the admin API.

    `is_api(path)` tells which requests count as API calls subject to faults (hosted pages and
    mailbox pages are not); `rate_limited` and `server_error` build the real service's bodies.
    """

    def __init__(
        self,
        name: str,
        app: ASGIApp,
        *,
        faults: Faults,
        rate_limited: RateLimitResponder,
        server_error: ErrorResponder,
        is_api: Callable[[str], bool] = lambda path: True,
    ):
        self.name = name
        self.app = app
        self.faults = faults
        self.stats = RequestStats()
        self.limiter = RateLimiter()
        self._rate_limited = rate_limited
        self._server_error = server_error
        self._is_api = is_api
        self._admin = _admin_app(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(ADMIN_PREFIX + "/"):
            await self._admin(scope, receive, send)
            return
        if not self._is_api(path):
            await self.app(scope, receive, send)
            return
        await self._call_api(scope, receive, send)

    async def _call_api(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self.faults["latency_ms"]:
            await asyncio.sleep(self.faults["latency_ms"] / 1000)
        retry_after = self.limiter.retry_after("global", self.faults["rate_limit"], self.faults["rate_window_s"])
        injected: Response | None = None
        if retry_after is not None:
            self.stats.record_fault("rate_limited")
            injected = self._rate_limited(request, retry_after)
        elif self.faults["error_rate"] and random.random() < self.faults["error_rate"]:
            self.stats.record_fault("server_error")
            injected = self._server_error(request)
        if injected is not None:
            self.stats.record(f"{scope['method']} {scope['path']}", injected.status_code)
            await injected(scope, receive, send)
            return

        status = 500

        async def counting_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or scope["path"]
            self.stats.record(f"{scope['method']} {template}", status)


def _admin_app(service: SandboxService) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse({"service": service.name, "status": "ok"})

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            service.stats.reset()
        return JSONResponse(service.stats.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "PATCH":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("send a JSON object of fault settings")
                service.faults.update(body)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            service.faults.reset()
        return JSONResponse(service.faults.as_dict())

    return Starlette(
        routes=[
            Route(f"{ADMIN_PREFIX}/health", health),
            Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET", "DELETE"]),
            Route(f"{ADMIN_PREFIX}/faults", faults, methods=["GET", "PATCH", "DELETE"]),
        ]
    )

"""The customer page's ASGI app: `create_app()`; `propale.web.app` is the one `uvicorn` and the
Airflow plugin serve.

Tuning of the web process itself (not Propale settings, which are Airflow Variables) comes from
environment variables, read when the app is created:
- `PROPALE_WEB_RATE_LIMIT`: POSTs allowed per client address, `REQUESTS/SECONDS` (default 10/60),
  counted in each process and in the ledger, so that the limit holds across processes.
- `PROPALE_WEB_TRUSTED_PROXIES`: the addresses or networks of the proxies whose `X-Forwarded-For`
  gives the client's address, comma-separated (default: none, the peer's address counts). Never
  every address: a client could then choose the address rate-limited and recorded.
- `PROPALE_WEB_CSRF_MAX_AGE`: seconds an accept form stays valid after the page is shown (default 3600).
"""

from __future__ import annotations

import logging
import os
from functools import partial

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propale.web.logs import mask
from propale.web.pages import notice
from propale.web.routes import router
from propale.web.security import (
    ProxyHeadersMiddleware,
    RateLimit,
    RateLimiter,
    SecurityHeadersMiddleware,
    SharedRateLimiter,
    TrustedProxies,
    ledger_counter,
    redis_counter,
)
from propale.web.services import LazyServices, Loader, ServicesUnavailable, from_airflow

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT = "10/60"
DEFAULT_TRUSTED_PROXIES = ""
DEFAULT_CSRF_MAX_AGE_S = 3600
# The accept form is two short fields; Starlette would read any urlencoded body whole into memory.
MAX_FORM_BYTES = 4096


class GuardMiddleware:
    """Rate-limits POSTs before reading them, refuses bodies larger than a form needs (413), and
    turns any unexpected failure into the polite error page (inside the security headers, unlike
    Starlette's own 500 handler)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, shared_limiter: SharedRateLimiter):
        self.app = app
        self.limiter = limiter
        self.shared_limiter = shared_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST":
            client = (scope.get("client") or ("unknown", 0))[0]
            try:
                # The process's own count first: a flood is turned away without a database write.
                wait = self.limiter.retry_after(client)
                if wait is None:
                    wait = await run_in_threadpool(self.shared_limiter.retry_after, client)
            except Exception as error:
                if not isinstance(error, ServicesUnavailable):
                    log.exception("Could not count a request on %s", mask(scope["path"]))
                await notice(Request(scope), "error")(scope, receive, send)
                return
            if wait is not None:
                log.warning("Rate limit reached by a client on %s", mask(scope["path"]))
                response = notice(Request(scope), "too_many")
                response.headers["Retry-After"] = str(wait)
                await response(scope, receive, send)
                return
            body = await _read_bounded(scope, receive)
            if body is None:
                response = notice(Request(scope), "bad_request")
                response.status_code = 413
                await response(scope, receive, send)
                return
            receive = _replay(body, receive)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise
            if not isinstance(error, ServicesUnavailable):  # already logged, with its reason
                log.exception("Unexpected error on %s %s", scope["method"], mask(scope["path"]))
            await notice(Request(scope), "error")(scope, receive, send)


async def _read_bounded(scope: Scope, receive: Receive) -> bytes | None:
    """The whole request body, or None past MAX_FORM_BYTES (whether announced by Content-Length
    or not: chunked bodies are counted as they come)."""
    length = dict(scope["headers"]).get(b"content-length", b"")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        return None
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get("more_body", False):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that hands the app the body already read, then waits for the client as usual."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def create_app(
    load: Loader | None = None,
    *,
    rate_limit: RateLimit | None = None,
    csrf_max_age_s: int | None = None,
    trusted_proxies: TrustedProxies | None = None,
) -> FastAPI:
    """The app; `load` builds its services on first use (default: from Airflow's configuration)."""
    if csrf_max_age_s is None:
        csrf_max_age_s = int(os.environ.get("PROPALE_WEB_CSRF_MAX_AGE", DEFAULT_CSRF_MAX_AGE_S))
    if rate_limit is None:
        rate_limit = RateLimit.parse(os.environ.get("PROPALE_WEB_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    if trusted_proxies is None:
        trusted_proxies = TrustedProxies.parse(os.environ.get("PROPALE_WEB_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES))
    services = LazyServices(load or partial(from_airflow, csrf_max_age_s))

    # Customer-facing: no interactive docs, no schema.
    app = FastAPI(title="Propale", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = services
    app.include_router(router)

    async def not_found(request: Request, exc: Exception) -> Response:
        # Whatever the reason (unknown token, forged token, wrong path or method): the same page.
        return notice(request, "not_found")

    async def bad_request(request: Request, exc: Exception) -> Response:
        return notice(request, "bad_request")

    app.add_exception_handler(HTTPException, not_found)
    app.add_exception_handler(RequestValidationError, bad_request)

    def form_targets() -> tuple[str, ...]:
        loaded = services.loaded
        return loaded.checkout_origins if loaded else ()

    def https_only() -> bool:
        loaded = services.loaded
        return bool(loaded and loaded.settings.public_url.startswith("https://"))

    # The last added is the outermost: headers go on everything, including the guard's pages, and
    # the guard counts the client's address as the trusted proxies give it.
    redis_url = os.environ.get("PROPALE_WEB_RATE_LIMIT_REDIS_URL", "").strip()
    counter = redis_counter(redis_url) if redis_url else ledger_counter(lambda: services.get().ledger)
    shared_limiter = SharedRateLimiter(rate_limit, counter)
    app.add_middleware(GuardMiddleware, limiter=RateLimiter(rate_limit), shared_limiter=shared_limiter)
    app.add_middleware(SecurityHeadersMiddleware, form_targets=form_targets, https_only=https_only)
    app.add_middleware(ProxyHeadersMiddleware, trusted=trusted_proxies)
    return app

"""Assembles the Stripe stand-in: API routes, hosted pages, background worker, faults."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.service import COMMON_FAULTS, Faults, SandboxService
from propale_dev.sandbox.store import Store
from propale_dev.sandbox.stripe import (
    catalog,
    checkout,
    completion,
    customers,
    events,
    invoice_api,
    pages,
    payment_method_configurations,
    payment_methods,
    payments,
    subscriptions,
    tax_ids,
    test_clocks,
    worker,
)
from propale_dev.sandbox.stripe.core import Stripe
from propale_dev.sandbox.stripe.errors import rate_limited, server_error
from propale_dev.sandbox.stripe.routing import api_routes, unknown_url

# Stripe's own test-mode limit is 25 requests/s; the sandbox leaves it off unless asked
# (PATCH /_sandbox/faults {"rate_limit": 25, "rate_window_s": 1}).
STRIPE_FAULTS = {
    **COMMON_FAULTS,
    "sepa_delay_s": 3.0,  # until a SEPA debit with a regular test IBAN succeeds or fails
    "sepa_slow_delay_s": 180.0,  # the IBANs Stripe documents as settling "after three minutes"
    "clock_advance_s": 0.3,  # how long a test clock stays `advancing`
    "lost_response_rate": 0.0,  # POSTs that run but answer 500, as if the connection dropped
}


def is_api(path: str) -> bool:
    """Hosted pages (Checkout, invoices, receipts) are neither faulted nor rate limited."""
    return path.startswith("/v1/")


def create_app(store: Store, config: SandboxConfig, faults: Faults) -> Starlette:
    stripe = Stripe(store, config, faults)
    table = [
        *customers.routes(),
        *tax_ids.routes(),
        *catalog.routes(),
        *checkout.routes(),
        *completion.routes(),
        *subscriptions.routes(),
        *invoice_api.routes(),
        *payment_methods.routes(),
        *payment_method_configurations.routes(),
        *payments.routes(),
        *events.routes(),
        *test_clocks.routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(worker.run_forever(stripe))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        *api_routes(stripe, table),
        *pages.routes(stripe),
        Route("/v1/{rest:path}", unknown_url, methods=["GET", "POST", "DELETE"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def create_service(store: Store, config: SandboxConfig) -> SandboxService:
    faults = Faults(STRIPE_FAULTS)
    return SandboxService(
        "stripe",
        create_app(store, config, faults),
        faults=faults,
        rate_limited=rate_limited,
        server_error=server_error,
        is_api=is_api,
    )

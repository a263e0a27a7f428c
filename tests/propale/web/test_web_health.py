"""The customer page's health check (`/healthz`), used by the container's health check and proxies."""

from __future__ import annotations

import asyncio

import httpx

from propale.web import create_app


def _get(app, path: str) -> httpx.Response:
    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://page.test") as client:
            return await client.get(path)

    return asyncio.run(get())


def test_healthz_answers_without_settings_ledger_or_stripe():
    loads = []

    def unconfigured():
        loads.append(1)
        raise LookupError("propale_public_url is not set")

    app = create_app(unconfigured)
    response = _get(app, "/healthz")
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["cache-control"] == "no-store", "a proxy never answers it from a cache"
    assert loads == [], "settings, ledger and Stripe are left alone"
    # The pages do need them: unconfigured, they answer the polite 503.
    assert _get(app, "/p/abc").status_code == 503 and loads == [1]

"""The customer page under load: served by uvicorn as `propale demo` serves it
(`propale_dev.demo:customer_page`, the same environment), over the ledger of the send run, and loaded
by concurrent httpx clients for a fixed time. Only GETs: the page's rate limit
(`PROPALE_WEB_RATE_LIMIT`) applies to POSTs alone."""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from dataclasses import dataclass, field

import httpx

from bench.report import Figure, milliseconds, percentile, progress
from bench.world import BenchWorld
from propale_dev.local import Children, wait_until


@dataclass
class LoadResult:
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)  # of the 200s
    errors: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_s) + self.errors


async def _load(urls: list[str], clients: int, duration_s: float) -> LoadResult:
    result = LoadResult(duration_s)
    next_url = itertools.cycle(urls).__next__
    deadline = time.monotonic() + duration_s

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.get(next_url())
                    await response.aread()
                except httpx.HTTPError:
                    result.errors += 1
                    continue
                if response.status_code == 200:
                    result.latencies_s.append(time.perf_counter() - started)
                else:
                    result.errors += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.duration_s = time.monotonic() - started
    return result


def _figures(what: str, result: LoadResult, clients: int) -> list[Figure]:
    if not result.latencies_s:
        return [Figure(f"Customer page {what}", "no answer", note=f"{result.errors} errors")]
    ok = result.latencies_s
    return [
        Figure(
            f"Customer page {what}, p50 / p95 ({clients} clients)",
            f"{milliseconds(percentile(ok, 0.5))} / {milliseconds(percentile(ok, 0.95))}",
            note=f"{result.requests:,} requests in {result.duration_s:.0f} s, {result.errors} errors",
        ),
        Figure(
            f"Customer page {what}, requests/s ({clients} clients)",
            f"{len(ok) / result.duration_s:.0f}/s",
            note="one uvicorn worker; the load runs on the same machine",
        ),
    ]


def customer_page(world: BenchWorld, clients: int = 50, duration_s: float = 20) -> list[Figure]:
    urls = world.proposal_urls(limit=200)
    if not urls:
        raise RuntimeError("the send run wrote no proposal link on its deals")
    children = Children()
    try:
        children.start(
            "the customer page (uvicorn)",
            [
                sys.executable, "-m", "uvicorn", "propale_dev.demo:customer_page", "--factory",
                "--host", world.config.host, "--port", str(world.page_port),
            ],
            world.env,
            world.workspace.log("customer-page"),
        )  # fmt: skip
        wait_until(lambda: _answers(f"{world.public_url}/healthz"), 60, "the customer page did not answer", children)
        for url in urls[:3]:  # warm up: settings, ledger connection, templates
            httpx.get(url, timeout=30).raise_for_status()
        progress(
            f"Customer page: GET /p/{{token}} by {clients} clients for {duration_s:.0f} s over {len(urls)} proposals"
        )
        page = asyncio.run(_load(urls, clients, duration_s))
        progress(f"Customer page: GET /p/{{token}}/pdf by {clients} clients for {duration_s / 2:.0f} s")
        pdf = asyncio.run(_load([f"{url}/pdf" for url in urls], clients, duration_s / 2))
    finally:
        children.stop()
    return _figures("GET /p/{token}", page, clients) + _figures("GET /p/{token}/pdf", pdf, clients)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

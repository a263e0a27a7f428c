"""Runs every stand-in in one process: HubSpot, Stripe, the mailbox (page and SMTP) and Slack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator, Mapping

import uvicorn

from propale_dev.sandbox import hubspot, mailbox, slack
from propale_dev.sandbox import stripe as stripe_standin
from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.service import SandboxService
from propale_dev.sandbox.store import Store

log = logging.getLogger(__name__)


def seed_demo(store: Store, generated_deals: int = 0) -> None:
    """« La Fabrique Commune »: its HubSpot account (with `generated_deals` more customers and
    deals), and its name on Stripe's invoices."""
    hubspot.seed_demo(store, generated_deals)
    stripe_standin.seed_demo(store)


SEEDS: dict[str, Callable[[Store, int], None]] = {"demo": seed_demo}


def build_services(store: Store, config: SandboxConfig) -> dict[str, tuple[SandboxService, int]]:
    """Each stand-in's ASGI app with the port it listens on, by name."""
    return {
        "hubspot": (hubspot.create_service(store, config), config.hubspot_port),
        "stripe": (stripe_standin.create_service(store, config), config.stripe_port),
        "mailbox": (mailbox.create_service(store, config), config.mailbox_port),
        "slack": (slack.create_service(store, config), config.slack_port),
    }


def apply_faults(services: Mapping[str, tuple[SandboxService, int]], settings: Mapping[str, float]) -> None:
    """Apply `{"hubspot.latency_ms": 100, ...}`-style settings; a bad name raises ValueError."""
    for qualified, value in settings.items():
        name, _, setting = qualified.partition(".")
        if name not in services or not setting:
            raise ValueError(f"fault {qualified!r}: write SERVICE.SETTING with SERVICE one of {', '.join(services)}")
        services[name][0].faults.update({setting: value})


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve_forever`, which runs several."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_forever(
    store: Store,
    config: SandboxConfig,
    faults: Mapping[str, float] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    services = build_services(store, config)
    apply_faults(services, faults or {})
    servers = [
        _Server(
            uvicorn.Config(
                service,
                host=config.host,
                port=port,
                log_level="warning",
                lifespan="on",
                access_log=False,
            )
        )
        for service, port in services.values()
    ]
    smtp = mailbox.start_smtp_server(store, config, services["mailbox"][0].faults)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        tasks = [asyncio.create_task(server.serve()) for server in servers]
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                stop()
                break
            await asyncio.sleep(0.05)
        else:
            if on_ready:
                on_ready()
        # A port already taken makes uvicorn log the address and exit the process.
        await asyncio.gather(*tasks)
    finally:
        smtp.stop()

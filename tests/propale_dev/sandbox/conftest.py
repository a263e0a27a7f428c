"""Fixtures of the stand-ins' contract tests: the Stripe stand-in's fault settings and a catalogue."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import stripe

from propale_dev.sandbox.config import SandboxConfig
from support.stripe_sandbox import Catalog


@pytest.fixture
def stripe_faults(sandbox_config: SandboxConfig) -> Callable[..., dict[str, float]]:
    """Change the Stripe stand-in's fault settings for one test (the `sandbox_config` fixture resets them)."""

    def set_faults(**settings: float) -> dict[str, float]:
        response = httpx.patch(f"{sandbox_config.stripe_url}/_sandbox/faults", json=settings)
        response.raise_for_status()
        return response.json()

    return set_faults


@pytest.fixture
def fast_sepa(stripe_faults: Callable[..., dict[str, float]]) -> float:
    delay = 0.3
    stripe_faults(sepa_delay_s=delay)
    return delay


@pytest.fixture
def catalog(client: stripe.StripeClient) -> Catalog:
    return Catalog(client)

"""The `propale sandbox` command itself: admin API, faults from the command line, restarts."""

from __future__ import annotations

import httpx
import pytest


def test_every_standin_answers_its_admin_api(sandbox):
    for service, url in sandbox.urls.items():
        assert httpx.get(f"{url}/_sandbox/health").json() == {"service": service, "status": "ok"}


def test_faults_set_at_start_are_in_force_and_unknown_ones_are_refused(start_sandbox, sandbox):
    process = start_sandbox(reset=True, faults={"stripe.latency_ms": 250, "hubspot.error_rate": 0.5})
    with process.admin("stripe") as stripe_admin, process.admin("hubspot") as hubspot_admin:
        assert stripe_admin.faults()["latency_ms"] == 250
        assert hubspot_admin.faults()["error_rate"] == 0.5
        with pytest.raises(RuntimeError, match="unknown fault setting"):
            hubspot_admin.set_faults(latency=3)
        with pytest.raises(RuntimeError, match="must not be negative"):
            hubspot_admin.set_faults(latency_ms=-1)

"""The stand-in's background work: SEPA settlements, test clock advances, Checkout expiry, and
subscriptions reaching their `cancel_at`.

Jobs are stored (so a restart resumes them) and run on the event loop under the store lock,
never concurrently with a request.
"""

from __future__ import annotations

import asyncio
import logging

from propale_dev.sandbox.stripe import checkout, completion, idempotency, subscriptions, test_clocks
from propale_dev.sandbox.stripe.core import Stripe, internal

JOBS = internal("job")
TICK_S = 0.1
EXPIRY_SWEEP_S = 1.0
log = logging.getLogger(__name__)


def run_due(stripe: Stripe, *, sweep_expiry: bool = True) -> None:
    with stripe.lock:
        now = stripe.wall_time_precise()
        jobs = [(job_id, stripe.store.get(JOBS, job_id)) for job_id in stripe.store.iter_ids(JOBS)]
        for job_id, job in sorted(jobs, key=lambda pair: pair[1]["due"] if pair[1] else 0):
            if job is None or job["due"] > now:
                continue
            stripe.store.delete(JOBS, job_id)
            try:
                if job["type"] == "sepa_settlement":
                    completion.settle(stripe, job)
                elif job["type"] == "clock_advance":
                    test_clocks.run_advance(stripe, job["clock"], job["target"])
            except Exception:  # one broken job must not stop the others
                log.exception("Stripe sandbox job %s failed", job_id)
        if sweep_expiry:
            checkout.expire_due(stripe)
            subscriptions.end_due(stripe)


async def run_forever(stripe: Stripe) -> None:
    with stripe.lock:
        idempotency.purge_expired(stripe.store)
    last_sweep = 0.0
    while True:
        now = asyncio.get_running_loop().time()
        sweep = now - last_sweep >= EXPIRY_SWEEP_S
        if sweep:
            last_sweep = now
        try:
            run_due(stripe, sweep_expiry=sweep)
        except Exception:
            log.exception("Stripe sandbox worker tick failed")
        await asyncio.sleep(TICK_S)

"""Figures of the measured `propale_send_proposals` run (see `BenchWorld.send_run`): HubSpot calls
per deal, its time against HubSpot's rate limit, and proposals rendered and sent per minute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.report import Figure, seconds, table
from bench.world import BenchWorld, SendRun

CALLS_PER_DEAL_GOAL = 0.1
# HubSpot's Files API uploads one file per request; no batch upload exists.
FILE_UPLOAD = "POST /files/v3/files"
RATE_LIMITED = "429"


def calls_by_endpoint(stats: dict[str, Any]) -> dict[str, int]:
    """Answered calls per endpoint template; the 429s of the rate limit are counted apart."""
    counts = {}
    for endpoint, entry in stats["endpoints"].items():
        answered = sum(n for status, n in entry["statuses"].items() if status != RATE_LIMITED)
        if answered:
            counts[endpoint] = answered
    return counts


def rate_limited_answers(stats: dict[str, Any]) -> int:
    return sum(entry["statuses"].get(RATE_LIMITED, 0) for entry in stats["endpoints"].values())


def hubspot_calls(world: BenchWorld) -> list[Figure]:
    run = world.send_run()
    calls = calls_by_endpoint(run.hubspot_stats)
    total = sum(calls.values())
    uploads = calls.get(FILE_UPLOAD, 0)
    per_deal = total / run.deals
    without_uploads = (total - uploads) / run.deals
    bound_s = total / world.limit.per_second
    goal = f"≤ {CALLS_PER_DEAL_GOAL:g}"
    deals = f"{run.deals:,} deals"
    return [
        Figure(
            f"HubSpot calls per deal ({deals})",
            f"{per_deal:.3f}",
            goal,
            f"{total:,} calls, of which {uploads:,} PDF uploads (Files API: one file per call)",
            missed=per_deal > CALLS_PER_DEAL_GOAL,
        ),
        Figure(
            f"HubSpot calls per deal without the PDF uploads ({deals})",
            f"{without_uploads:.3f}",
            goal,
            f"{total - uploads:,} calls, all batched (by endpoint below)",
            missed=without_uploads > CALLS_PER_DEAL_GOAL,
        ),
        Figure(
            f"Send run time, {deals} (airflow dags test)",
            seconds(run.wall_s),
            f"≥ {seconds(bound_s)} (rate-limit bound)",
            f"bound: {total:,} calls at HubSpot's {world.limit.describe()}; "
            f"{rate_limited_answers(run.hubspot_stats):,} answers 429, retried",
        ),
    ]


def endpoint_table(world: BenchWorld) -> str:
    """HubSpot calls of the send run by endpoint template, largest first."""
    run = world.send_run()
    calls = calls_by_endpoint(run.hubspot_stats)
    rows = [
        (endpoint, f"{n:,}", f"{n / run.deals:.3f}") for endpoint, n in sorted(calls.items(), key=lambda kv: -kv[1])
    ]
    rows.append(("total", f"{sum(calls.values()):,}", f"{sum(calls.values()) / run.deals:.3f}"))
    return table(rows, ("HubSpot endpoint (send run)", "calls", "per deal"))


def throughput(world: BenchWorld) -> list[Figure]:
    run = world.send_run()
    sent = len(run.emails)
    figures = [
        Figure(
            "Proposals sent per minute, whole run",
            f"{sent / run.wall_s * 60:.0f}/min",
            note=f"{sent:,} emails in {seconds(run.wall_s)}: reading HubSpot, rendering, SMTP, write-back",
        )
    ]
    span_s = _sending_span_s(run)
    if span_s is not None:
        figures.append(
            Figure(
                "Proposals rendered and sent per minute, sending phase",
                f"{sent / span_s * 60:.0f}/min",
                note=f"first to last email, {seconds(span_s)}; `dags test` runs the mapped tasks one at a time",
            )
        )
    return figures


def _sending_span_s(run: SendRun) -> float | None:
    times = sorted(datetime.fromisoformat(email["received_at"]) for email in run.emails if email.get("received_at"))
    if len(times) < 2:
        return None
    # `received_at` is to the second: count the last second whole.
    return (times[-1] - times[0]).total_seconds() + 1

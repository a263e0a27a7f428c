"""Reading Stripe: the events of interest since the cursor, each recorded once with its effects.

For each event not processed yet, `read_events` has `Handler` work out its effects and records
the event as processed together with those effects as pending deliveries, in one ledger
transaction (a transactional outbox). Events are rendered in the account's API version, objects
re-read at Propale's (see `_warn_of_other_api_versions`); invoice PDFs are downloaded here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe

from propale.ledger import Ledger
from propale.rendering import format_long_date
from propale.settings import Settings
from propale.slack_messages import operations_alert
from propale.syncing.handling import BadData, Handler, queue_slack

log = logging.getLogger(__name__)

CURSOR = "stripe_events"
EVENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.deleted",
)
# Stripe's list of events is only eventually complete: each run looks this far behind its cursor
# again (events already processed are skipped by id).
OVERLAP = timedelta(minutes=10)
RETENTION = timedelta(days=30)  # Stripe keeps events this long


@dataclass
class ReadReport:
    """Counts and ids only (safe to log and to pass between tasks)."""

    listed: int = 0
    processed: int = 0
    ignored: int = 0
    bad: int = 0
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_events(
    client: stripe.StripeClient,
    ledger: Ledger,
    settings: Settings,
    *,
    deal_url: Callable[[str], str],
    from_address: str | None,
    now: datetime,
    download: Callable[[str], bytes] | None = None,
) -> ReadReport:
    """Process every Stripe event of interest not processed yet; see the module's docstring."""
    report = ReadReport()
    since = _window_start(ledger, now)
    events = list_events(client, since)
    report.listed = len(events)
    _warn_of_other_api_versions(events)
    done = ledger.processed_stripe_events([event["id"] for event in events])
    handler = Handler(client, ledger, settings, deal_url, from_address, download or download_pdf)
    first_failure: int | None = None
    for event in events:
        if event["id"] in done:
            continue
        try:
            effects = handler.handle(event)
        except BadData as problem:
            log.warning("Stripe event %s (%s): %s", event["id"], event["type"], problem.detail)
            effects = [handler.bad_data_alert(event, problem)]
            report.bad += 1
        except Exception:
            # Not recorded, so listed and tried again by the next attempt; the others go on.
            log.exception("Stripe event %s (%s) could not be processed", event["id"], event["type"])
            report.failed.append(event["id"])
            first_failure = event["created"] if first_failure is None else first_failure
            continue
        if effects is None:
            report.ignored += 1
            effects = []
        if ledger.record_stripe_event(event["id"], event["type"], effects):
            report.processed += 1
    # The cursor never passes an event that failed; events of a test clock may lie in the future,
    # so it never passes now either (they are then listed again, and skipped, until now catches up).
    listed_up_to = int(now.timestamp())
    ledger.set_cursor(CURSOR, str(min(listed_up_to, first_failure) if first_failure is not None else listed_up_to))
    log.info(
        "Stripe events since %s: %d listed, %d processed (%d without Propale effect, %d with bad data), %d failed",
        datetime.fromtimestamp(since, UTC).isoformat(),
        report.listed,
        report.processed,
        report.ignored,
        report.bad,
        len(report.failed),
    )
    if report.failed:
        raise RuntimeError(f"{len(report.failed)} Stripe event(s) could not be processed: {report.failed}")
    return report


def _window_start(ledger: Ledger, now: datetime) -> int:
    """Where to list events from, as a Unix time; alerts the team when events may have been lost."""
    oldest_kept = now - RETENTION
    cursor = ledger.get_cursor(CURSOR)
    if cursor is not None:
        since: datetime | None = datetime.fromtimestamp(int(cursor), UTC)
    else:
        # No Propale payment can be older than the first acceptance.
        since = ledger.first_acceptance_at()
    if since is None:
        return int(oldest_kept.timestamp())
    if since < oldest_kept:
        detail = (
            f"Propale n'a pas lu les événements Stripe depuis le {format_long_date(since)} : Stripe ne les garde que "
            "30 jours, ceux d'avant le "
            f"{format_long_date(oldest_kept)} sont perdus (paiements, factures, échecs de prélèvement)."
        )
        log.error(
            "The Stripe events cursor (%s) is older than Stripe's 30-day retention: events may be lost",
            since.isoformat(),
        )
        payload = operations_alert(
            "Événements Stripe peut-être perdus",
            detail,
            "Vérifiez dans le tableau de bord Stripe les paiements et factures de cette période, "
            "et reportez-les à la main dans HubSpot.",
        )
        queue_slack(ledger, f"retention:{cursor or since.isoformat()}", payload)
        return int(oldest_kept.timestamp())
    return int((since - OVERLAP).timestamp())


def _warn_of_other_api_versions(events: Sequence[dict[str, Any]]) -> None:
    """Once per run: the account renders events in another API version than Propale's client.

    Stripe renders an event's `data.object` in the account's default API version at the time the
    event was created, not in the client's (https://docs.stripe.com/api/events/list,
    https://docs.stripe.com/webhooks/versioning). Propale copes: see `Handler.handle`."""
    others = sorted({str(event["api_version"]) for event in events if event.get("api_version")} - {stripe.api_version})
    if others:
        log.warning(
            "Stripe events are rendered in API version %s (the Stripe account's default when they were created), "
            "not in Propale's pinned %s: Propale reads only ids and metadata from events and re-reads every "
            "object at %s. Events created after the account's API version is upgraded in Stripe's Workbench take the new one.",
            ", ".join(others),
            stripe.api_version,
            stripe.api_version,
        )


def list_events(client: stripe.StripeClient, since: int) -> list[dict[str, Any]]:
    """Events of interest created at or after `since`, oldest first (Stripe lists newest first)."""
    params: stripe.params.EventListParams = {"types": list(EVENT_TYPES), "created": {"gte": since}, "limit": 100}
    events = [event.to_dict() for event in client.v1.events.list(params).auto_paging_iter()]
    events.reverse()
    # Stable: events of the same second keep the order Stripe emitted them in.
    events.sort(key=lambda event: event["created"])
    return events


def download_pdf(url: str) -> bytes:
    """A document Stripe serves at a public URL (an invoice's `invoice_pdf`)."""
    with httpx.Client(transport=httpx.HTTPTransport(retries=3), timeout=30, follow_redirects=True) as http:
        response = http.get(url)
        response.raise_for_status()
    if not response.content.startswith(b"%PDF"):
        raise ValueError(f"Stripe's invoice PDF is not a PDF ({response.headers.get('content-type')})")
    return response.content

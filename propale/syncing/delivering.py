"""Delivering the sync's effects from the ledger's outbox: Stripe, emails, then HubSpot, then Slack.

Each kind is performed through `propale.outbox` (claimed, performed, recorded done or failed
with the reason): the ends of subscriptions' commitments at Stripe, emails at most once, HubSpot
writes in batches judged record by record, Slack messages last.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import stripe
from slack_sdk.webhook import WebhookClient

from propale import outbox
from propale.billing import StripeBilling
from propale.crm import HubSpotGateway, NoteRequest, hubspot_datetime
from propale.emails import parse_stored
from propale.ledger import Delivery, Ledger
from propale.slack_messages import DealLine, alert, operations_alert
from propale.syncing.handling import DEAL_NOTE, DEAL_UPDATE, EMAIL, SLACK, SUBSCRIPTION_TERM, queue_slack

log = logging.getLogger(__name__)

SlackPoster = Callable[[dict[str, Any]], None]


def write_to_stripe(client: stripe.StripeClient, ledger: Ledger) -> int:
    """Set `cancel_at` on the subscriptions whose proposal has a commitment; returns how many were set.

    Setting it again is harmless (same value, same idempotency key). A subscription Stripe refuses
    to change (canceled meanwhile, deleted) is given up, and the team is told to check it by hand.
    """
    billing = StripeBilling(client, ledger.installation_id())

    def perform(delivery: Delivery) -> None:
        data = json.loads(delivery.payload or b"{}")
        try:
            billing.end_subscription_at(
                data["subscription_id"], data["cancel_at"], number=data["number"], version=data["version"]
            )
        except stripe.InvalidRequestError as error:
            raise outbox.Refused(error.user_message or str(error)) from error

    def tell(delivery: Delivery, outcome: outbox.Outcome) -> None:
        data = json.loads(delivery.payload or b"{}")
        queue_slack(
            ledger,
            f"{outcome}:{delivery.key}",
            alert(
                "Fin d’engagement non programmée dans Stripe",
                DealLine(
                    data["deal_name"],
                    data["deal_url"],
                    f"Stripe a refusé de programmer la fin de l’abonnement {data['subscription_id']} au terme de "
                    "son engagement : il continuera d’être facturé.",
                ),
                "Programmez la résiliation de l’abonnement à la date de fin d’engagement dans le tableau de bord Stripe.",
            ),
        )
        log.warning("Stripe refused the end of subscription %s: the team is told", data["subscription_id"])

    tally = outbox.deliver_pending(ledger, SUBSCRIPTION_TERM, perform, at_most_once=False, tell=tell)
    log.info(
        "Stripe: %d subscription term(s) set, %d refused", tally[outbox.Outcome.DONE], tally[outbox.Outcome.REFUSED]
    )
    return tally[outbox.Outcome.DONE]


def send_emails(ledger: Ledger, send_email: outbox.EmailSender) -> dict[str, int]:
    """Send pending emails in event order, each at most once.

    An email whose earlier attempt was cut off may have arrived: it is not sent again, the team is
    told. One whose recipient the mail server refuses is given up, and the team is told too."""

    def tell(delivery: Delivery, outcome: outbox.Outcome) -> None:
        subject = str(parse_stored(delivery.payload or b"")["Subject"] or "")
        if outcome is outbox.Outcome.UNCONFIRMED:
            message = operations_alert(
                "E-mail peut-être non envoyé",
                f"L'envoi de l'e-mail « {subject} » a été interrompu : Propale ne sait pas s'il est parti.",
                "Vérifiez dans la boîte d'envoi du serveur de messagerie et renvoyez-le à la main s'il manque.",
            )
        else:
            message = operations_alert(
                "E-mail refusé",
                f"Le serveur de messagerie a refusé définitivement l’e-mail « {subject} » "
                f"({delivery_reason(ledger, delivery)}) : il ne sera pas renvoyé, les e-mails suivants sont partis.",
                "Vérifiez l’adresse e-mail dans HubSpot et prévenez la personne concernée.",
            )
        queue_slack(ledger, f"{outcome}:{delivery.key}", message)

    tally = outbox.deliver_pending(ledger, EMAIL, outbox.email_performer(send_email), at_most_once=True, tell=tell)
    counts = {
        "sent": tally[outbox.Outcome.DONE],
        "unconfirmed": tally[outbox.Outcome.UNCONFIRMED],
        "refused": tally[outbox.Outcome.REFUSED],
    }
    log.info(
        "Emails: %d sent, %d unconfirmed (not resent), %d refused",
        counts["sent"],
        counts["unconfirmed"],
        counts["refused"],
    )
    return counts


def write_to_hubspot(gateway: HubSpotGateway, ledger: Ledger, now: datetime) -> dict[str, int]:
    """Deal properties in one batch (updates of a deal merged in event order), then notes in batch.

    Both are safe to repeat: properties are set to the same values, and a note is recorded done as
    soon as HubSpot created it (a crash in between is the only way to a second note). HubSpot
    judges a batch record by record (207): what it refused stays pending for the next attempt, the
    rest is done; a deal deleted meanwhile is reported in Slack and its writes dropped.
    """
    updates = [(d, json.loads(d.payload or b"{}")) for d in ledger.pending_deliveries(kind=DEAL_UPDATE)]
    notes = [(d, json.loads(d.payload or b"{}")) for d in ledger.pending_deliveries(kind=DEAL_NOTE)]
    if not updates and not notes:
        return {"deals": 0, "notes": 0, "missing": 0}
    names = {data["deal_id"]: data["deal_name"] for _, data in [*updates, *notes]}
    missing, unreadable = gateway.missing_deals(list(names))
    for deal_id in missing:
        for delivery, data in [*updates, *notes]:
            if data["deal_id"] == deal_id:
                ledger.cancel_delivery(delivery.key)
        queue_slack(
            ledger,
            f"missing-deal:{deal_id}:{min(d.key for d, data in [*updates, *notes] if data['deal_id'] == deal_id)}",
            alert(
                "Transaction introuvable dans HubSpot",
                DealLine(
                    names[deal_id],
                    gateway.deal_url(deal_id),
                    "Un paiement Stripe la concerne, mais elle a été supprimée.",
                ),
                "Restaurez la transaction dans HubSpot ou reportez-y le paiement à la main (voir Stripe).",
            ),
        )
        log.warning("Deal %s no longer exists in HubSpot: its updates and notes are dropped, the team is told", deal_id)
    skip = missing | unreadable
    # Only what this attempt claims is written: another attempt running at the same time writes the rest.
    claimed = {d.key for d in outbox.claim_batch(ledger, [d for d, data in updates if data["deal_id"] not in skip])}
    merged: dict[str, dict[str, str]] = {}
    for delivery, data in updates:
        if delivery.key in claimed:
            merged.setdefault(data["deal_id"], {}).update(data["properties"])
    refused = gateway.update_deals(merged) if merged else {}
    written = [(d, data["deal_id"]) for d, data in updates if d.key in claimed]
    outbox.record_batch(
        ledger, [d.key for d, _ in written], {d.key: refused[deal].reason for d, deal in written if deal in refused}
    )
    # A note comes after its deal's update (a payment's note after its status): both wait together.
    ready = [d for d, data in notes if data["deal_id"] not in skip and data["deal_id"] not in refused]
    claimed_notes = {d.key for d in outbox.claim_batch(ledger, ready)}
    to_note = [(d, data) for d, data in notes if d.key in claimed_notes]
    refused_notes = (
        gateway.create_notes(
            [NoteRequest(deal_id=data["deal_id"], body_html=data["body_html"], key=d.key) for d, data in to_note],
            timestamp=hubspot_datetime(now),
        )
        if to_note
        else {}
    )
    outbox.record_batch(
        ledger, [d.key for d, _ in to_note], {key: refusal.reason for key, refusal in refused_notes.items()}
    )
    log.info(
        "HubSpot: %d deal(s) updated, %d note(s) created, %d deal(s) missing; refused (kept for the next attempt): "
        "%d update(s), %d note(s)",
        len(merged) - len(refused),
        len(to_note) - len(refused_notes),
        len(missing),
        len(refused),
        len(refused_notes),
    )
    if refused or refused_notes or unreadable:
        # Still pending: the next attempt writes them.
        failed = sorted(set(refused) | unreadable | {data["deal_id"] for d, data in to_note if d.key in refused_notes})
        raise RuntimeError(f"HubSpot refused or could not take writes on deal(s) {failed}; will retry")
    return {"deals": len(merged), "notes": len(to_note), "missing": len(missing)}


def delivery_reason(ledger: Ledger, delivery: Delivery) -> str:
    """Why the receiver refused a delivery, as recorded (a code, never an address or a token)."""
    recorded = ledger.delivery(delivery.key)
    return (recorded.last_error if recorded else None) or "raison inconnue"


# What Slack answers a message it will never take, whatever the retry: 400 (invalid_payload,
# invalid_blocks, no_text…) and 413. 403, 404 and 410 mean the webhook or its channel is revoked or
# archived: every message would be refused alike, so they are kept for when it is fixed, like a 429
# or a 5xx. https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks#handling_errors
SLACK_REFUSALS = frozenset({400, 413})
# The key of a message that tells of a refused one (see `queue_slack`): it is never told of in turn.
REFUSED_SLACK_PREFIX = f"{SLACK}:{outbox.Outcome.REFUSED}:{SLACK}:"


class SlackUnavailable(Exception):
    """Slack did not take a message this time (rate limit, outage, revoked webhook): retried later."""


def webhook_poster(client: WebhookClient) -> SlackPoster:
    """Posts through Slack's own webhook client (the Airflow hook's `client`), telling a message
    Slack refuses for good (`outbox.Refused`) from one it could take later (`SlackUnavailable`)."""

    def post(message: dict[str, Any]) -> None:
        response = client.send_dict(message)
        if response.status_code == 200:
            return
        answer = f"Slack {response.status_code} {str(response.body)[:80]}".strip()
        if response.status_code in SLACK_REFUSALS:
            raise outbox.Refused(answer)
        raise SlackUnavailable(answer)

    return post


def post_to_slack(ledger: Ledger, post: SlackPoster) -> int:
    """Post pending Slack messages in the order they were queued; returns how many were posted.

    A message Slack refuses for good is dropped, and the team is told in a short message of its own,
    posted in the same run: the messages queued after it (payment failures…) still go out.
    """

    def tell(delivery: Delivery, outcome: outbox.Outcome) -> None:
        if delivery.key.startswith(REFUSED_SLACK_PREFIX):
            return  # the alert about a refused message was refused too: the log line is all there is
        dropped = str(json.loads(delivery.payload or b"{}").get("text") or delivery.key)
        queue_slack(
            ledger,
            f"{outcome}:{delivery.key}",
            operations_alert(
                "Message Slack refusé",
                f"Slack a refusé un message de Propale ({delivery_reason(ledger, delivery)}) : « {dropped} ». "
                "Il ne sera pas renvoyé ; les messages suivants sont partis.",
                "Consultez la transaction concernée dans HubSpot et le journal de la tâche post_to_slack.",
            ),
        )

    def perform(delivery: Delivery) -> None:
        post(json.loads(delivery.payload or b"{}"))

    tally = outbox.deliver_pending(ledger, SLACK, perform, at_most_once=False, tell=tell)
    if tally[outbox.Outcome.REFUSED]:
        tally += outbox.deliver_pending(ledger, SLACK, perform, at_most_once=False, tell=tell)
    posted = tally[outbox.Outcome.DONE]
    log.info("Slack: %d message(s) posted, %d refused for good", posted, tally[outbox.Outcome.REFUSED])
    return posted

"""Stripe → HubSpot, emails and Slack: the steps of `propale_sync_stripe`, without Airflow.

1. `read_events` (`reading`): list the Stripe events of interest since the cursor, oldest first;
   for each one not processed yet, re-read its object from Stripe and work out every effect (deal
   properties, notes, emails with their PDFs, Slack messages: `handling`), and record the event as
   processed together with those effects as pending deliveries, in one ledger transaction (a
   transactional outbox).
2. `close_overdue_payment_windows` (`overdue`): close the payment pages of proposals accepted but
   left unpaid past `propale_payment_window_days`, and queue what tells the rep and the team.
3. `write_to_stripe` (`delivering`): set the end of each new subscription's commitment (`cancel_at`).
4. `send_emails`: send pending emails, each at most once.
5. `write_to_hubspot`: deal properties in batch (merged per deal, in event order), then notes.
6. `post_to_slack`: Slack messages, last (`webhook_poster` tells Slack's refusals from its outages).

A crash or retry anywhere is safe: an event is either recorded with all its effects or not at
all (then it is listed again, its id not being recorded), and each effect is delivered from the
outbox once (`propale.outbox`). Emails are never sent twice: one whose attempt was cut off between
the SMTP server's answer and the ledger's record is reported to the team instead of being sent
again. For HubSpot notes and Slack messages, a duplicate is the lesser harm: the same window can
repeat them.
"""

from propale.syncing.delivering import post_to_slack, send_emails, webhook_poster, write_to_hubspot, write_to_stripe
from propale.syncing.handling import DEAL_NOTE, DEAL_UPDATE, EMAIL, SLACK, SUBSCRIPTION_TERM, BadData, headline
from propale.syncing.overdue import close_overdue_payment_windows
from propale.syncing.reading import CURSOR, EVENT_TYPES, ReadReport, download_pdf, list_events, read_events

__all__ = [
    "CURSOR",
    "DEAL_NOTE",
    "DEAL_UPDATE",
    "EMAIL",
    "EVENT_TYPES",
    "SLACK",
    "SUBSCRIPTION_TERM",
    "BadData",
    "ReadReport",
    "close_overdue_payment_windows",
    "download_pdf",
    "headline",
    "list_events",
    "post_to_slack",
    "read_events",
    "send_emails",
    "webhook_poster",
    "write_to_hubspot",
    "write_to_stripe",
]

"""
### Propale: send proposals

Finds HubSpot deals whose **Statut Propale** is « À proposer », emails each customer a proposal
(PDF attached, link to accept and pay), and writes the outcome back on the deal. Deals that need a
fix get the status « Erreur » and the reason in **Erreur Propale**; the run's Slack message lists
them. Trigger it with `{"deal_ids": ["123", "456"]}` to handle given deals now.

When Propale's own settings are incomplete (the seller's details, say), no task retries in vain:
each flagged deal gets « Erreur » with what the administrator must complete, and Slack says it once.
A Propale property deleted in HubSpot is created again if it is gone for good, or reported for a
HubSpot admin to restore if it is in HubSpot's recycle bin; the run goes on without it meanwhile.

Each deal is its own mapped task instance, named after the deal, up to 32 deals; beyond that,
deals are sent in 32 batches so that a large backlog does not flood the scheduler with task
instances (each batch is named after its first deal and its size).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

MAX_MAPPED_TASKS = 32

default_args = {
    "owner": "propale",
    # Airflow logs what a task returns. Propale's results name deals and may quote a contact's name
    # or e-mail address (in the reason a deal needs fixing): they stay in XCom, out of the logs.
    "show_return_value_in_logs": False,
    "retries": 4,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="propale_send_proposals",
    schedule="*/5 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(minutes=60),
    params={
        "deal_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Deal ids",
            description="HubSpot deal ids to handle now (empty: every deal flagged « À proposer »).",
        )
    },
    tags=["propale", "hubspot"],
    doc_md=__doc__,
)
def propale_send_proposals():
    @task(multiple_outputs=False)
    def ensure_hubspot_properties() -> dict:
        from propale.hooks import HubSpotHook

        return HubSpotHook().get_conn().ensure_deal_properties().to_dict()

    @task
    def collect_flagged_deals(properties: dict, params: dict | None = None) -> list[list[dict]]:
        from propale.crm import PropertySetup
        from propale.hooks import HubSpotHook, StripeHook
        from propale.runtime import load_settings, open_ledger
        from propale.sending import batches, collect_or_refuse

        outcomes = collect_or_refuse(
            HubSpotHook().get_conn(),
            load_settings,
            open_ledger,
            pendulum.now("UTC"),
            (params or {}).get("deal_ids"),
            deleted_properties=PropertySetup.from_dict(properties).deleted,
            # To close the payment pages of an accepted, unpaid proposal the rep re-proposes.
            stripe_client=StripeHook().get_conn(),
        )
        return batches(outcomes, MAX_MAPPED_TASKS)

    @task(map_index_template="{{ deals_label }}")
    def send_proposals(deals: list[dict]) -> list[dict]:
        from propale.hooks import PropaleSmtpHook
        from propale.runtime import load_settings, open_ledger
        from propale.sending import DealOutcome, batch_label, deliver

        outcomes = [DealOutcome.from_dict(d) for d in deals]
        get_current_context()["deals_label"] = batch_label(outcomes)
        if all(o.problems or o.proposal_id is None for o in outcomes):
            return deals  # nothing to send in this batch: no settings, ledger or mail server needed
        settings = load_settings()
        with open_ledger(settings) as ledger, PropaleSmtpHook(smtp_conn_id="smtp_default") as smtp:
            return [deliver(ledger, settings, o, smtp.send_message, smtp.from_email).to_dict() for o in outcomes]

    @task(trigger_rule="all_done")
    def write_back_to_hubspot(properties: dict | None, batches: list | None, sent: list) -> dict | None:
        from propale.crm import PropertySetup
        from propale.hooks import HubSpotHook
        from propale.runtime import load_settings, open_ledger
        from propale.sending import DealOutcome, write_back_and_summarize

        return write_back_and_summarize(
            HubSpotHook().get_conn(),
            load_settings,
            open_ledger,
            PropertySetup.from_dict(properties),
            batches or [],
            [DealOutcome.from_dict(d) for batch in sent if batch for d in batch],
            pendulum.now("UTC"),
        )

    @task
    def post_slack_summary(message: dict | None, run_id: str | None = None) -> None:
        import logging
        from contextlib import nullcontext

        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        from propale.runtime import load_settings, open_ledger
        from propale.sending import post_summary
        from propale.settings import SettingsError
        from propale.syncing import webhook_poster

        if message is None:
            logging.getLogger(__name__).info("No deal was flagged, sent or in error: nothing to post")
            return
        post = webhook_poster(SlackWebhookHook(slack_webhook_conn_id="slack_default").client)
        try:
            settings = load_settings()
        except SettingsError:
            settings = None  # the message says what is broken; it goes out without the ledger
        with open_ledger(settings) if settings else nullcontext() as ledger:
            post_summary(ledger, message, run_id or "manual", post)

    properties = ensure_hubspot_properties()
    batches = collect_flagged_deals(properties)
    sent = send_proposals.expand(deals=batches)
    post_slack_summary(write_back_to_hubspot(properties, batches, sent))


propale_send_proposals()

"""
### Propale: sync Stripe

Every minute, reads what happened on Stripe since the last run (Checkout Sessions completed or
expired, SEPA debits cleared or rejected, invoices paid or failed) and tells everyone: the deal in
HubSpot (status « Proposition acceptée », payment method, Stripe ids, notes on its timeline), the
customer (each paid invoice by email, with the invoice and a receipt as PDF), the deal's rep (by
email) and the team (on Slack, last). It also closes the payment pages of proposals accepted but
left unpaid past `propale_payment_window_days`, and tells the rep.

Each Stripe event is processed once: its effects are queued in Propale's ledger together with the
record that it was processed, then each task delivers its kind of effect at most once. A task
that fails is retried; the next run also picks up whatever an earlier run left undelivered.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

default_args = {
    "owner": "propale",
    # Airflow logs what a task returns. Propale's results name deals and may quote a contact's name
    # or e-mail address (in the reason a deal needs fixing): they stay in XCom, out of the logs.
    "show_return_value_in_logs": False,
    "retries": 4,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
}


@dag(
    dag_id="propale_sync_stripe",
    schedule="* * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(minutes=30),
    tags=["propale", "stripe", "hubspot"],
    doc_md=__doc__,
)
def propale_sync_stripe():
    @task(multiple_outputs=False)
    def read_stripe_events() -> dict:
        from airflow.sdk import BaseHook

        from propale.hooks import HubSpotHook, StripeHook
        from propale.runtime import load_settings, open_ledger
        from propale.syncing import read_events

        settings = load_settings()
        # Only the connection's settings: nothing is sent from this task.
        from_address = BaseHook.get_connection("smtp_default").extra_dejson.get("from_email")
        gateway = HubSpotHook().get_conn()
        with open_ledger(settings) as ledger:
            report = read_events(
                StripeHook().get_conn(),
                ledger,
                settings,
                deal_url=gateway.deal_url,
                from_address=from_address,
                now=pendulum.now("UTC"),
            )
        return report.to_dict()

    @task(trigger_rule="all_done")
    def close_payment_windows() -> list[str]:
        """Accepted proposals left unpaid past `propale_payment_window_days`: their payment pages are
        closed at Stripe and the rep is told (delivered by the tasks below, in this run)."""
        from airflow.sdk import BaseHook

        from propale.billing import StripeBilling
        from propale.hooks import HubSpotHook, StripeHook
        from propale.runtime import load_settings, open_ledger
        from propale.syncing import close_overdue_payment_windows

        settings = load_settings()
        from_address = BaseHook.get_connection("smtp_default").extra_dejson.get("from_email")
        with open_ledger(settings) as ledger:
            return close_overdue_payment_windows(
                StripeBilling(StripeHook().get_conn(), ledger.installation_id()),
                ledger,
                settings,
                deal_url=HubSpotHook().get_conn().deal_url,
                from_address=from_address,
                now=pendulum.now("UTC"),
            )

    # The delivery tasks also run when reading failed: what earlier events queued still goes out.
    @task(trigger_rule="all_done")
    def write_to_stripe() -> int:
        from propale.hooks import StripeHook
        from propale.runtime import load_settings, open_ledger
        from propale.syncing import write_to_stripe

        settings = load_settings()
        with open_ledger(settings) as ledger:
            return write_to_stripe(StripeHook().get_conn(), ledger)

    @task(trigger_rule="all_done", multiple_outputs=False)
    def send_emails() -> dict:
        from propale.hooks import PropaleSmtpHook
        from propale.runtime import load_settings, open_ledger
        from propale.syncing import EMAIL, send_emails

        settings = load_settings()
        with open_ledger(settings) as ledger:
            if not ledger.pending_deliveries(kind=EMAIL):
                return {"sent": 0}
            with PropaleSmtpHook(smtp_conn_id="smtp_default") as smtp:
                return send_emails(ledger, smtp.send_message)

    @task(trigger_rule="all_done", multiple_outputs=False)
    def write_to_hubspot() -> dict:
        from propale.hooks import HubSpotHook
        from propale.runtime import load_settings, open_ledger
        from propale.syncing import write_to_hubspot

        settings = load_settings()
        with open_ledger(settings) as ledger:
            return write_to_hubspot(HubSpotHook().get_conn(), ledger, pendulum.now("UTC"))

    @task(trigger_rule="all_done")
    def post_to_slack() -> int:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        from propale.runtime import load_settings, open_ledger
        from propale.syncing import post_to_slack, webhook_poster

        settings = load_settings()
        with open_ledger(settings) as ledger:
            hook = SlackWebhookHook(slack_webhook_conn_id="slack_default")
            return post_to_slack(ledger, webhook_poster(hook.client))

    @task(trigger_rule="one_failed")
    def fail_run() -> None:
        """Airflow sets a run's state from its last tasks; without this, a failed read or delivery
        followed by a successful Slack post would show the run as a success."""
        raise RuntimeError("A step of this run failed (see its logs); its work is retried by the next run.")

    steps = [read_stripe_events(), close_payment_windows(), write_to_stripe(), send_emails(), write_to_hubspot()]
    steps[0] >> steps[1] >> steps[2] >> steps[3] >> steps[4] >> post_to_slack()
    steps >> fail_run()


propale_sync_stripe()

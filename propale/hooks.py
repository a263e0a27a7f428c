"""Airflow hooks: the only place Propale turns Airflow connections into service clients.

docs/contract.md fixes the connections: `hubspot_default` and `stripe_default` are `http` connections whose
password is the token or secret key and whose host is the API base URL (empty: the real API);
`smtp_default` and `slack_default` are the SMTP and Slack providers' own.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import stripe
from airflow.providers.smtp.hooks.smtp import SmtpHook
from airflow.sdk import BaseHook

from propale.crm import HUBSPOT_APP_URL, HubSpotGateway, make_client
from propale.stripe_client import make_stripe_client


def base_url(connection: Any, default: str) -> str:
    """The API base URL an `http` connection points to; `default` when its host is empty.

    Accepts a host with its scheme (`http://127.0.0.1:8701`) or without (`api.example.com`, with
    the connection's schema, https by default, and port).
    """
    host = (connection.host or "").strip()
    if not host:
        return default
    if "://" not in host:
        host = f"{connection.schema or 'https'}://{host}"
    if connection.port and host.count(":") < 2:
        host = f"{host}:{connection.port}"
    return host.rstrip("/")


def _secret(connection: Any, what: str) -> str:
    secret = (connection.password or "").strip()
    if not secret:
        raise ValueError(f"Airflow connection {connection.conn_id!r} has no password: set it to the {what}.")
    return secret


class HubSpotHook(BaseHook):
    """HubSpot's CRM API through the official client, from an `http` connection."""

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "http"
    hook_name = "HubSpot"

    def __init__(self, hubspot_conn_id: str = default_conn_name):
        super().__init__()
        self.hubspot_conn_id = hubspot_conn_id

    def get_conn(self) -> HubSpotGateway:
        connection = self.get_connection(self.hubspot_conn_id)
        extra = connection.extra_dejson
        client = make_client(
            _secret(connection, "HubSpot private app access token"),
            host=base_url(connection, default="") or None,
        )
        # Links to deals in Slack and emails point at HubSpot's app; the sandbox serves its own.
        return HubSpotGateway(
            client,
            app_url=extra.get("app_url") or (base_url(connection, "") or HUBSPOT_APP_URL),
            portal_id=str(extra.get("portal_id", "")),
        )


class StripeHook(BaseHook):
    """Stripe's API through the official `StripeClient`, from an `http` connection."""

    conn_name_attr = "stripe_conn_id"
    default_conn_name = "stripe_default"
    conn_type = "http"
    hook_name = "Stripe"

    def __init__(self, stripe_conn_id: str = default_conn_name, max_network_retries: int = 4):
        super().__init__()
        self.stripe_conn_id = stripe_conn_id
        self.max_network_retries = max_network_retries

    def get_conn(self) -> stripe.StripeClient:
        connection = self.get_connection(self.stripe_conn_id)
        # Retried POSTs reuse Propale's idempotency keys, so a retry never doubles a write.
        return make_stripe_client(
            _secret(connection, "Stripe secret key"),
            base_url(connection, default="") or None,
            max_network_retries=self.max_network_retries,
        )


class PropaleSmtpHook(SmtpHook):
    """The SMTP provider's hook, sending a complete `EmailMessage`.

    The provider's `send_email_smtp` builds an HTML-only message; Propale's emails carry a text
    part, a Reply-To and a Message-ID of their own, so they are built by `propale.emails` and
    sent as they are over the connection the provider opened (TLS and login as configured).
    """

    def send_message(self, message: EmailMessage) -> None:
        if self._smtp_client is None:
            raise RuntimeError("call send_message inside `with PropaleSmtpHook(...) as hook:`")
        if not message["From"] and self.from_email:
            message["From"] = self.from_email
        self._smtp_client.send_message(message)

"""Addresses and credentials of the sandbox stand-ins (defaults from docs/contract.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import stripe

DEFAULT_HUBSPOT_TOKEN = "pat-sandbox-propale"
DEFAULT_STRIPE_SECRET_KEY = "sk_test_propale_sandbox"


def default_data_dir() -> Path:
    base = os.environ.get("PROPALE_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "propale"
    )
    return Path(base) / "sandbox"


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    hubspot_port: int = 8701
    stripe_port: int = 8702
    mailbox_port: int = 8703
    smtp_port: int = 8025
    slack_port: int = 8704
    data_dir: Path = field(default_factory=default_data_dir)
    hubspot_token: str = DEFAULT_HUBSPOT_TOKEN
    stripe_secret_key: str = DEFAULT_STRIPE_SECRET_KEY
    # The Stripe account's default API version, in which event payloads are rendered (as real Stripe
    # renders them); the pinned `stripe` library's own version unless told otherwise.
    stripe_api_version: str = stripe.api_version
    # Scopes the sandbox's HubSpot private app was not granted, to see `propale setup` name them
    # (option `--hubspot-token-without-scope`); empty: it has every scope Propale needs.
    hubspot_token_missing_scopes: tuple[str, ...] = ()

    def _url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    @property
    def hubspot_url(self) -> str:
        return self._url(self.hubspot_port)

    @property
    def stripe_url(self) -> str:
        return self._url(self.stripe_port)

    @property
    def mailbox_url(self) -> str:
        return self._url(self.mailbox_port)

    @property
    def slack_url(self) -> str:
        return self._url(self.slack_port)

    @property
    def slack_webhook_url(self) -> str:
        """Where Slack incoming-webhook posts go (any path under /services/ is accepted)."""
        return f"{self.slack_url}/services/T00000000/B00000000/sandbox"

    @property
    def db_path(self) -> Path:
        return Path(self.data_dir) / "sandbox.db"

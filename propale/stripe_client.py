"""Stripe's official client as Propale configures it: rate limits retried, every retry logged.

The library retries connection errors, 409s and 5xx on its own (`max_network_retries`), but not a
429, which Stripe's documentation asks clients to retry with exponential backoff: a customer
clicking while Stripe rate-limits the account would get an error page. And it logs its retries
only at INFO on the `stripe` logger, with the full URL (whose query may hold a customer's e-mail
address), which Airflow's task logs do not show: an outage or a rate limit left no trace.

Here a 429 is retried like a 5xx (every write Propale makes carries an idempotency key, so a
retried POST never doubles anything), and each retry, or giving up, is one warning naming the
status and the API path, never the query or the body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe

log = logging.getLogger(__name__)

RATE_LIMITED = 429


class _LoggedRetries(stripe.RequestsClient):
    """The library's default HTTP client, retrying 429 too and saying so."""

    # `_usage` completes the base class's signature; the library never passes it to `request`. The
    # result is left `Any`: the base class says `str` for the body, `RequestsClient` returns bytes.
    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> Any:
        # `_should_retry` is not told which call it judges: remember it, per thread.
        self._thread_local.propale_call = f"{method.upper()} {urlsplit(url).path}"
        return super().request(method, url, headers, post_data)

    def _should_retry(
        self,
        response: tuple[Any, int, Mapping[str, str] | None] | None,
        api_connection_error: stripe.APIConnectionError | None,
        num_retries: int,
        max_network_retries: int | None,
    ) -> bool:
        retry: bool = super()._should_retry(response, api_connection_error, num_retries, max_network_retries)
        call = getattr(self._thread_local, "propale_call", "a call")
        if response is None:
            if retry:
                log.warning(
                    "Stripe could not be reached for %s; retrying (%d of %d)",
                    call,
                    num_retries + 1,
                    max_network_retries,
                )
            return retry
        _, status, headers = response
        if status == RATE_LIMITED and not retry:
            may_retry = (headers or {}).get("stripe-should-retry") != "false"
            retry = may_retry and num_retries < (max_network_retries or 0)
        if status == RATE_LIMITED or status >= 500:
            if retry:
                log.warning(
                    "Stripe answered %d to %s; retrying (%d of %d)", status, call, num_retries + 1, max_network_retries
                )
            else:
                log.warning("Stripe answered %d to %s; giving up after %d retries", status, call, num_retries)
        return retry


def make_stripe_client(
    secret_key: str, api_url: str | None = None, max_network_retries: int = 4
) -> stripe.StripeClient:
    """A `StripeClient` (for the real API when `api_url` is empty) that retries and logs as above."""
    return stripe.StripeClient(
        api_key=secret_key,
        base_addresses={"api": api_url} if api_url else {},
        max_network_retries=max_network_retries,
        http_client=_LoggedRetries(),
    )

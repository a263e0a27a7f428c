"""What the customer page needs at run time, loaded on the first request that needs it.

Importing `propale.web` reads no Airflow Variable and opens nothing, so the Airflow API server can
import the plugin (and `uvicorn propale.web:app` can start) before the configuration is complete;
a request then gets a polite error page until it is, and the next request tries again.
Settings are Airflow Variables and Stripe is the `stripe_default` connection, read through the
Task SDK: inside the API server that is the metadata database (and any secrets backend), in a
standalone process the `AIRFLOW_VAR_*` / `AIRFLOW_CONN_*` environment variables.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from propale.billing import StripeBilling
from propale.ledger import Ledger
from propale.settings import Settings
from propale.web.security import STRIPE_CHECKOUT_ORIGIN, CsrfTokens

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    billing: StripeBilling
    csrf: CsrfTokens
    # Where the accept forms' redirect may land: Stripe Checkout (and the stand-in when testing).
    checkout_origins: tuple[str, ...] = (STRIPE_CHECKOUT_ORIGIN,)

    def close(self) -> None:
        self.ledger.close()


Loader = Callable[[], Services]


class ServicesUnavailable(RuntimeError):
    """The settings or connections are missing or wrong; details are in the server log only."""


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def from_airflow(csrf_max_age_s: int) -> Services:
    """Services from Airflow's Variables and the `stripe_default` connection."""
    from airflow.sdk import Variable

    from propale.hooks import StripeHook, base_url

    # The page's own settings: its form key, not the DAGs' link key.
    settings = Settings.load_for_page(lambda name: Variable.get(name, default=None))
    hook = StripeHook()
    api_url = base_url(hook.get_connection(hook.stripe_conn_id), default="")
    origins = (STRIPE_CHECKOUT_ORIGIN, origin(api_url)) if api_url else (STRIPE_CHECKOUT_ORIGIN,)
    ledger = Ledger.from_settings(settings)
    return Services(
        settings=settings,
        ledger=ledger,
        billing=StripeBilling(hook.get_conn(), ledger.installation_id()),
        csrf=CsrfTokens(settings.csrf_key, csrf_max_age_s),
        checkout_origins=origins,
    )


class LazyServices:
    def __init__(self, load: Loader):
        self._load = load
        self._services: Services | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> Services | None:
        return self._services

    def get(self) -> Services:
        if self._services is None:
            with self._lock:
                if self._services is None:
                    try:
                        self._services = self._load()
                    except Exception as error:
                        # The message names the variable or connection at fault; never a value.
                        log.error("The customer page cannot start: %s: %s", type(error).__name__, error)
                        raise ServicesUnavailable(str(error)) from error
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None

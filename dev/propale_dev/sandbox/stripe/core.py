"""The Stripe stand-in's state: objects by Stripe object name, ids, clock-aware time, events.

Every Stripe object lives in the shared `Store` under `stripe:<object>` (e.g.
`stripe:checkout.session`), so a restart keeps them. Bookkeeping that Stripe never shows
(pending SEPA settlements, idempotency records) lives under `stripe-internal:<name>`.
"""

from __future__ import annotations

import copy
import secrets
import string
import time
from typing import Any

from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.service import Faults
from propale_dev.sandbox.store import Store
from propale_dev.sandbox.stripe import versions
from propale_dev.sandbox.stripe.errors import resource_missing

API_VERSION = "2026-10-28.endive"
_ALPHABET = string.ascii_letters + string.digits

# Id prefix → object name, longest prefixes first, so `expand[]` can load any id it meets.
PREFIXES: list[tuple[str, str]] = [
    ("cs_test_", "checkout.session"),
    ("inpay_", "invoice_payment"),
    ("clock_", "test_helpers.test_clock"),
    ("price_", "price"),
    ("prod_", "product"),
    ("cus_", "customer"),
    ("txr_", "tax_rate"),
    ("sub_", "subscription"),
    ("txi_", "tax_id"),
    ("evt_", "event"),
    ("si_", "subscription_item"),
    ("in_", "invoice"),
    ("ii_", "invoiceitem"),
    ("pi_", "payment_intent"),
    ("ch_", "charge"),
    ("py_", "charge"),
    ("pm_", "payment_method"),
]
# Fields whose ids have no telling prefix (products take caller-chosen ids).
FIELD_OBJECTS = {"product": "product", "default_price": "price"}

OBJECT_LABELS = {
    "checkout.session": "checkout.session",
    "test_helpers.test_clock": "test_clock",
    "tax_rate": "tax_rate",
    "payment_intent": "payment_intent",
    "payment_method": "PaymentMethod",
}


def kind(object_name: str) -> str:
    return f"stripe:{object_name}"


def internal(name: str) -> str:
    return f"stripe-internal:{name}"


class Stripe:
    """Shared by every endpoint and by the background worker; hold `lock` for read-modify-write."""

    def __init__(self, store: Store, config: SandboxConfig, faults: Faults):
        self.store = store
        self.config = config
        self.faults = faults
        self.lock = store.transaction()
        # Set while an API request runs, so events can name the request that caused them.
        self.request: dict[str, Any] | None = None
        # (id, type, created) of every event, oldest first: events are never changed once
        # written, and listing them must not copy every snapshot each time a client polls.
        self._event_index: list[tuple[str, str, int]] | None = None

    @property
    def base_url(self) -> str:
        return self.config.stripe_url

    # ids and time -------------------------------------------------------------------------
    @staticmethod
    def new_id(prefix: str, length: int = 24) -> str:
        return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))

    @staticmethod
    def wall_time() -> int:
        return int(time.time())

    @staticmethod
    def wall_time_precise() -> float:
        return time.time()

    def clock_time(self, clock_id: str | None) -> int:
        if clock_id:
            clock = self.find("test_helpers.test_clock", clock_id)
            if clock:
                return clock["frozen_time"]
        return self.wall_time()

    def customer_time(self, customer_id: str | None) -> int:
        """Objects of a test clock's customer live in the clock's time."""
        return self.clock_time(self.customer_clock(customer_id))

    def customer_clock(self, customer_id: str | None) -> str | None:
        if not customer_id:
            return None
        customer = self.find("customer", customer_id)
        return customer.get("test_clock") if customer else None

    # storage ------------------------------------------------------------------------------
    def find(self, object_name: str, id_: str | None) -> dict[str, Any] | None:
        if not id_ or not isinstance(id_, str):
            return None
        return self.store.get(kind(object_name), id_)

    def get(self, object_name: str, id_: Any, param: str = "id") -> dict[str, Any]:
        obj = self.find(object_name, id_) if isinstance(id_, str) else None
        if obj is None or obj.get("deleted"):
            label = OBJECT_LABELS.get(object_name, object_name)
            raise resource_missing(label, str(id_), param)
        return obj

    def save(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.store.put(kind(obj["object"]), obj["id"], obj)
        return obj

    def all(self, object_name: str) -> list[dict[str, Any]]:
        return self.store.all(kind(object_name))

    def load_by_id(self, id_: str, field: str | None = None) -> dict[str, Any] | None:
        if field in FIELD_OBJECTS:
            return self.find(FIELD_OBJECTS[field], id_)
        for prefix, object_name in PREFIXES:
            if id_.startswith(prefix):
                return self.find(object_name, id_)
        return None

    # events -------------------------------------------------------------------------------
    def emit(
        self,
        type_: str,
        obj: dict[str, Any],
        *,
        created: int | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record an event with a snapshot of `obj` as it is now, rendered in the account's default
        API version of this moment (see `versions`): the snapshot never changes afterwards, and a
        restart with another `--stripe-api-version` renders only the events created after it."""
        version = self.config.stripe_api_version or API_VERSION
        object_name = obj["object"]
        data: dict[str, Any] = {"object": versions.render(object_name, obj, version, self)}
        if previous is not None:
            data["previous_attributes"] = versions.render(object_name, previous, version, self)
        event = {
            "id": self.new_id("evt_"),
            "object": "event",
            "api_version": version,
            "created": created if created is not None else self.wall_time(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": dict(self.request) if self.request else {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.save(event)
        self.event_index().append((event["id"], type_, event["created"]))
        return event

    def event_index(self) -> list[tuple[str, str, int]]:
        if self._event_index is None:
            self._event_index = [(e["id"], e["type"], e["created"]) for e in self.all("event")]
        return self._event_index

    # the sandbox account --------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        return account(self.store)

    def next_invoice_number(self) -> str:
        """Account-level sequential numbering, as Stripe's `invoice numbering: account` setting."""
        account = self.account()
        return f"{account['invoice_prefix']}-{self.store.next_value('stripe.invoice_number'):04d}"


def account(store: Store, *, name: str | None = None) -> dict[str, Any]:
    """The sandbox's own Stripe account: its name heads invoices and receipts."""
    record = store.get(internal("account"), "account")
    if record is not None and (not name or record["name"] == name):
        return record
    if record is None:
        record = {
            "id": "acct_" + "".join(secrets.choice(_ALPHABET) for _ in range(16)),
            "name": "Propale Sandbox",
            "country": "FR",
            "invoice_prefix": "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)),
        }
    if name:
        record["name"] = name
    store.put(internal("account"), "account", record)
    return record


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`previous_attributes` of an `*.updated` event: the old values of the top-level keys that changed."""
    return {key: copy.deepcopy(before.get(key)) for key in after if before.get(key) != after.get(key)}

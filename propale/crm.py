"""The HubSpot gateway: everything Propale reads from and writes to HubSpot's CRM.

It talks to HubSpot through the official `hubspot-api-client` and prefers batch endpoints, so
the number of calls grows with the number of *batches*, not of deals: one search page finds up
to 200 flagged deals, one batch read reads 100 objects (50 deals with their status history), one
associations read covers 1,000 deals.

Batch writes are judged record by record: HubSpot answers a batch whose records partly failed with
a 207 listing them in `errors`, and the callers keep those records for a later attempt.
"""

from __future__ import annotations

import enum
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import hubspot
import requests
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
)
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyUpdate,
)
from urllib3.util.retry import Retry

from propale.proposals import CompanyInput, DealInput, LineItemInput, PersonInput

log = logging.getLogger(__name__)

HUBSPOT_API_URL = "https://api.hubapi.com"
HUBSPOT_APP_URL = "https://app.hubspot.com"
ACCESS_TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"  # a private app token's scopes

# HubSpot's documented limits, which Propale stays within. Their values and sources are in the
# sandbox's table (propale/sandbox/hubspot/limits.py), which a test holds these to.
BATCH_LIMIT = 100  # inputs of an objects batch read, create or update
HISTORY_BATCH_READ_LIMIT = 50  # inputs of a batch read with propertiesWithHistory
ASSOCIATIONS_BATCH_LIMIT = 1000  # inputs of an associations v4 batch read
SEARCH_PAGE_LIMIT = 200  # objects per search page
# HubSpot allows 5 search requests per second per account, shared with the account's other apps.
SEARCH_REQUESTS_PER_SECOND = 4

# HubSpot's default association type ids (HUBSPOT_DEFINED category).
NOTE_TO_DEAL = 214
DEAL_TO_PRIMARY_COMPANY = 5

PROPERTY_GROUP = "propale"
STATUS = "propale_status"


class Status(enum.StrEnum):
    """A deal's Propale status: the values of `propale_status` (docs/contract.md), each with the label
    HubSpot shows. The one vocabulary for where a deal stands; the ledger's row states (a proposal
    drafted, replaced, expired; a delivery pending; a Checkout Session open) are another matter."""

    NOT_CREATED = "not_created"
    TO_PROPOSE = "to_propose"
    SENT = "sent"
    ACCEPTED = "accepted"
    ERROR = "error"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a value read from HubSpot (itself when an admin added an option of their own)."""
        return cls(value).label if value in cls._value2member_map_ else value


_STATUS_LABELS = {
    Status.NOT_CREATED: "Proposition non créée",
    Status.TO_PROPOSE: "À proposer",
    Status.SENT: "Proposition envoyée",
    Status.ACCEPTED: "Proposition acceptée",
    Status.ERROR: "Erreur",
}


@dataclass(frozen=True)
class PropertySpec:
    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    description: str = ""


DEAL_PROPERTIES = [
    PropertySpec(
        STATUS, "Statut Propale", "enumeration", "select", "Mettre « À proposer » pour envoyer une proposition."
    ),
    PropertySpec("propale_proposal_number", "Numéro de proposition"),
    PropertySpec("propale_proposal_url", "Lien de la proposition"),
    PropertySpec("propale_sent_at", "Proposition envoyée le", "datetime", "date"),
    PropertySpec("propale_accepted_at", "Proposition acceptée le", "datetime", "date"),
    PropertySpec("propale_payment_method", "Moyen de paiement choisi"),
    PropertySpec("propale_error", "Erreur Propale", "string", "textarea"),
    PropertySpec("stripe_customer_id", "Client Stripe"),
    PropertySpec("stripe_subscription_id", "Abonnement Stripe"),
    PropertySpec("stripe_invoice_id", "Facture Stripe"),
]

DEAL_READ_PROPERTIES = [
    "dealname",
    "deal_currency_code",
    "hubspot_owner_id",
    *(spec.name for spec in DEAL_PROPERTIES),
]
CONTACT_PROPERTIES = ["email", "firstname", "lastname"]
COMPANY_PROPERTIES = ["name", "address", "address2", "zip", "city", "country", "vat_number", "siren"]
# A line item's own properties (https://knowledge.hubspot.com/properties/hubspots-default-line-item-properties):
# `discount` is an amount off each unit, `hs_tax_rate_group_id` a rate of the account's tax library,
# `hs_tax_rate` its percentage.
LINE_ITEM_PROPERTIES = [
    "name",
    "quantity",
    "price",
    "hs_sku",
    "hs_product_id",
    "recurringbillingfrequency",
    "hs_recurring_billing_period",
    "hs_discount_percentage",
    "discount",
    "hs_tax_rate_group_id",
    "hs_tax_rate",
    "hs_line_item_currency_code",
]


class _LoggedRetry(Retry):
    """urllib3's retry policy, with a warning for each retry: urllib3 logs them at DEBUG only, so
    HubSpot's rate limits and outages would leave no trace in the task logs. The warning names the
    status and the API path, never the query or the body."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def]
        call = f"{method} {urlsplit(url or '').path}"
        if response is not None:
            what = f"HubSpot answered {response.status} to {call}"
        else:
            what = f"HubSpot could not be reached for {call} ({type(error).__name__})"
        exhausted = isinstance(self.total, int) and self.total <= 0
        log.warning("%s; %s", what, "giving up" if exhausted else "retrying")
        return super().increment(method, url, response, error, _pool, _stacktrace)


def make_client(access_token: str, host: str | None = None) -> hubspot.Client:
    """An official client that retries rate limits and server errors with exponential backoff."""
    retry = _LoggedRetry(
        total=6,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # HubSpot's batch writes are POSTs; each is safe to repeat (see callers)
        respect_retry_after_header=True,
    )
    return hubspot.Client.create(access_token=access_token, host=host or HUBSPOT_API_URL, retry=retry)


@dataclass
class DealRecord:
    """One deal as read from HubSpot, with what it is associated to (properties as strings)."""

    id: str
    properties: dict[str, str | None]
    contacts: list[dict[str, Any]] = field(default_factory=list)  # {"id", **properties}
    companies: list[dict[str, Any]] = field(default_factory=list)
    line_items: list[dict[str, Any]] = field(default_factory=list)
    owner: dict[str, Any] | None = None  # {"id", "email", "firstName", "lastName", "archived"}
    # The products its line items name (`hs_product_id`) that HubSpot still has, by id; a line
    # item naming another one comes from a product deleted since.
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    # When `propale_status` last took its current value: tells a rep's new request from a retry.
    status_set_at: str | None = None

    @property
    def name(self) -> str:
        return self.properties.get("dealname") or f"Deal {self.id}"

    @property
    def status(self) -> str:
        return self.properties.get(STATUS) or Status.NOT_CREATED


@dataclass
class PropertySetup:
    """What `ensure_deal_properties` found and did (names only: safe to log and to pass between tasks).

    HubSpot moves a deleted property to its recycle bin, where an admin can restore it with its
    values, and keeps its name taken meanwhile: Propale cannot create it again, only say so.
    """

    group_created: bool = False
    created: list[str] = field(default_factory=list)  # properties that did not exist
    options_added: list[str] = field(default_factory=list)  # `propale_status` values added back
    deleted: list[str] = field(default_factory=list)  # in HubSpot's recycle bin, until an admin restores them
    first_setup: bool = False  # none of Propale's properties existed: an install, not a repair

    @property
    def changes(self) -> list[str]:
        """What was created, as `propale setup` reports it."""
        group = [f"group {PROPERTY_GROUP}"] if self.group_created else []
        options = [f"{STATUS} options {', '.join(self.options_added)}"] if self.options_added else []
        return group + self.created + options

    @property
    def repaired(self) -> list[str]:
        """Properties created while others of Propale's existed (removed for good, or new): empty, values lost."""
        return [] if self.first_setup else self.created

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PropertySetup:
        return cls(**(data or {}))


@dataclass
class NoteRequest:
    deal_id: str
    body_html: str
    attachment_name: str | None = None
    attachment: bytes | None = None
    # The caller's name for this note (its delivery key), by which `create_notes` reports a refusal.
    key: str = ""


@dataclass(frozen=True)
class WriteRefusal:
    """Why HubSpot refused one record of a batch write: one entry of a 207's `errors`."""

    category: str
    message: str

    @property
    def record_missing(self) -> bool:
        """The record was deleted (or never existed): writing again cannot succeed."""
        return self.category == "OBJECT_NOT_FOUND"

    @property
    def reason(self) -> str:
        """As the ledger records it on the delivery HubSpot refused."""
        return f"{self.category}: {self.message}"


T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HubSpotGateway:
    def __init__(self, client: hubspot.Client, app_url: str = HUBSPOT_APP_URL, portal_id: str = ""):
        self.client = client
        self.app_url = app_url.rstrip("/")
        self.portal_id = portal_id
        self._last_search_at: float | None = None

    # --- setup -----------------------------------------------------------------------------

    def ensure_deal_properties(self) -> PropertySetup:
        """Create Propale's property group and deal properties, or add what is missing.

        Costs two reads when everything exists. Never changes labels or options a HubSpot admin
        added: it only adds missing properties and missing `propale_status` options. A property
        an admin deleted is still in HubSpot's recycle bin and keeps its name there: it is reported
        in `deleted` (restoring it brings its values back), not created under the same name.
        """
        properties_api = self.client.crm.properties
        setup = PropertySetup()
        groups = {group.name for group in properties_api.groups_api.get_all("deals").results}
        if PROPERTY_GROUP not in groups:
            properties_api.groups_api.create(
                "deals", PropertyGroupCreate(name=PROPERTY_GROUP, label="Propale", display_order=-1)
            )
            setup.group_created = True
        existing = {prop.name: prop for prop in properties_api.core_api.get_all("deals").results}
        missing = [spec for spec in DEAL_PROPERTIES if spec.name not in existing]
        if missing:
            in_recycle_bin = {prop.name for prop in properties_api.core_api.get_all("deals", archived=True).results}
            setup.deleted = [spec.name for spec in missing if spec.name in in_recycle_bin]
            absent = [spec for spec in missing if spec.name not in in_recycle_bin]
            setup.first_setup = len(absent) == len(DEAL_PROPERTIES)
            if absent:
                response = properties_api.batch_api.create(
                    "deals", BatchInputPropertyCreate(inputs=[self._property_create(spec) for spec in absent])
                )
                if getattr(response, "errors", None):
                    raise RuntimeError(
                        "HubSpot refused to create Propale's deal properties: "
                        + "; ".join(error.message for error in response.errors)
                    )
                setup.created = [spec.name for spec in absent]
        status = existing.get(STATUS)
        if status is not None:
            present = {option.value for option in status.options or []}
            absent_options = [status.value for status in Status if status.value not in present]
            if absent_options:
                options = [
                    OptionInput(
                        label=o.label,
                        value=o.value,
                        display_order=o.display_order,
                        hidden=o.hidden,
                        description=o.description,
                    )
                    for o in status.options or []
                ]
                options += [
                    OptionInput(label=Status(value).label, value=value, display_order=len(options) + i, hidden=False)
                    for i, value in enumerate(absent_options)
                ]
                properties_api.core_api.update("deals", STATUS, PropertyUpdate(options=options))
                setup.options_added = absent_options
        if setup.repaired:
            log.warning(
                "Propale deal properties missing in HubSpot were created (empty): %s", ", ".join(setup.repaired)
            )
        if setup.deleted:
            log.warning(
                "Propale deal properties are in HubSpot's recycle bin and cannot be created again under their name: %s. "
                "A HubSpot admin must restore them (Settings > Properties > Deals > Archived properties); "
                "until then Propale does without them",
                ", ".join(setup.deleted),
            )
        if setup.options_added and not setup.first_setup:
            log.warning("Options of %s deleted in HubSpot were added again: %s", STATUS, ", ".join(setup.options_added))
        return setup

    @staticmethod
    def _property_create(spec: PropertySpec) -> PropertyCreate:
        options = None
        if spec.type == "enumeration":
            options = [
                OptionInput(label=status.label, value=status.value, display_order=i, hidden=False)
                for i, status in enumerate(Status)
            ]
        return PropertyCreate(
            name=spec.name,
            label=spec.label,
            type=spec.type,
            field_type=spec.field_type,
            group_name=PROPERTY_GROUP,
            description=spec.description,
            options=options,
        )

    # --- reading ---------------------------------------------------------------------------

    def find_deal_ids(self, status: str) -> list[str]:
        """Ids of deals whose `propale_status` is `status`, in id order.

        Pages by `hs_object_id > last id seen` instead of the `after` cursor, so a batch of any
        size never meets search's 10,000-result cap. The search index lags writes by a few
        seconds: callers re-read each deal before acting, and a deal flagged a moment ago that
        search does not return yet is found by the next run.
        """
        ids: list[str] = []
        last_id = 0
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=[
                    {
                        "filters": [
                            {"propertyName": STATUS, "operator": "EQ", "value": status},
                            {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
                        ]
                    }
                ],
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                properties=["hs_object_id"],
                limit=SEARCH_PAGE_LIMIT,
            )
            self._pace_search()
            page = self.client.crm.deals.search_api.do_search(public_object_search_request=request)
            ids += [deal.id for deal in page.results]
            # `total` counts every match left: a full page that holds them all is the last one,
            # without a search that would come back empty (search has its own, tighter rate limit).
            if len(page.results) < SEARCH_PAGE_LIMIT or page.total == len(page.results):
                return ids
            last_id = int(page.results[-1].id)

    def _pace_search(self) -> None:
        """Keep to SEARCH_REQUESTS_PER_SECOND rather than meet search's 429s and their backoff."""
        interval = 1 / SEARCH_REQUESTS_PER_SECOND
        if self._last_search_at is not None:
            wait = self._last_search_at + interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_search_at = time.monotonic()

    def read_deals(self, deal_ids: Sequence[str]) -> dict[str, DealRecord]:
        """Deals with their contacts, companies, line items, products and owner, in batch calls.

        Deals that no longer exist are absent from the result.
        """
        deals = {
            obj.id: DealRecord(id=obj.id, properties=dict(obj.properties), status_set_at=_status_set_at(obj))
            for obj in self._batch_read("deals", deal_ids, DEAL_READ_PROPERTIES, with_history=[STATUS])
        }
        found = list(deals)
        links = {kind: self._associations("deals", kind, found) for kind in ("contacts", "companies", "line_items")}
        related = {
            kind: {
                obj.id: {"id": obj.id, **obj.properties}
                for obj in self._batch_read(kind, self._all_targets(links[kind]), props)
            }
            for kind, props in (
                ("contacts", CONTACT_PROPERTIES),
                ("companies", COMPANY_PROPERTIES),
                ("line_items", LINE_ITEM_PROPERTIES),
            )
        }
        product_ids = sorted(
            {item["hs_product_id"] for item in related["line_items"].values() if item.get("hs_product_id")}
        )
        products = {
            obj.id: {"id": obj.id, **obj.properties} for obj in self._batch_read("products", product_ids, ["price"])
        }
        owners = self.owners()
        for deal in deals.values():
            for kind in ("contacts", "companies", "line_items"):
                records = [related[kind][target] for target in links[kind].get(deal.id, []) if target in related[kind]]
                setattr(deal, kind, records)
            deal.products = {
                item["hs_product_id"]: products[item["hs_product_id"]]
                for item in deal.line_items
                if item.get("hs_product_id") in products
            }
            owner_id = deal.properties.get("hubspot_owner_id")
            deal.owner = owners.get(owner_id) if owner_id else None
        return deals

    def owners(self) -> dict[str, dict[str, Any]]:
        """Every owner by id, archived ones included (flagged) so a deal's rep can be explained."""
        owners: dict[str, dict[str, Any]] = {}
        for archived in (False, True):
            after = None
            while True:
                page = self.client.crm.owners.owners_api.get_page(limit=500, after=after, archived=archived)
                for owner in page.results:
                    owners[str(owner.id)] = {
                        "id": str(owner.id),
                        "email": owner.email,
                        "firstName": owner.first_name,
                        "lastName": owner.last_name,
                        "archived": archived,
                    }
                if not page.paging or not page.paging.next:
                    break
                after = page.paging.next.after
        return owners

    def _batch_read(
        self, object_type: str, ids: Iterable[str], properties: list[str], with_history: list[str] | None = None
    ) -> list[Any]:
        ids = list(dict.fromkeys(ids))
        results: list[Any] = []
        for batch in chunks(ids, HISTORY_BATCH_READ_LIMIT if with_history else BATCH_LIMIT):
            response = self.client.crm.objects.batch_api.read(
                object_type,
                BatchReadInputSimplePublicObjectId(
                    inputs=[{"id": id_} for id_ in batch],
                    properties=properties,
                    properties_with_history=with_history,
                ),
            )
            # A 207 lists ids that do not exist (archived, deleted) in `errors`: they are simply absent.
            results += response.results
        return results

    def _associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """Associated object ids per source id, the primary one (if labelled so) first."""
        links: dict[str, list[str]] = {}
        for batch in chunks(ids, ASSOCIATIONS_BATCH_LIMIT):
            response = self.client.crm.associations.v4.batch_api.get_page(
                from_type,
                to_type,
                BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": id_} for id_ in batch]),
            )
            for result in response.results:
                targets = sorted(result.to, key=lambda to: not _is_primary(to))
                links[str(result._from.id)] = [str(to.to_object_id) for to in targets]
        return links

    @staticmethod
    def _all_targets(links: dict[str, list[str]]) -> list[str]:
        return [target for targets in links.values() for target in targets]

    # --- writing ---------------------------------------------------------------------------

    def update_deals(self, updates: dict[str, dict[str, str]]) -> dict[str, WriteRefusal]:
        """Write properties on many deals; returns what HubSpot refused, by deal id (the rest is written).

        Setting the same properties twice is harmless, so a retried batch is safe.
        """
        refused: dict[str, WriteRefusal] = {}
        items = list(updates.items())
        for batch in chunks(items, BATCH_LIMIT):
            response = self.client.crm.deals.batch_api.update(
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[{"id": deal_id, "properties": properties} for deal_id, properties in batch]
                )
            )
            for error in getattr(response, "errors", None) or []:
                for deal_id in _error_context(error, "ids"):
                    refused[deal_id] = WriteRefusal(error.category, error.message)
        return refused

    def missing_deals(self, deal_ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """(deals HubSpot says do not exist, deals it could not read just now), in batch reads."""
        missing: set[str] = set()
        unreadable: set[str] = set()
        for batch in chunks(list(dict.fromkeys(deal_ids)), BATCH_LIMIT):
            response = self.client.crm.deals.batch_api.read(
                BatchReadInputSimplePublicObjectId(
                    inputs=[{"id": deal_id} for deal_id in batch], properties=["dealname"]
                )
            )
            found = {str(result.id) for result in response.results}
            for error in getattr(response, "errors", None) or []:
                ids = set(_error_context(error, "ids"))
                (missing if error.category == "OBJECT_NOT_FOUND" else unreadable).update(ids - found)
        return missing, unreadable

    def create_notes(self, notes: Sequence[NoteRequest], timestamp: str) -> dict[str, WriteRefusal]:
        """Put notes on deals' timelines, each with its attachment uploaded to HubSpot's files.

        Returns the notes HubSpot refused, by `NoteRequest.key` (the others are created). Each input
        carries its key as `objectWriteTraceId`, which makes HubSpot answer a partial failure with a
        207 naming the refused inputs rather than failing the whole batch
        (https://developers.hubspot.com/docs/api-reference/error-handling, "Multi-status errors").
        """
        keys = [note.key or str(index) for index, note in enumerate(notes)]
        if len(set(keys)) != len(keys):
            raise ValueError("each note of a batch needs its own key")
        inputs = []
        for key, note in zip(keys, notes, strict=True):
            properties = {"hs_note_body": note.body_html, "hs_timestamp": timestamp}
            if note.attachment is not None:
                properties["hs_attachment_ids"] = self.upload_file(
                    note.attachment_name or "document.pdf", note.attachment
                )
            inputs.append(
                {
                    "objectWriteTraceId": key,
                    "properties": properties,
                    "associations": [
                        {
                            "to": {"id": note.deal_id},
                            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}],
                        }
                    ],
                }
            )
        refused: dict[str, WriteRefusal] = {}
        for batch in chunks(inputs, BATCH_LIMIT):
            response = self.client.crm.objects.notes.batch_api.create(
                BatchInputSimplePublicObjectBatchInputForCreate(inputs=list(batch))
            )
            for error in getattr(response, "errors", None) or []:
                for key in _error_context(error, "objectWriteTraceId"):
                    refused[key] = WriteRefusal(error.category, error.message)
        return refused

    def upload_file(self, name: str, content: bytes) -> str:
        """Upload a private file (HubSpot has no batch upload) and return its id."""
        # The official client uploads from a path only.
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, name)
            with open(path, "wb") as file:
                file.write(content)
            response = self.client.files.files_api.upload(
                file=path,
                file_name=name,
                folder_path="/propale",
                options='{"access": "PRIVATE", "overwrite": false}',
            )
        return str(response.id)

    def deal_url(self, deal_id: str) -> str:
        return f"{self.app_url}/contacts/{self.portal_id or '0'}/record/0-3/{deal_id}"

    # --- the connection itself --------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return str(self.client.config.get("host") or HUBSPOT_API_URL).rstrip("/")

    def access_token_info(self) -> requests.Response:
        """HubSpot's answer about the connection's private-app token (its app, account and scopes),
        unjudged: `propale setup` tells a refused token from an outage by its status.

        The endpoint is documented at the end of
        https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview; the pinned
        hubspot-api-client has no method for it (its access-token API is for OAuth tokens only).
        Raises `requests.RequestException` when HubSpot cannot be reached."""
        # The client's own generic request (`api_request`) sends the token as a Bearer header,
        # which HubSpot requires on this endpoint for EU-hosted accounts' tokens.
        response: requests.Response = self.client.api_request(
            {
                "method": "POST",
                "path": ACCESS_TOKEN_INFO_PATH,
                "body": {"tokenKey": self.client.access_token},
                "base_url": self.api_url,
            }
        )
        return response


def hubspot_datetime(moment: datetime) -> str:
    """A datetime property value as HubSpot writes them: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_primary(associated: Any) -> bool:
    return any(kind.type_id == DEAL_TO_PRIMARY_COMPANY for kind in associated.association_types or [])


def _status_set_at(deal: Any) -> str | None:
    """When the deal's `propale_status` took its current value (HubSpot lists history newest first)."""
    history = (getattr(deal, "properties_with_history", None) or {}).get(STATUS) or []
    current = deal.properties.get(STATUS)
    for entry in history:
        if entry.value == current:
            return entry.timestamp.isoformat() if hasattr(entry.timestamp, "isoformat") else str(entry.timestamp)
    return None


def _person(record: dict[str, Any] | None, first_name: str, last_name: str) -> PersonInput | None:
    if record is None:
        return None
    return PersonInput(
        id=record["id"], email=record.get("email"), first_name=record.get(first_name), last_name=record.get(last_name)
    )


def deal_input(record: DealRecord) -> DealInput:
    """What the proposal logic needs of a deal, in its own terms."""
    contact = record.contacts[0] if record.contacts else None
    company = record.companies[0] if record.companies else None
    owner = record.owner
    return DealInput(
        id=record.id,
        name=record.name,
        currency=record.properties.get("deal_currency_code"),
        # Owners come from the owners API (camelCase), contacts from the CRM (lower-case properties).
        owner=_person(owner, "firstName", "lastName"),
        contact=_person(contact, "firstname", "lastname"),
        company=CompanyInput(
            id=company["id"],
            name=company.get("name"),
            address_lines=tuple(line for line in (company.get("address"), company.get("address2")) if line),
            postal_code=company.get("zip"),
            city=company.get("city"),
            country=company.get("country"),
            vat_number=company.get("vat_number"),
            siren=company.get("siren"),
        )
        if company
        else None,
        line_items=tuple(
            LineItemInput(
                id=item["id"],
                name=item.get("name"),
                quantity=item.get("quantity"),
                price=item.get("price"),
                sku=item.get("hs_sku"),
                product_id=item.get("hs_product_id"),
                recurring_billing_frequency=item.get("recurringbillingfrequency"),
                discount_percentage=item.get("hs_discount_percentage"),
                tax_rate=item.get("hs_tax_rate"),
                currency=item.get("hs_line_item_currency_code"),
                product_archived=bool(item.get("hs_product_id")) and item["hs_product_id"] not in record.products,
                discount=item.get("discount"),
                term=item.get("hs_recurring_billing_period"),
                tax_rate_group_id=item.get("hs_tax_rate_group_id"),
                product_price=record.products.get(item.get("hs_product_id") or "", {}).get("price"),
            )
            for item in sorted(record.line_items, key=lambda item: int(item["id"]))
        ),
    )


def _error_context(error: Any, name: str) -> list[str]:
    """Which records one entry of a 207's `errors` is about (`ids` for updates and reads,
    `objectWriteTraceId` for creates)."""
    context = getattr(error, "context", None) or {}
    return [str(value) for value in context.get(name) or []]

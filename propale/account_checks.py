"""Checks of the connected HubSpot and Stripe accounts, for `propale setup`.

Each check asks the account what it allows and says in plain words what is wrong and what to do:
the HubSpot private app's scopes, the Stripe account's default API version, and whether the
payment methods Propale offers are on for Checkout. A check never raises: a refused key or an
unreachable API is itself the finding. The seller's settings are checked too, for the mentions
French law requires on invoices (`check_seller_mentions`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import stripe

from propale.crm import ACCESS_TOKEN_INFO_PATH, HubSpotGateway
from propale.invoice_mentions import LEGAL_DEFAULT_PENALTIES
from propale.settings import Seller, SettingsError

# The scopes Propale's HubSpot calls need, with what each is for. docs/configuration.md's table under
# `hubspot_default` lists the same (tests/propale/test_setup.py keeps them in step). Names are the
# ones HubSpot's API reference gives for each endpoint; notes take a contacts scope, as the notes
# guide says (https://developers.hubspot.com/docs/api-reference/latest/crm/activities/notes/guide).
HUBSPOT_SCOPES: dict[str, str] = {
    "crm.objects.deals.read": "search flagged deals, read them and their property history",
    "crm.objects.deals.write": "write the status, proposal number, link, dates, Stripe ids back",
    "crm.schemas.deals.write": "create the `propale` property group and deal properties (`propale setup`, and the first task of each run)",
    "crm.objects.contacts.read": "the deal's contact (name, email)",
    "crm.objects.contacts.write": "create notes on the deal's timeline (HubSpot's notes API asks for this scope)",
    "crm.objects.companies.read": "the customer's company (name, address, VAT number, SIREN)",
    "crm.objects.line_items.read": "the deal's line items",
    "crm.objects.products.read": "the products behind them",
    "crm.objects.owners.read": "the rep (deal owner): name and email",
    "files": "upload the proposal PDF attached to the note",
}

PRIVATE_APPS_PAGE = "HubSpot › Settings › Integrations › Private apps"

PAYMENT_METHOD_NAMES = {"card": "Cards", "sepa_debit": "SEPA Direct Debit"}
PAYMENT_METHODS_PAGE = "Stripe Dashboard › Settings › Payments › Payment methods"

T = TypeVar("T")


class Level(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"  # Propale would fail on this account: `propale setup` exits 1


@dataclass(frozen=True)
class Finding:
    level: Level
    subject: str
    message: str

    def line(self) -> str:
        return f"{self.level.value.upper():<7} {self.subject}: {self.message}"


SELLER_MENTIONS = "Seller's invoice mentions"
HUBSPOT_CONNECTION = "HubSpot connection"
HUBSPOT_APP = "HubSpot private app"
STRIPE_CONNECTION = "Stripe connection"


def check_hubspot_token(gateway: HubSpotGateway, required: dict[str, str] = HUBSPOT_SCOPES) -> Finding:
    """The private app's scopes (from HubSpot's access-token info) against the ones Propale needs."""
    subject = HUBSPOT_APP
    host = gateway.api_url
    try:
        response = gateway.access_token_info()
    except requests.RequestException as error:
        return Finding(
            Level.WARNING,
            subject,
            f"not checked: HubSpot could not be reached at {host} ({type(error).__name__}); check the host of the "
            "HubSpot connection, or run `propale setup` again later",
        )
    if response.status_code in (401, 403, 404):
        return Finding(
            Level.ERROR,
            subject,
            f"HubSpot does not recognise the connection's access token (HTTP {response.status_code}): "
            f"copy it again from {PRIVATE_APPS_PAGE} › your app › Auth (a private app token starts with pat-)",
        )
    if response.status_code == 429 or response.status_code >= 500:
        # An outage or a rate limit says nothing about the account: not a reason to fail setup.
        return Finding(
            Level.WARNING,
            subject,
            f"not checked: HubSpot answered HTTP {response.status_code}; run `propale setup` again later",
        )
    if response.status_code != 200:
        return Finding(
            Level.ERROR, subject, f"HubSpot answered HTTP {response.status_code} to {ACCESS_TOKEN_INFO_PATH}"
        )
    info = _json(response)
    granted = set(info.get("scopes") or [])
    missing = [scope for scope in required if scope not in granted]
    where = f"app {info.get('appId', '?')} in HubSpot account {info.get('hubId', '?')}"
    if missing:
        return Finding(
            Level.ERROR,
            subject,
            f"{where} lacks the scope{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            f"add {'them' if len(missing) > 1 else 'it'} in {PRIVATE_APPS_PAGE} › your app › Scopes, then commit the changes",
        )
    return Finding(Level.OK, subject, f"{where} has the {len(required)} scopes Propale needs")


def check_seller_mentions(seller: Seller) -> list[Finding]:
    """The mentions every invoice must carry that only the seller can give (`propale_seller`).

    The SIREN and VAT number are required by the settings (see `seller_settings_error`). The
    late-payment penalty rate has a legal default, and a VAT exemption ground is only needed for
    0 % VAT lines: unset, they are warnings that say what happens. See `propale.invoice_mentions`
    for the law behind each.
    """
    findings = []
    if seller.late_payment_penalties is None:
        findings.append(
            Finding(
                Level.WARNING,
                SELLER_MENTIONS,
                "late_payment_penalties is not set in propale_seller: invoices print the legal default rate "
                f"(« {LEGAL_DEFAULT_PENALTIES} »); set it to the rate of your terms of sale if they agree another",
            )
        )
    if seller.vat_exemption_mention is None:
        findings.append(
            Finding(
                Level.WARNING,
                SELLER_MENTIONS,
                "vat_exemption_mention is not set in propale_seller: deals with a 0 % VAT line are refused until "
                "it is set to the legal ground printed on their invoices (e.g. « Autoliquidation » or "
                "« TVA non applicable, art. 293 B du CGI »)",
            )
        )
    if not findings:
        findings.append(
            Finding(
                Level.OK,
                SELLER_MENTIONS,
                "SIREN, VAT number, late-payment penalty rate and VAT exemption ground are set",
            )
        )
    return findings


def seller_settings_error(error: SettingsError) -> Finding:
    """`propale_seller` is missing or lacks a mandatory field (SIREN, VAT number…): no proposal can go out."""
    return Finding(Level.ERROR, SELLER_MENTIONS, f"{error} No proposal can be sent until it is fixed.")


def check_stripe_api_version(client: stripe.StripeClient, pinned: str = stripe.api_version) -> Finding:
    """The account's default API version, as the latest event shows it.

    Stripe renders an event's `data.object` in the account's default API version at the time the
    event is created and records it as the event's `api_version`
    (https://docs.stripe.com/api/events/object, https://docs.stripe.com/api/versioning); the
    library always sends its pinned version, so no other answer shows the default. Propale re-reads
    every object at its pinned version, so a different default only needs to be known.
    """
    subject = "Stripe API version"
    try:
        events = client.v1.events.list({"limit": 1})
    except stripe.StripeError as error:
        return _stripe_failure(subject, error, "Events: Read")
    if not events.data:
        return Finding(
            Level.OK,
            subject,
            f"no event on this account yet to read its default API version from (Stripe's Workbench shows it); "
            f"Propale uses {pinned}",
        )
    version = events.data[0].api_version
    if version == pinned:
        return Finding(Level.OK, subject, f"the account's default is {version}, the version Propale uses")
    return Finding(
        Level.WARNING,
        subject,
        f"the account's default is {version} (its latest event's), Propale uses {pinned}: Stripe renders "
        f"events in {version} and Propale re-reads each object in {pinned}, so nothing to do for Propale",
    )


def check_stripe_payment_methods(client: stripe.StripeClient, methods: Sequence[str]) -> list[Finding]:
    """Each method Propale offers must be available in the configuration Checkout uses.

    Checkout Sessions are created with `allowed_payment_method_types: [method]`, which only filters
    the methods the account's payment method configuration makes eligible; without
    `payment_method_configuration`, Checkout uses the account's default configuration
    (https://docs.stripe.com/api/payment_method_configurations,
    https://docs.stripe.com/payments/multiple-payment-method-configs). A method is offered when
    its `available` is true: `display_preference.value` is `on` and its capability is active.
    """
    try:
        configurations = client.v1.payment_method_configurations.list({"limit": 100})
    except stripe.StripeError as error:
        return [_stripe_failure("Stripe payment methods", error, "Payment Method Configurations: Read")]
    default = next(
        (c for c in configurations.data if c.is_default and c.active and not getattr(c, "parent", None)),
        None,
    )
    if default is None:
        return [
            Finding(
                Level.ERROR,
                "Stripe payment methods",
                f"the account has no active default payment method configuration: open {PAYMENT_METHODS_PAGE} "
                "and turn on Cards and SEPA Direct Debit",
            )
        ]
    return [_method_finding(default, method) for method in methods]


def _method_finding(configuration: Any, method: str) -> Finding:
    name = PAYMENT_METHOD_NAMES.get(method, method)
    subject = f"Stripe Checkout, {name}"
    where = f'payment method configuration "{configuration.name}" ({configuration.id})'
    # The library's objects are not dicts: a method the configuration omits is a missing attribute.
    entry = getattr(configuration, method, None)
    if entry is not None and entry.available:
        return Finding(Level.OK, subject, f"on in the {where}")
    preference = getattr(entry, "display_preference", None)
    if preference is not None and preference.value == "on":
        return Finding(
            Level.ERROR,
            subject,
            f"turned on in the {where} but not available: Stripe has not activated {name} on this account; "
            f"finish its activation in {PAYMENT_METHODS_PAGE}, or customers who choose it cannot pay",
        )
    return Finding(
        Level.ERROR,
        subject,
        f"off in the {where}, which Checkout uses: turn {name} on in {PAYMENT_METHODS_PAGE}, "
        "or customers who choose it cannot pay",
    )


def _stripe_failure(subject: str, error: stripe.StripeError, permission: str) -> Finding:
    """What a refused Stripe call means for the admin; an outage or a rate limit is only a warning."""
    if isinstance(error, stripe.AuthenticationError):
        return Finding(
            Level.ERROR,
            STRIPE_CONNECTION,
            "Stripe refused the connection's secret key: copy it again from the Stripe Dashboard › Developers › API keys",
        )
    if isinstance(error, stripe.PermissionError):
        return Finding(
            Level.ERROR,
            subject,
            f"the restricted key lacks a permission ({error.user_message or error}): give it {permission}",
        )
    if isinstance(error, stripe.APIConnectionError):
        return Finding(
            Level.WARNING,
            STRIPE_CONNECTION,
            "not checked: Stripe could not be reached; check the host of the Stripe connection, or run `propale setup` again later",
        )
    status = error.http_status or 0
    if status == 429 or status >= 500:
        return Finding(
            Level.WARNING, subject, f"not checked: Stripe answered HTTP {status}; run `propale setup` again later"
        )
    return Finding(Level.ERROR, subject, f"Stripe answered HTTP {status or '?'}: {error.user_message or error}")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.level is Level.ERROR for finding in findings)


def hubspot_usable(findings: Iterable[Finding]) -> bool:
    """Whether the HubSpot connection and token passed, so that HubSpot can be written to."""
    return not any(f.level is Level.ERROR and f.subject in (HUBSPOT_CONNECTION, HUBSPOT_APP) for f in findings)


def check_accounts(
    connect_hubspot: Callable[[], HubSpotGateway],
    connect_stripe: Callable[[], stripe.StripeClient],
    payment_methods: Sequence[str],
) -> list[Finding]:
    """Every check, in the order an admin fixes things; a connection that cannot be built is a finding."""
    findings: list[Finding] = []
    gateway = _connect(HUBSPOT_CONNECTION, connect_hubspot, findings)
    if gateway is not None:
        findings.append(check_hubspot_token(gateway))
    stripe_client = _connect(STRIPE_CONNECTION, connect_stripe, findings)
    if stripe_client is not None:
        version = check_stripe_api_version(stripe_client)
        findings.append(version)
        if version.subject != STRIPE_CONNECTION:  # a refused key or no answer at all: said once is enough
            findings.extend(check_stripe_payment_methods(stripe_client, payment_methods))
    return findings


def _connect(subject: str, connect: Callable[[], T], findings: list[Finding]) -> T | None:
    try:
        return connect()
    except Exception as error:  # a missing Airflow connection, an empty password: say which
        findings.append(Finding(Level.ERROR, subject, str(error) or type(error).__name__))
        return None

"""The Stripe side of an accepted proposal: customer, catalogue, tax rates and Checkout Session.

Every write carries an idempotency key derived from what it is for (a contact, a proposal version
and payment method…), so a double click, a retried request or a crash between two calls never
creates a second customer or session. Amounts come from the proposal's frozen snapshot only.

Request parameters are typed with `stripe.params`' TypedDicts, so mypy (`make lint`) refuses a
parameter that Stripe's API version, as the pinned client knows it, removed or never had.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import stripe
from stripe.params import (
    CustomerCreateParams,
    CustomerCreateParamsAddress,
    CustomerCreateParamsInvoiceSettings,
    CustomerCreateParamsTaxIdDatum,
    CustomerUpdateParams,
    SubscriptionUpdateParams,
)
from stripe.params.checkout import (
    SessionCreateParams,
    SessionCreateParamsLineItem,
    SessionCreateParamsLineItemPriceData,
)

from propale.invoice_mentions import invoice_mentions
from propale.proposals import ProposalLine, ProposalSnapshot
from propale.rendering import shorten

# Stripe refuses longer strings (maxLength in its OpenAPI spec); HubSpot allows far longer names.
# What Stripe shows is then cut with "…"; the proposal and invoices from Propale keep the whole name.
CUSTOMER_NAME_MAX = 256
PRODUCT_NAME_MAX = 5000


@dataclass(frozen=True)
class CheckoutRequest:
    """One Checkout Session to open for a proposal version and payment method.

    `attempt` counts the sessions already opened for that version and method (0 for the first):
    it is part of the idempotency key, so a replacement for an expired session is a new session
    while two clicks on the same page get the same one.
    """

    snapshot: ProposalSnapshot
    method: str  # "card" or "sepa_debit"
    customer_id: str
    success_url: str
    cancel_url: str
    attempt: int = 0


class StripeBilling:
    """Propale's writes to one Stripe account, on behalf of the installation whose ledger has
    `installation_id` (`Ledger.installation_id`)."""

    def __init__(self, client: stripe.StripeClient, installation_id: str):
        self.client = client
        self.installation_id = installation_id
        self._tax_rates: dict[Decimal, str] = {}

    def _key(self, *parts: object) -> str:
        """An idempotency key: what the write is for, behind the installation's id.

        Stripe answers a key it has seen in the last 24 hours with its first response, whoever sends
        it (https://docs.stripe.com/api/idempotent_requests). Without the id, a second installation
        on the same account (a staging copy, another company's Propale), or a ledger started afresh,
        whose numbering starts over, would be handed the customers and Checkout Sessions of the
        other's proposals with the same numbers.
        """
        return ":".join(("propale", self.installation_id, *(str(part) for part in parts)))

    # --- customer ---------------------------------------------------------------------------

    def find_customer(self, snapshot: ProposalSnapshot) -> str | None:
        """The Stripe customer already created for the proposal's HubSpot contact, if any.

        Listing by email is read-after-write consistent, unlike Stripe's search, so an earlier
        acceptance of another proposal by the same contact is always found.
        """
        customer = snapshot.customer
        listing = self.client.v1.customers.list({"email": customer.email, "limit": 100})
        for candidate in listing.auto_paging_iter():
            if candidate.metadata and candidate.metadata.to_dict().get("hubspot_contact_id") == customer.contact_id:
                return candidate.id
        return None

    def customer_for(self, snapshot: ProposalSnapshot) -> str:
        """The Stripe customer to charge for an accepted proposal: the contact's, brought up to date
        with the snapshot's company (address, tax ids, invoice mentions), or a new one."""
        customer_id = self.find_customer(snapshot)
        if customer_id is None:
            return self.create_customer(snapshot)
        self.update_customer(customer_id, snapshot)
        return customer_id

    def create_customer(self, snapshot: ProposalSnapshot) -> str:
        """A Stripe customer for the proposal's contact and company (the caller keeps its id).

        The key is per proposal number, so retries of one acceptance reuse one customer; callers
        look for the contact's existing customer first (`customer_for`).
        https://docs.stripe.com/api/customers/create
        """
        customer = snapshot.customer
        params: CustomerCreateParams = {
            "email": customer.email,
            "name": shorten(customer.company_name or customer.contact_name, CUSTOMER_NAME_MAX),
            "preferred_locales": ["fr"],
            "invoice_settings": _invoice_settings(snapshot),
            "metadata": {
                "hubspot_contact_id": customer.contact_id,
                "hubspot_company_id": customer.company_id or "",
                "hubspot_deal_id": snapshot.deal_id,
            },
        }
        address = _address(snapshot)
        if address:
            params["address"] = address
        tax_ids = _tax_ids(snapshot)
        if tax_ids:
            params["tax_id_data"] = tax_ids
        created = self.client.v1.customers.create(params, {"idempotency_key": self._key("customer", snapshot.number)})
        return created.id

    def update_customer(self, customer_id: str, snapshot: ProposalSnapshot) -> None:
        """Bring the contact's existing customer in line with the snapshot: what its invoices print.

        Tax ids are not updatable on the customer (https://docs.stripe.com/api/customers/update):
        the missing ones are created one by one (https://docs.stripe.com/api/tax_ids/customer_create);
        one already there is kept. Every write is keyed by the proposal version, the same on retries.
        """
        customer = snapshot.customer
        params: CustomerUpdateParams = {
            "name": shorten(customer.company_name or customer.contact_name, CUSTOMER_NAME_MAX),
            "preferred_locales": ["fr"],
            "invoice_settings": _invoice_settings(snapshot),
        }
        address = _address(snapshot)
        if address:
            params["address"] = address
        self.client.v1.customers.update(
            customer_id, params, {"idempotency_key": self._key("customer-update", snapshot.number, snapshot.version)}
        )
        existing = {
            (tax_id.type, tax_id.value)
            for tax_id in self.client.v1.customers.tax_ids.list(customer_id, {"limit": 100}).auto_paging_iter()
        }
        for tax_id in _tax_ids(snapshot):
            if (tax_id["type"], tax_id["value"]) not in existing:
                self.client.v1.customers.tax_ids.create(
                    customer_id,
                    {"type": tax_id["type"], "value": tax_id["value"]},
                    {"idempotency_key": self._key("tax-id", customer_id, tax_id["type"], tax_id["value"])},
                )

    # --- catalogue --------------------------------------------------------------------------

    def _product(self, line: ProposalLine, price_data: SessionCreateParamsLineItemPriceData) -> None:
        """Sets `product` (one Stripe product per HubSpot product, reused) or inline `product_data`."""
        name = shorten(line.name, PRODUCT_NAME_MAX)
        if not line.product_id:
            price_data["product_data"] = {"name": name}
            return
        product_id = f"hubspot_product_{line.product_id}"
        try:
            self.client.v1.products.retrieve(product_id)
        except stripe.InvalidRequestError as error:
            if error.http_status != 404:
                raise
            try:
                self.client.v1.products.create(
                    {"id": product_id, "name": name, "metadata": {"hubspot_product_id": line.product_id}},
                    {"idempotency_key": self._key("product", line.product_id)},
                )
            except stripe.InvalidRequestError as conflict:
                if conflict.code != "resource_already_exists":  # created meanwhile by another click
                    raise
        price_data["product"] = product_id

    def _tax_rate(self, rate: Decimal) -> str:
        """The exclusive French VAT tax rate of this percentage, created once."""
        if rate not in self._tax_rates:
            for tax_rate in self.client.v1.tax_rates.list(
                {"active": True, "inclusive": False, "limit": 100}
            ).auto_paging_iter():
                is_vat = tax_rate.metadata is not None and tax_rate.metadata.to_dict().get("propale") == "vat"
                if Decimal(str(tax_rate.percentage)) == rate and is_vat:
                    self._tax_rates[rate] = tax_rate.id
                    break
            else:
                created = self.client.v1.tax_rates.create(
                    {
                        "display_name": "TVA",
                        "percentage": float(rate),
                        "inclusive": False,
                        "country": "FR",
                        "jurisdiction": "FR",
                        "metadata": {"propale": "vat"},
                    },
                    {"idempotency_key": self._key("tax-rate", rate)},
                )
                self._tax_rates[rate] = created.id
        return self._tax_rates[rate]

    def _line_item(self, line: ProposalLine, currency: str) -> SessionCreateParamsLineItem:
        price_data: SessionCreateParamsLineItemPriceData = {"currency": currency, "unit_amount": line.net_unit_price}
        self._product(line, price_data)
        if line.interval is not None:
            price_data["recurring"] = {
                "interval": line.interval.stripe_interval,
                "interval_count": line.interval.stripe_interval_count,
            }
        return {"price_data": price_data, "quantity": line.quantity, "tax_rates": [self._tax_rate(line.vat_rate)]}

    # --- checkout ---------------------------------------------------------------------------

    def create_checkout_session(self, request: CheckoutRequest) -> stripe.checkout.Session:
        """A Checkout Session for one proposal version, method and attempt; the same one on every retry.

        Recurring lines make it a subscription (one-off lines go on its first invoice); otherwise
        it is a payment whose invoice Stripe creates once paid. The session keeps Stripe's default
        lifetime (24 hours): a lifetime computed from the clock would change the parameters
        between two clicks, and Stripe refuses an idempotency key reused with other parameters.
        """
        snapshot = request.snapshot
        metadata = {
            "hubspot_deal_id": snapshot.deal_id,
            "proposal_number": snapshot.number,
            "proposal_version": str(snapshot.version),
        }
        # Checkout lost `payment_method_types` at API version 2026-09-30.endive, which the pinned
        # client sends (https://docs.stripe.com/changelog/endive/2026-09-30/remove-payment-method-types-checkout-sessions,
        # https://docs.stripe.com/api/checkout/sessions/create). `allowed_payment_method_types`
        # only filters the methods the Stripe account offers dynamically: for an admin, every
        # method in `propale_payment_methods` must be turned on in the Stripe Dashboard (Settings >
        # Payment methods, the account's payment method configuration). One that is not is dropped
        # silently, and a session left with no method is refused ("No valid payment method types").
        params: SessionCreateParams = {
            "customer": request.customer_id,
            "allowed_payment_method_types": [request.method],
            "line_items": [self._line_item(line, snapshot.currency) for line in snapshot.lines],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "locale": "fr",
            "client_reference_id": snapshot.number,
            "metadata": metadata,
        }
        if snapshot.recurring_lines:
            params["mode"] = "subscription"
            params["subscription_data"] = {"metadata": metadata}
        else:
            params["mode"] = "payment"
            mentions = invoice_mentions(snapshot)
            # The invoice Checkout issues once paid takes the mentions of its own
            # (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-invoice_creation-invoice_data);
            # a subscription's invoices take the customer's (`invoice_settings`, set with the customer).
            params["invoice_creation"] = {
                "enabled": True,
                "invoice_data": {
                    "metadata": metadata,
                    "custom_fields": [{"name": name, "value": value} for name, value in mentions.custom_fields],
                    "footer": mentions.footer,
                },
            }
            params["payment_intent_data"] = {"metadata": metadata}
        key = self._key("checkout", snapshot.number, snapshot.version, request.method, request.attempt)
        return self.client.v1.checkout.sessions.create(params, {"idempotency_key": key})

    def retrieve_checkout_session(self, session_id: str) -> stripe.checkout.Session:
        return self.client.v1.checkout.sessions.retrieve(session_id)

    def expire_checkout_session(self, session_id: str) -> stripe.checkout.Session:
        """Close an open session so that it can no longer be paid; returns the session as it ends up.

        A session paid in the meantime cannot be expired: it is returned as it is (complete).
        """
        try:
            return self.client.v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError:
            return self.client.v1.checkout.sessions.retrieve(session_id)

    # --- subscriptions ----------------------------------------------------------------------

    def end_subscription_at(self, subscription_id: str, cancel_at: int, *, number: str, version: int) -> None:
        """Have Stripe end the subscription at `cancel_at` (a Unix time), the end of the commitment of
        proposal `number` version `version` (the idempotency key: once per version).

        No proration: the term ends on a period boundary, and a commitment is billed in whole
        periods (https://docs.stripe.com/api/subscriptions/update#update_subscription-cancel_at,
        https://docs.stripe.com/api/subscriptions/update#update_subscription-proration_behavior).
        """
        params: SubscriptionUpdateParams = {"cancel_at": cancel_at, "proration_behavior": "none"}
        key = self._key("term", number, version)
        self.client.v1.subscriptions.update(subscription_id, params, {"idempotency_key": key})


def _address(snapshot: ProposalSnapshot) -> CustomerCreateParamsAddress | None:
    """The company's postal address as Stripe prints it on invoices. `country` is the ISO 3166-1
    alpha-2 code Stripe asks for (https://docs.stripe.com/api/customers/create#create_customer-address-country);
    a country HubSpot's text does not name clearly is left out rather than guessed."""
    postal = snapshot.customer.postal_address
    if postal is None:
        return None
    address: CustomerCreateParamsAddress = {}
    if postal.line1:
        address["line1"] = postal.line1
    if postal.line2:
        address["line2"] = postal.line2
    if postal.postal_code:
        address["postal_code"] = postal.postal_code
    if postal.city:
        address["city"] = postal.city
    if postal.country_code:
        address["country"] = postal.country_code
    return address or None


def _tax_ids(snapshot: ProposalSnapshot) -> list[CustomerCreateParamsTaxIdDatum]:
    """The company's intra-EU VAT number and SIREN where HubSpot has them; Stripe prints a
    customer's tax ids on its invoices (https://docs.stripe.com/billing/customer/tax-ids; `fr_siren`
    since https://docs.stripe.com/changelog/endive/2026-10-28/customer-tax-id-types)."""
    customer = snapshot.customer
    tax_ids: list[CustomerCreateParamsTaxIdDatum] = []
    if customer.vat_number:
        tax_ids.append({"type": "eu_vat", "value": "".join(customer.vat_number.split()).upper()})
    if customer.siren:
        tax_ids.append({"type": "fr_siren", "value": "".join(customer.siren.split())})
    return tax_ids


def _invoice_settings(snapshot: ProposalSnapshot) -> CustomerCreateParamsInvoiceSettings:
    """The customer's invoice defaults: the mentions every invoice of a subscription prints
    (https://docs.stripe.com/api/customers/create#create_customer-invoice_settings)."""
    mentions = invoice_mentions(snapshot)
    return {
        "custom_fields": [{"name": name, "value": value} for name, value in mentions.custom_fields],
        "footer": mentions.footer,
    }

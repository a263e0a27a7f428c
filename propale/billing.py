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
from stripe.params import CustomerCreateParams
from stripe.params.checkout import (
    SessionCreateParams,
    SessionCreateParamsLineItem,
    SessionCreateParamsLineItemPriceData,
)

from propale.proposals import ProposalLine, ProposalSnapshot
from propale.rendering import shorten

# Stripe refuses longer strings (maxLength in its OpenAPI spec); HubSpot allows far longer names.
# What Stripe shows is then cut with "…"; the proposal and invoices from Propale keep the whole name.
CUSTOMER_NAME_MAX = 256
PRODUCT_NAME_MAX = 5000


def _key(*parts: object) -> str:
    return "propale:" + ":".join(str(part) for part in parts)


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
    def __init__(self, client: stripe.StripeClient):
        self.client = client
        self._tax_rates: dict[Decimal, str] = {}

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

    def create_customer(self, snapshot: ProposalSnapshot) -> str:
        """A Stripe customer for the proposal's contact and company (the caller keeps its id).

        The key is per proposal number, so retries of one acceptance reuse one customer; callers
        look for the contact's existing customer first (`find_customer`).
        """
        customer = snapshot.customer
        params: CustomerCreateParams = {
            "email": customer.email,
            "name": shorten(customer.company_name or customer.contact_name, CUSTOMER_NAME_MAX),
            "preferred_locales": ["fr"],
            "metadata": {
                "hubspot_contact_id": customer.contact_id,
                "hubspot_company_id": customer.company_id or "",
                "hubspot_deal_id": snapshot.deal_id,
            },
        }
        if customer.address_lines:
            params["address"] = {"line1": customer.address_lines[0], "line2": " ".join(customer.address_lines[1:])}
        created = self.client.v1.customers.create(params, {"idempotency_key": _key("customer", snapshot.number)})
        return created.id

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
                    {"idempotency_key": _key("product", line.product_id)},
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
                    {"idempotency_key": _key("tax-rate", rate)},
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
            params["invoice_creation"] = {"enabled": True, "invoice_data": {"metadata": metadata}}
            params["payment_intent_data"] = {"metadata": metadata}
        key = _key("checkout", snapshot.number, snapshot.version, request.method, request.attempt)
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

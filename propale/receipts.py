"""The payment receipt Propale attaches to every paid invoice's email (Stripe's API has no receipt PDF).

Rendered with WeasyPrint from the package's `templates/receipt.html`, from values read from Stripe and the
seller's identity; amounts in integer minor units with their currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from weasyprint import HTML
from weasyprint.urls import URLFetcher

from propale.rendering import environment
from propale.settings import Seller

CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "cartes_bancaires": "CB",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}


def payment_method_label(details: Mapping[str, Any] | None) -> str:
    """How the customer paid, in French, from a charge's `payment_method_details`."""
    if not details:
        return "paiement enregistré par Stripe"
    kind = details.get("type")
    if kind == "card":
        card = details.get("card") or {}
        brand = CARD_BRANDS.get(card.get("brand") or "", (card.get("brand") or "").title())
        return f"carte {brand} se terminant par {card.get('last4')}".replace("carte  ", "carte ")
    if kind == "sepa_debit":
        return f"prélèvement SEPA sur le compte se terminant par {(details.get('sepa_debit') or {}).get('last4')}"
    return str(kind)


@dataclass(frozen=True)
class Receipt:
    seller: Seller
    customer_name: str
    customer_address: tuple[str, ...]
    invoice_number: str
    proposal_number: str
    paid_at: datetime
    method: str  # see payment_method_label
    currency: str
    net: int  # minor units, VAT excluded
    vat: int
    amount_paid: int
    period: tuple[date, date] | None = None  # the subscription period the invoice bills


def render_receipt_html(receipt: Receipt) -> str:
    return environment().get_template("receipt.html").render(receipt=receipt)


def render_receipt_pdf(receipt: Receipt) -> bytes:
    # Only the seller's logo is ever fetched; no file:// so nothing on this machine can be embedded.
    fetcher = URLFetcher(timeout=10, allowed_protocols=("https", "http", "data"))
    pdf: bytes = HTML(string=render_receipt_html(receipt), url_fetcher=fetcher).write_pdf()
    return pdf

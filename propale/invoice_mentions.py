"""What French law requires on an invoice between businesses that Stripe does not print by itself.

Stripe's invoice shows the seller's name and address (the account's), the customer's name, address
and tax ids, the number, dates, lines, VAT rates and totals. The rest is put in the invoice's
custom fields and footer, from the seller as the proposal's snapshot froze it:
- the seller's SIREN and intra-EU VAT number (article 242 nonies A of annex II to the CGI; article
  R123-237 of the Code de commerce);
- the late-payment penalty rate and the 40 € fixed recovery indemnity (article L441-9 of the Code de
  commerce, https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000037935527); without a rate
  agreed with customers, the legal default applies (article L441-10);
- the legal ground of a 0 % VAT line (« Autoliquidation », « TVA non applicable, art. 293 B du CGI »…);
- the seller's own legal mentions (legal form, share capital, RCS).
The list: https://entreprendre.service-public.fr/vosdroits/F31808 (« Mentions obligatoires sur une
facture »); penalties and indemnity: https://entreprendre.service-public.fr/vosdroits/F23211.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from propale.proposals import ProposalSnapshot
from propale.rendering import shorten

# Stripe takes at most 4 custom fields, a name of up to 40 characters and a value of up to 140
# (https://docs.stripe.com/api/customers/create#create_customer-invoice_settings-custom_fields,
# https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-invoice_creation-invoice_data-custom_fields),
# and a footer of up to 5 000 (https://docs.stripe.com/api/invoices/object#invoice_object-footer).
MAX_CUSTOM_FIELDS = 4
CUSTOM_FIELD_NAME_MAX = 40
CUSTOM_FIELD_VALUE_MAX = 140
FOOTER_MAX = 5000

# Article L441-10 of the Code de commerce: without a rate agreed in the terms of sale, « le taux
# d'intérêt appliqué par la Banque centrale européenne à son opération de refinancement la plus
# récente majoré de 10 points de pourcentage ».
LEGAL_DEFAULT_PENALTIES = "taux directeur de la BCE majoré de 10 points (art. L441-10 du Code de commerce)"
# Article D441-5 of the Code de commerce sets the indemnity at 40 €; the amount itself must be printed.
RECOVERY_INDEMNITY = (
    "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 € "
    "(art. D441-5 du Code de commerce)."
)


@dataclass(frozen=True)
class InvoiceMentions:
    custom_fields: tuple[tuple[str, str], ...]  # (name, value), as Stripe prints them in the header
    footer: str


def invoice_mentions(snapshot: ProposalSnapshot) -> InvoiceMentions:
    """The mentions of the invoices for an accepted proposal, within Stripe's limits."""
    seller = snapshot.seller
    fields = (("SIREN", seller.siren), ("N° TVA", seller.vat_number))
    assert len(fields) <= MAX_CUSTOM_FIELDS
    penalties = (seller.late_payment_penalties or LEGAL_DEFAULT_PENALTIES).rstrip(".")
    paragraphs = [f"Pénalités de retard : {penalties}.", RECOVERY_INDEMNITY]
    if has_zero_rate(line.vat_rate for line in snapshot.lines) and seller.vat_exemption_mention:
        paragraphs.append(seller.vat_exemption_mention)
    if seller.legal_mentions:
        paragraphs.append(seller.legal_mentions)
    return InvoiceMentions(
        custom_fields=tuple(
            (shorten(name, CUSTOM_FIELD_NAME_MAX), shorten(value, CUSTOM_FIELD_VALUE_MAX)) for name, value in fields
        ),
        footer=shorten("\n".join(paragraphs), FOOTER_MAX),
    )


def has_zero_rate(vat_rates: Iterable[Decimal]) -> bool:
    """Whether a line is at 0 % VAT: its invoice must then say why (article 242 nonies A of annex II to the CGI)."""
    return any(rate == 0 for rate in vat_rates)

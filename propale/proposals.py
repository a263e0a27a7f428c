"""The proposal domain: what the HubSpot gateway reads, what a rep must fix, the frozen snapshot.

Validation messages are read by sales reps in HubSpot (`propale_error`) and Slack, so they are in
French, name the line concerned and say what to do. The snapshot is the legal content of one
proposal version: it is computed once, stored as JSON in the ledger and rendered as-is forever.

A deal is refused when Stripe would refuse what it asks for (an amount Stripe cannot charge, more
lines than Checkout takes…), so that the customer never meets the refusal when they click.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from email_validator import EmailNotValidError, validate_email
from stdnum.eu import vat as eu_vat
from stdnum.fr import siren as fr_siren

from propale.money import (
    charge_step,
    discounted,
    format_amount,
    format_percentage,
    is_known_currency,
    maximum_charge,
    minimum_charge,
    minor_unit_exponent,
    parse_decimal,
    parse_percentage,
    percent_of,
    round_half_up,
    to_minor_units,
)
from propale.settings import Seller, Settings

# The seller is French: the proposal year, dates and expiry follow Paris time.
TIMEZONE = ZoneInfo("Europe/Paris")
NUMBER_PREFIX = "DEV"
DEFAULT_VAT_RATE = Decimal(20)
PAYMENT_METHOD_LABELS = {"card": "carte bancaire", "sepa_debit": "prélèvement SEPA"}
# Payment methods that only take some currencies, with what the proposal says when it leaves one
# out. SEPA Direct Debit debits euros only: https://docs.stripe.com/payments/sepa-debit
METHOD_CURRENCIES: Mapping[str, tuple[frozenset[str], str]] = {
    "sepa_debit": (frozenset({"eur"}), "Le prélèvement SEPA n’est proposé que pour les paiements en euros."),
}
# What one Checkout Session takes, https://docs.stripe.com/api/checkout/sessions/create (`line_items`):
# 100 lines in payment mode; in subscription mode, 20 recurring lines and 20 one-off lines.
CHECKOUT_MAX_LINES = 100
CHECKOUT_MAX_SUBSCRIPTION_LINES = 20


# --- What the HubSpot gateway fills in ---------------------------------------------------------


@dataclass(frozen=True)
class PersonInput:
    """A HubSpot contact or owner."""

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(part.strip() for part in (self.first_name, self.last_name) if part and part.strip())


@dataclass(frozen=True)
class CompanyInput:
    id: str
    name: str | None = None
    address_lines: tuple[str, ...] = ()
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    vat_number: str | None = None
    siren: str | None = None


@dataclass(frozen=True)
class LineItemInput:
    """A HubSpot line item, its properties as HubSpot's API returns them (strings or None).

    `tax_rate` is a percentage ("20", "5.5"); None means the default 20 % VAT, unless
    `tax_rate_group_id` names a rate of HubSpot's tax library. `discount` is an amount off each unit
    in the deal's currency, `discount_percentage` a percentage off it. `term` is the ISO 8601
    duration of a recurring line's commitment (`hs_recurring_billing_period`, "P12M").
    The gateway sets `product_archived` when `hs_product_id` names a product that was deleted, and
    `product_price` to the price of that product in HubSpot's product library.
    """

    id: str
    name: str | None
    quantity: str | None
    price: str | None
    sku: str | None = None
    product_id: str | None = None
    recurring_billing_frequency: str | None = None
    discount_percentage: str | None = None
    tax_rate: str | None = None
    currency: str | None = None
    product_archived: bool = False
    discount: str | None = None
    term: str | None = None
    tax_rate_group_id: str | None = None
    product_price: str | None = None


@dataclass(frozen=True)
class DealInput:
    id: str
    name: str
    currency: str | None = None
    owner: PersonInput | None = None
    contact: PersonInput | None = None
    company: CompanyInput | None = None
    line_items: tuple[LineItemInput, ...] = ()


def source_fingerprint(deal: DealInput) -> str:
    """A stable hash of everything read from HubSpot, to tell whether a deal changed since last time."""
    canonical = json.dumps(asdict(deal), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- Billing intervals and terms ----------------------------------------------------------------


@dataclass(frozen=True)
class BillingInterval:
    """A HubSpot `recurringbillingfrequency` that one Stripe price can bill."""

    hubspot: str
    stripe_interval: str
    stripe_interval_count: int
    label: str  # after an amount in a table: "2 400,00 € HT / mois"
    per: str  # after an amount in a sentence: "… HT par mois"
    every: str  # when something happens: "… puis chaque mois"

    @property
    def months(self) -> int | None:
        """Calendar months in one period; None for the weekly intervals, which no number of months fits."""
        if self.stripe_interval == "month":
            return self.stripe_interval_count
        if self.stripe_interval == "year":
            return 12 * self.stripe_interval_count
        return None


_INTERVALS = (
    BillingInterval("weekly", "week", 1, "/ semaine", "par semaine", "chaque semaine"),
    BillingInterval("biweekly", "week", 2, "/ 2 semaines", "toutes les deux semaines", "toutes les deux semaines"),
    BillingInterval("monthly", "month", 1, "/ mois", "par mois", "chaque mois"),
    BillingInterval("quarterly", "month", 3, "/ trimestre", "par trimestre", "chaque trimestre"),
    BillingInterval("per_six_months", "month", 6, "/ semestre", "par semestre", "chaque semestre"),
    BillingInterval("annually", "year", 1, "/ an", "par an", "chaque année"),
    BillingInterval("per_two_years", "year", 2, "/ 2 ans", "tous les deux ans", "tous les deux ans"),
    BillingInterval("per_three_years", "year", 3, "/ 3 ans", "tous les trois ans", "tous les trois ans"),
)
BILLING_INTERVALS: Mapping[str, BillingInterval] = {interval.hubspot: interval for interval in _INTERVALS}
# HubSpot offers these, but Stripe refuses any interval longer than three years.
_BEYOND_STRIPE = {"per_four_years": "tous les quatre ans", "per_five_years": "tous les cinq ans"}
_FREQUENCY_ADVICE = (
    "choisissez une fréquence mensuelle, trimestrielle, semestrielle ou annuelle, "
    "ou laissez-la vide pour une prestation ponctuelle"
)
# How a commitment counts its payments (« 12 prélèvements mensuels »), singular and plural; only
# the intervals counted in months can have a term.
_PAYMENT_ADJECTIVES = {
    "monthly": ("mensuel", "mensuels"),
    "quarterly": ("trimestriel", "trimestriels"),
    "per_six_months": ("semestriel", "semestriels"),
    "annually": ("annuel", "annuels"),
    "per_two_years": ("biennal", "biennaux"),
    "per_three_years": ("triennal", "triennaux"),
}
# HubSpot's line item Term (`hs_recurring_billing_period`) "accepts ISO-8601 period formats of
# PnYnMnD and PnW" (https://developers.hubspot.com/docs/guides/api/crm/objects/line-items).
_ISO_PERIOD = re.compile(r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?|P(?P<weeks>\d+)W")


def _duration_label(iso: str, months: int) -> str:
    """« 12 mois » for P12M, « 1 an » for P1Y: in the unit the rep chose."""
    match = _ISO_PERIOD.fullmatch(iso.strip().upper())
    if match is None or not match["years"] or int(match["months"] or 0) or months % 12:
        return f"{months} mois"
    years = months // 12
    return "1 an" if years == 1 else f"{years} ans"


@dataclass(frozen=True)
class Term:
    """The commitment of a subscription (HubSpot's `hs_recurring_billing_period`): it ends after it."""

    iso: str  # as HubSpot wrote it, "P12M"
    months: int  # whole calendar months (P1Y = 12)
    periods: int  # billing periods in the term (P12M billed monthly = 12, quarterly = 4)

    def end(self, start: datetime) -> datetime:
        """`months` calendar months after `start`, on the same day or the month's last (31 January
        + 1 month = 28 February), at the same wall-clock time in the same time zone."""
        month_index = start.month - 1 + self.months
        year, month = start.year + month_index // 12, month_index % 12 + 1
        return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))

    @property
    def label(self) -> str:
        """« 12 mois », « 2 ans »."""
        return _duration_label(self.iso, self.months)


def commitment(term: Term, interval: BillingInterval) -> str:
    """The commitment in one sentence, for the customer."""
    singular, plural = _PAYMENT_ADJECTIVES[interval.hubspot]
    payments = f"1 prélèvement {singular}" if term.periods == 1 else f"{term.periods} prélèvements {plural}"
    return f"Engagement de {term.label} : l’abonnement prend fin automatiquement après {payments}."


# --- Countries ----------------------------------------------------------------------------------

# Territories babel names that are not ISO 3166-1 countries: groupings and private-use codes.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


def _folded(text: str) -> str:
    """A name compared without case, accents, apostrophe style or extra blanks."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).casefold().split())


@cache
def _country_codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for locale in ("en", "fr"):
        for code, name in Locale.parse(locale).territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                codes[_folded(name)] = code
                codes[code.casefold()] = code
    return codes


def country_code(country: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country as written in HubSpot ("France", "Allemagne",
    "Germany", "de"), from babel's French and English territory names; None if unknown."""
    return _country_codes().get(_folded(country or "")) if country else None


# --- Validation ---------------------------------------------------------------------------------


class InvalidDeal(ValueError):
    """The deal cannot become a proposal; `problems` are the French reasons for the rep."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class _ParsedLine:
    source: LineItemInput
    name: str
    quantity: int
    unit_price: int
    discount_percent: Decimal
    discount_amount: int
    vat_rate: Decimal
    interval: BillingInterval | None
    term: Term | None


def validate(deal: DealInput, settings: Settings | None = None) -> list[str]:
    """Every reason the deal cannot be proposed yet, in French; empty when it can.

    With `settings`, also what depends on them: the default currency, the payment methods left in
    the deal's currency, the seller's mention for a 0 % VAT line (`build_snapshot` checks them all).
    """
    return _check(deal, settings)[1]


def _line_label(line: LineItemInput, position: int) -> str:
    name = (line.name or "").strip()
    return f"« {name} »" if name else f"n° {position}"


def _check(deal: DealInput, settings: Settings | None) -> tuple[list[_ParsedLine], list[str]]:
    problems: list[str] = []
    problems += _contact_problems(deal.contact)
    problems += _company_problems(deal.company)
    problems += _currency_problems(deal)
    currency = _proposal_currency(deal, default=settings.currency if settings else "eur")
    if not is_known_currency(currency):
        currency = "eur"  # only to word the other messages; the currency problem is already reported

    parsed: list[_ParsedLine] = []
    if not deal.line_items:
        problems.append(
            "La transaction n’a aucune ligne de produit : ajoutez au moins un produit ou un service à proposer."
        )
    for position, line in enumerate(deal.line_items, start=1):
        parsed_line, line_problems = _parse_line(line, position, currency)
        problems += line_problems
        if parsed_line is not None:
            parsed.append(parsed_line)
    problems += _interval_problems(deal.line_items)
    problems += _term_problems(parsed)
    problems += _line_count_problems(deal.line_items)
    if not problems:
        problems += _amount_problems(_offer(parsed, currency), currency)
    if settings is not None:
        problems += _settings_problems(parsed, settings, currency)
    return parsed, problems


def _contact_problems(contact: PersonInput | None) -> list[str]:
    if contact is None:
        return [
            "Aucun contact principal n’est associé à la transaction : associez-lui le contact "
            "qui doit recevoir la proposition."
        ]
    named = f" « {contact.full_name} »" if contact.full_name else ""
    email = (contact.email or "").strip()
    if not email:
        return [
            f"Le contact principal{named} n’a pas d’adresse e-mail : renseignez-la pour qu’il puisse recevoir la proposition."
        ]
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        # The address itself is left out: reasons are logged, and an address is personal data.
        return [f"L’adresse e-mail du contact principal{named} n’est pas valide : corrigez-la dans HubSpot."]
    return []


def _company_problems(company: CompanyInput | None) -> list[str]:
    """The company's identifiers must be right: Stripe refuses a malformed `eu_vat` tax id when the
    customer clicks (https://docs.stripe.com/billing/customer/tax-ids), and a wrong one must not
    reach an invoice."""
    if company is None:
        return []
    name = (company.name or "").strip()
    of_company = f" de l’entreprise « {name} »" if name else " de l’entreprise"
    problems = []
    vat_number = (company.vat_number or "").strip()
    if vat_number and not eu_vat.is_valid(vat_number):
        problems.append(
            f"Le numéro de TVA intracommunautaire « {vat_number} »{of_company} n’est pas valide : corrigez la "
            "propriété « Numéro de TVA intracommunautaire » (vat_number) de l’entreprise dans HubSpot, "
            "ou videz-la si l’entreprise n’en a pas."
        )
    siren = (company.siren or "").strip()
    if siren and not fr_siren.is_valid(siren):
        problems.append(
            f"Le SIREN « {siren} »{of_company} n’est pas valide (neuf chiffres, dont une clé de contrôle) : "
            "corrigez la propriété « SIREN » (siren) de l’entreprise dans HubSpot, ou videz-la si l’entreprise "
            "n’en a pas."
        )
    return problems


def _currency_problems(deal: DealInput) -> list[str]:
    problems = []
    if deal.currency and not is_known_currency(deal.currency):
        problems.append(
            f"La devise « {deal.currency} » de la transaction est inconnue : utilisez un code ISO 4217 comme EUR."
        )
    for position, line in enumerate(deal.line_items, start=1):
        if line.currency and not is_known_currency(line.currency):
            problems.append(
                f"La devise « {line.currency} » de la ligne {_line_label(line, position)} est inconnue : "
                "utilisez un code ISO 4217 comme EUR."
            )
    used = sorted({code.upper() for code in _declared_currencies(deal) if is_known_currency(code)})
    if len(used) > 1:
        problems.append(
            f"La transaction mélange plusieurs devises ({', '.join(used)}) : une proposition est établie "
            "dans une seule devise, mettez toutes les lignes dans la même."
        )
    return problems


def _declared_currencies(deal: DealInput) -> list[str]:
    return [code for code in (deal.currency, *(line.currency for line in deal.line_items)) if code]


def _proposal_currency(deal: DealInput, default: str) -> str:
    declared = _declared_currencies(deal)
    return (declared[0] if declared else default).lower()


def _parse_line(line: LineItemInput, position: int, currency: str) -> tuple[_ParsedLine | None, list[str]]:
    label = _line_label(line, position)
    problems = []
    name = (line.name or "").strip()
    if not name:
        problems.append(f"La ligne {label} n’a pas de nom : donnez-lui un nom, il figurera sur la proposition.")

    quantity = _parse_quantity(line.quantity)
    if quantity is None:
        problems.append(
            f"La quantité de la ligne {label} (« {line.quantity or ''} ») doit être un nombre entier supérieur à zéro."
        )

    unit_price = None
    price = (line.price or "").strip()
    if not price:
        problems.append(f"La ligne {label} n’a pas de prix unitaire : renseignez-le (0 pour une ligne offerte).")
    else:
        try:
            price_value = parse_decimal(price)
        except ValueError:
            problems.append(f"Le prix unitaire de la ligne {label} (« {line.price} ») n’est pas un montant lisible.")
        else:
            unit_price = _chargeable(price_value, currency)
            if unit_price is None:
                problems.append(_not_chargeable(f"Le prix unitaire de la ligne {label}", price, price_value, currency))
            elif unit_price < 0:
                problems.append(
                    f"Le prix unitaire de la ligne {label} est négatif ({format_amount(unit_price, currency)}) : "
                    "une proposition ne peut pas contenir de prix négatif, accordez plutôt une remise en pourcentage."
                )

    discount = _parse_bounded_percentage(line.discount_percentage, default=Decimal(0))
    if discount is None:
        problems.append(
            f"La remise de la ligne {label} (« {line.discount_percentage} ») doit être un pourcentage "
            "compris entre 0 et 100."
        )
    elif discount == 100:
        problems.append(
            f"La remise de 100 % rend la ligne {label} gratuite : retirez la ligne, ou mettez son prix à 0 "
            "si elle doit figurer comme offerte."
        )

    discount_amount, discount_problem = _parse_discount_amount(line.discount, label, currency)
    if discount_problem:
        problems.append(discount_problem)
    elif discount_amount and discount:
        problems.append(
            f"La ligne {label} a à la fois une remise en pourcentage ({format_percentage(discount)}) et une remise "
            f"en montant ({format_amount(discount_amount, currency)} par unité) : gardez-en une seule."
        )
    elif discount_amount and unit_price is not None and unit_price >= 0:
        if discount_amount > unit_price:
            problems.append(
                f"La remise de la ligne {label} ({format_amount(discount_amount, currency)} par unité) dépasse son "
                f"prix unitaire ({format_amount(unit_price, currency)}) : corrigez la remise, elle ne peut pas "
                "rendre le prix négatif."
            )
        elif discount_amount == unit_price:
            problems.append(
                f"La remise de {format_amount(discount_amount, currency)} par unité rend la ligne {label} gratuite : "
                "retirez la ligne, ou mettez son prix à 0 si elle doit figurer comme offerte."
            )

    vat_rate = _parse_bounded_percentage(line.tax_rate, default=DEFAULT_VAT_RATE)
    if vat_rate is None:
        problems.append(
            f"Le taux de TVA de la ligne {label} (« {line.tax_rate} ») doit être un pourcentage compris entre 0 et 100."
        )
    elif (line.tax_rate_group_id or "").strip() and not (line.tax_rate or "").strip():
        # HubSpot's line items name a rate of the account's tax library by its id; without the
        # percentage on the line, the 20 % default could silently replace the rate the rep chose.
        problems.append(
            f"La ligne {label} a un taux de taxe de la bibliothèque de taxes HubSpot dont Propale ne peut pas lire "
            "le pourcentage : renseignez le taux de TVA de la ligne (propriété « Tax rate », hs_tax_rate), ou "
            "retirez la taxe de la ligne pour appliquer la TVA de 20 %."
        )

    interval, interval_problem = _parse_interval(line.recurring_billing_frequency, label)
    if interval_problem:
        problems.append(interval_problem)
    term, term_problem = _parse_term(line.term, label, interval)
    if term_problem and not interval_problem:
        problems.append(term_problem)

    if problems:
        return None, problems
    assert quantity is not None and unit_price is not None and discount is not None and vat_rate is not None
    return (
        _ParsedLine(line, name, quantity, unit_price, discount, discount_amount, vat_rate, interval, term),
        [],
    )


def _chargeable(amount: Decimal, currency: str) -> int | None:
    """`amount` in Stripe's minor units, or None when Stripe cannot charge it in the currency.

    In a two-decimal currency a finer price is rounded half up to the cent, as a French customer
    checks a bill. Elsewhere the amount must already be one Stripe charges
    (https://docs.stripe.com/currencies): whole yen, whole krónur (ISK and UGX, written with two
    decimals that are always 00), thousandths of a dinar ending in 0 (KWD); rounding it silently
    would quote something the rep did not write.
    """
    exponent, step = minor_unit_exponent(currency), charge_step(currency)
    if exponent == 2 and step == 1:
        return to_minor_units(amount, currency)
    minor = amount.scaleb(exponent)
    return int(minor) if minor % step == 0 else None


def _not_chargeable(what: str, text: str, amount: Decimal, currency: str) -> str:
    code = currency.upper()
    exponent, step = minor_unit_exponent(currency), charge_step(currency)
    if exponent == 0:
        rule = f"les montants en {code} n’ont pas de décimales"
    elif exponent == 3:
        rule = f"Stripe ne facture les montants en {code} qu’avec deux décimales au plus (la troisième est toujours 0)"
    else:
        rule = f"Stripe ne facture les montants en {code} qu’en unités entières"
    nearest = format_amount(round_half_up(amount.scaleb(exponent), step), currency)
    return f"{what} (« {text} ») n’est pas un montant que Stripe peut facturer en {code} : {rule} ; indiquez par exemple {nearest}."


def _parse_discount_amount(text: str | None, label: str, currency: str) -> tuple[int, str | None]:
    """HubSpot's line item `discount`: an amount off each unit, in the deal's currency (« Unit
    discount », https://knowledge.hubspot.com/properties/hubspots-default-line-item-properties)."""
    written = (text or "").strip()
    if not written:
        return 0, None
    try:
        value = parse_decimal(written)
    except ValueError:
        return 0, f"La remise en montant de la ligne {label} (« {written} ») n’est pas un montant lisible."
    if value < 0:
        return 0, (
            f"La remise en montant de la ligne {label} est négative (« {written} ») : une remise se déduit du prix, "
            "indiquez un montant positif."
        )
    amount = _chargeable(value, currency)
    if amount is None:
        return 0, _not_chargeable(f"La remise en montant de la ligne {label}", written, value, currency)
    return amount, None


def _parse_quantity(text: str | None) -> int | None:
    """A positive whole quantity; HubSpot may write it "2" or "2.0"."""
    try:
        value = parse_decimal(text or "")
    except ValueError:
        return None
    if value <= 0 or value != value.to_integral_value():
        return None
    return int(value)


def _parse_bounded_percentage(text: str | None, default: Decimal) -> Decimal | None:
    if not text or not text.strip():
        return default
    try:
        value = parse_percentage(text)
    except ValueError:
        return None
    return value if 0 <= value <= 100 else None


def _parse_interval(frequency: str | None, label: str) -> tuple[BillingInterval | None, str | None]:
    code = (frequency or "").strip()
    if not code:
        return None, None
    if code in BILLING_INTERVALS:
        return BILLING_INTERVALS[code], None
    if code in _BEYOND_STRIPE:
        return None, (
            f"La ligne {label} est facturée {_BEYOND_STRIPE[code]}, ce que Stripe ne permet pas (trois ans au plus) : "
            f"{_FREQUENCY_ADVICE}."
        )
    return None, (f"La fréquence de facturation « {code} » de la ligne {label} est inconnue : {_FREQUENCY_ADVICE}.")


def _parse_term(text: str | None, label: str, interval: BillingInterval | None) -> tuple[Term | None, str | None]:
    """A recurring line's term; a one-off line has none (its frequency, if unreadable, is reported apart)."""
    iso = (text or "").strip()
    if not iso:
        return None, None
    if interval is None:
        return None, (
            f"La ligne {label} est ponctuelle mais a une durée d’engagement (« {iso} ») : retirez la durée, "
            "ou donnez à la ligne une fréquence de facturation."
        )
    match = _ISO_PERIOD.fullmatch(iso.upper())
    if match is None or not any(match.groups()):
        return None, (
            f"La durée d’engagement « {iso} » de la ligne {label} n’est pas lisible : écrivez-la au format ISO 8601, "
            "en mois ou en années, par exemple P12M pour 12 mois ou P2Y pour 2 ans."
        )
    if int(match["weeks"] or 0) or int(match["days"] or 0):
        return None, (
            f"La durée d’engagement « {iso} » de la ligne {label} compte des semaines ou des jours : un abonnement "
            "s’engage sur des mois entiers, exprimez-la en mois ou en années (par exemple P12M)."
        )
    months = 12 * int(match["years"] or 0) + int(match["months"] or 0)
    if months == 0:
        return None, (
            f"La durée d’engagement « {iso} » de la ligne {label} est nulle : indiquez la durée de l’engagement "
            "(par exemple P12M), ou laissez-la vide pour un abonnement sans fin."
        )
    period = interval.months
    if period is None or months % period:
        return None, (
            f"La durée d’engagement de la ligne {label} ({_duration_label(iso, months)}) ne compte pas un nombre entier "
            f"de périodes de facturation (la ligne est facturée {interval.every}) : choisissez une durée multiple "
            "de la période, ou une autre fréquence."
        )
    return Term(iso, months, months // period), None


def _interval_problems(lines: tuple[LineItemInput, ...]) -> list[str]:
    recurring = [
        (_line_label(line, position), BILLING_INTERVALS[code])
        for position, line in enumerate(lines, start=1)
        if (code := (line.recurring_billing_frequency or "").strip()) in BILLING_INTERVALS
    ]
    if len({interval for _, interval in recurring}) <= 1:
        return []
    detail = " ; ".join(f"{label} : {interval.every}" for label, interval in recurring)
    return [
        f"Les lignes récurrentes n’ont pas toutes la même fréquence de facturation ({detail}). Un abonnement "
        "Stripe ne facture qu’une seule fréquence : alignez-les, ou proposez-les dans des transactions séparées."
    ]


def _term_problems(parsed: list[_ParsedLine]) -> list[str]:
    recurring = [line for line in parsed if line.interval is not None]
    if len({line.term.months if line.term else None for line in recurring}) <= 1:
        return []
    detail = " ; ".join(
        f"« {line.name} » : {line.term.label if line.term else 'sans engagement'}" for line in recurring
    )
    return [
        f"Les lignes récurrentes n’ont pas toutes la même durée d’engagement ({detail}). Un abonnement Stripe "
        "prend fin à une seule date : alignez-les, ou proposez-les dans des transactions séparées."
    ]


def _line_count_problems(lines: tuple[LineItemInput, ...]) -> list[str]:
    recurring = sum(1 for line in lines if (line.recurring_billing_frequency or "").strip())
    one_off = len(lines) - recurring
    advice = "regroupez des lignes, ou répartissez l’offre entre plusieurs transactions."
    if not recurring:
        if one_off <= CHECKOUT_MAX_LINES:
            return []
        return [
            f"La proposition compte {one_off} lignes, et la page de paiement de Stripe en accepte "
            f"{CHECKOUT_MAX_LINES} au plus : {advice}"
        ]
    problems = []
    if recurring > CHECKOUT_MAX_SUBSCRIPTION_LINES:
        problems.append(
            f"La proposition compte {recurring} lignes récurrentes, et la page de paiement de Stripe en accepte "
            f"{CHECKOUT_MAX_SUBSCRIPTION_LINES} au plus pour un abonnement : {advice}"
        )
    if one_off > CHECKOUT_MAX_SUBSCRIPTION_LINES:
        problems.append(
            f"La proposition compte {one_off} lignes ponctuelles à côté de l’abonnement, et la page de paiement de "
            f"Stripe en accepte {CHECKOUT_MAX_SUBSCRIPTION_LINES} au plus dans ce cas : {advice}"
        )
    return problems


def _amount_problems(offer: _Offer, currency: str) -> list[str]:
    """The amounts Stripe would refuse to charge
    (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts)."""

    def money(amount: int) -> str:
        return format_amount(amount, currency)

    if offer.first_payment == 0:
        return [
            f"Le montant total de la proposition est nul ({money(0)}) : il n’y a rien à facturer. "
            "Ajoutez au moins une ligne payante ; une ligne offerte (prix à 0) ne peut qu’accompagner une offre payante."
        ]
    problems = []
    code = currency.upper()
    minimum = minimum_charge(currency)
    if minimum is not None and offer.first_payment < minimum:
        problems.append(
            f"Le premier paiement de la proposition ({money(offer.first_payment)} TTC) est inférieur au minimum "
            f"que Stripe accepte pour un paiement en {code} ({money(minimum)}) : complétez l’offre, ou "
            "regroupez-la avec une autre transaction."
        )
    maximum = maximum_charge(currency)
    if offer.first_payment > maximum:
        problems.append(
            f"Le premier paiement de la proposition ({money(offer.first_payment)} TTC) dépasse le maximum que Stripe "
            f"accepte pour un paiement en {code} ({money(maximum)}) : répartissez l’offre entre plusieurs transactions."
        )
    recurring = offer.recurring
    if recurring is not None and recurring.interval is not None and recurring.gross > maximum:
        problems.append(
            f"Chaque paiement de l’abonnement ({money(recurring.gross)} TTC {recurring.interval.per}) dépasse le "
            f"maximum que Stripe accepte pour un paiement en {code} ({money(maximum)}) : répartissez l’abonnement "
            "entre plusieurs transactions."
        )
    return problems


def _split_methods(methods: Sequence[str], currency: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The configured payment methods that take the currency, and those that do not."""
    takes = {
        method: currency.lower() in METHOD_CURRENCIES[method][0] for method in methods if method in METHOD_CURRENCIES
    }
    available = tuple(method for method in methods if takes.get(method, True))
    return available, tuple(method for method in methods if method not in available)


def _settings_problems(parsed: list[_ParsedLine], settings: Settings, currency: str) -> list[str]:
    problems = []
    available, unavailable = _split_methods(settings.payment_methods, currency)
    if not available:
        notes = " ".join(METHOD_CURRENCIES[method][1] for method in unavailable)
        problems.append(
            f"Aucun moyen de paiement configuré n’est disponible pour une proposition en {currency.upper()} : "
            f"{notes} Changez la devise de la transaction, ou demandez à un administrateur d’ajouter la carte "
            "bancaire (« card ») à la variable propale_payment_methods."
        )
    exempt = [f"« {line.name} »" for line in parsed if line.vat_rate == 0]
    if exempt and not settings.seller.vat_exemption_mention:
        lines = f"La ligne {exempt[0]} est" if len(exempt) == 1 else f"Les lignes {', '.join(exempt)} sont"
        problems.append(
            f"{lines} à 0 % de TVA : la proposition doit alors indiquer le motif légal de l’exonération, que Propale "
            "ne connaît pas encore. Un administrateur de Propale doit renseigner « vat_exemption_mention » dans la "
            "variable propale_seller (par exemple « Autoliquidation » ou « TVA non applicable, art. 293 B du CGI »)."
        )
    return problems


def catalogue_warnings(deal: DealInput, settings: Settings) -> list[str]:
    """What the rep should know of lines that differ from HubSpot's product library, in French.

    Neither refuses the deal: the lines go out as the rep wrote them. The customer never sees these.
    The product's `price` is its price in the account's company currency.
    """
    currency = _proposal_currency(deal, default=settings.currency)

    def money(amount: Decimal) -> str:
        return format_amount(to_minor_units(amount, currency), currency)

    warnings = []
    for position, line in enumerate(deal.line_items, start=1):
        label = _line_label(line, position)
        if line.product_archived:
            warnings.append(
                f"La ligne {label} vient d’un produit supprimé de la bibliothèque de produits HubSpot : elle a été "
                "proposée telle qu’elle figure sur la transaction."
            )
            continue
        try:
            price, catalogue_price = parse_decimal(line.price or ""), parse_decimal(line.product_price or "")
        except ValueError:
            continue  # a line without product, or a product without price: nothing to compare
        if price != catalogue_price:
            warnings.append(
                f"Le prix unitaire de la ligne {label} ({money(price)} HT) n’est pas celui du produit dans la "
                f"bibliothèque de produits HubSpot ({money(catalogue_price)} HT)."
            )
    return warnings


# --- The snapshot -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostalAddress:
    """The customer's address in fields, as Stripe's `address` takes it."""

    line1: str | None
    line2: str | None
    postal_code: str | None
    city: str | None
    country: str | None  # as written in HubSpot ("France")
    country_code: str | None  # ISO 3166-1 alpha-2, resolved from `country`; None if unknown


@dataclass(frozen=True)
class Customer:
    contact_id: str
    contact_name: str
    email: str
    contact_first_name: str | None = None
    company_id: str | None = None
    company_name: str | None = None
    address_lines: tuple[str, ...] = ()  # for display
    vat_number: str | None = None
    siren: str | None = None
    postal_address: PostalAddress | None = None

    @property
    def display_name(self) -> str:
        return self.company_name or self.contact_name or self.email


@dataclass(frozen=True)
class Rep:
    owner_id: str
    name: str
    email: str | None


@dataclass(frozen=True)
class ProposalLine:
    line_item_id: str
    product_id: str | None
    name: str
    sku: str | None
    quantity: int
    unit_price: int
    discount_percent: Decimal
    # What Stripe bills per unit: rounded once per unit so that net_total == net_unit_price × quantity.
    net_unit_price: int
    vat_rate: Decimal
    net_total: int
    vat: int
    gross: int
    interval: BillingInterval | None
    discount_amount: int = 0  # off each unit, in minor units (HubSpot's `discount`)


@dataclass(frozen=True)
class VatAmount:
    rate: Decimal
    base: int
    vat: int


@dataclass(frozen=True)
class Totals:
    net: int
    vat: int
    gross: int
    vat_breakdown: tuple[VatAmount, ...]
    interval: BillingInterval | None = None  # set on the recurring totals: the amounts are per period


@dataclass(frozen=True)
class ProposalSnapshot:
    number: str
    version: int
    deal_id: str
    deal_name: str
    currency: str
    issued_at: datetime
    valid_until: date
    seller: Seller
    customer: Customer
    rep: Rep | None
    lines: tuple[ProposalLine, ...]
    recurring: Totals | None
    one_off: Totals | None
    first_payment: int  # one-off lines plus the first period of the subscription, VAT included
    payment_methods: tuple[str, ...]  # those offered in this currency, in the configured order
    payment_terms: str
    summary: tuple[str, str] = field(default=("", ""))
    term: Term | None = None  # the subscription's commitment: it ends after it
    unavailable_methods: tuple[str, ...] = ()  # configured, but not offered in this currency

    @property
    def recurring_lines(self) -> tuple[ProposalLine, ...]:
        return tuple(line for line in self.lines if line.interval is not None)

    @property
    def one_off_lines(self) -> tuple[ProposalLine, ...]:
        return tuple(line for line in self.lines if line.interval is None)

    @property
    def commitment(self) -> str | None:
        """The subscription's commitment in one sentence, or None without a term."""
        if self.term is None or self.recurring is None or self.recurring.interval is None:
            return None
        return commitment(self.term, self.recurring.interval)

    @property
    def unavailable_method_notes(self) -> tuple[str, ...]:
        """Why each configured payment method left out is not offered, for the customer."""
        return tuple(METHOD_CURRENCIES[method][1] for method in self.unavailable_methods)

    def to_dict(self) -> dict[str, Any]:
        encoded: dict[str, Any] = _encode(self)
        return encoded

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProposalSnapshot:
        """The snapshot stored by `to_dict`, by this version of Propale or an earlier one."""
        return cls(
            number=data["number"],
            version=data["version"],
            deal_id=data["deal_id"],
            deal_name=data["deal_name"],
            currency=data["currency"],
            issued_at=datetime.fromisoformat(data["issued_at"]),
            valid_until=date.fromisoformat(data["valid_until"]),
            seller=Seller.from_dict(data["seller"]),
            customer=_decode_customer(data["customer"]),
            rep=Rep(**data["rep"]) if data["rep"] else None,
            lines=tuple(_decode_line(line) for line in data["lines"]),
            recurring=_decode_totals(data["recurring"]),
            one_off=_decode_totals(data["one_off"]),
            first_payment=data["first_payment"],
            payment_methods=tuple(data["payment_methods"]),
            payment_terms=data["payment_terms"],
            summary=tuple(data["summary"]),
            term=Term(**data["term"]) if data.get("term") else None,
            unavailable_methods=tuple(data.get("unavailable_methods") or ()),
        )


def _encode(value: Any) -> Any:
    """JSON-ready form: Decimals as exact strings, dates in ISO 8601, intervals by HubSpot name."""
    if isinstance(value, BillingInterval):
        return value.hubspot
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_encode(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _encode(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def _decode_customer(data: Mapping[str, Any]) -> Customer:
    address = data.get("postal_address")
    return Customer(
        **{
            **data,
            "address_lines": tuple(data["address_lines"]),
            "postal_address": PostalAddress(**address) if address else None,
        }
    )


def _decode_line(data: Mapping[str, Any]) -> ProposalLine:
    return ProposalLine(
        **{
            **data,
            "discount_percent": Decimal(data["discount_percent"]),
            "vat_rate": Decimal(data["vat_rate"]),
            "interval": BILLING_INTERVALS[data["interval"]] if data["interval"] else None,
        }
    )


def _decode_totals(data: Mapping[str, Any] | None) -> Totals | None:
    if data is None:
        return None
    return Totals(
        net=data["net"],
        vat=data["vat"],
        gross=data["gross"],
        vat_breakdown=tuple(
            VatAmount(Decimal(item["rate"]), item["base"], item["vat"]) for item in data["vat_breakdown"]
        ),
        interval=BILLING_INTERVALS[data["interval"]] if data["interval"] else None,
    )


def proposal_number(year: int, sequence: int) -> str:
    return f"{NUMBER_PREFIX}-{year}-{sequence:05d}"


def validity_period(issued_at: datetime, validity_days: int) -> tuple[date, datetime]:
    """The last day the proposal can be accepted (Paris time) and the UTC instant its link expires."""
    valid_until = issued_at.astimezone(TIMEZONE).date() + timedelta(days=validity_days)
    end_of_day = datetime.combine(valid_until + timedelta(days=1), time(0), tzinfo=TIMEZONE)
    return valid_until, end_of_day.astimezone(UTC)


def build_snapshot(
    deal: DealInput,
    settings: Settings,
    number: str,
    version: int,
    issued_at: datetime,
    valid_until: date,
) -> ProposalSnapshot:
    """The frozen content of one proposal version; raises InvalidDeal if `validate` finds problems."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    parsed, problems = _check(deal, settings)
    if problems:
        raise InvalidDeal(problems)
    currency = _proposal_currency(deal, default=settings.currency)
    offer = _offer(parsed, currency)
    # Validation has made every recurring line's term the same.
    term = next((line.term for line in parsed if line.interval is not None), None)
    methods, unavailable = _split_methods(settings.payment_methods, currency)
    return ProposalSnapshot(
        number=number,
        version=version,
        deal_id=deal.id,
        deal_name=(deal.name or "").strip(),
        currency=currency,
        issued_at=issued_at,
        valid_until=valid_until,
        seller=settings.seller,
        customer=_customer(deal),
        rep=_rep(deal.owner),
        lines=offer.lines,
        recurring=offer.recurring,
        one_off=offer.one_off,
        first_payment=offer.first_payment,
        payment_methods=methods,
        payment_terms=_payment_terms(offer, term, methods, currency),
        summary=_summary(offer, term, currency),
        term=term,
        unavailable_methods=unavailable,
    )


@dataclass(frozen=True)
class _Offer:
    lines: tuple[ProposalLine, ...]
    recurring: Totals | None
    one_off: Totals | None
    first_payment: int


def _offer(parsed: list[_ParsedLine], currency: str) -> _Offer:
    lines = tuple(_priced_line(line, currency) for line in parsed)
    recurring_lines = [line for line in lines if line.interval is not None]
    one_off_lines = [line for line in lines if line.interval is None]
    recurring = _totals(recurring_lines, recurring_lines[0].interval) if recurring_lines else None
    one_off = _totals(one_off_lines, None) if one_off_lines else None
    first_payment = (recurring.gross if recurring else 0) + (one_off.gross if one_off else 0)
    return _Offer(lines, recurring, one_off, first_payment)


def _priced_line(line: _ParsedLine, currency: str) -> ProposalLine:
    # Every amount is rounded to what Stripe can charge: for ISK and UGX, Stripe rounds invoices to
    # whole units (https://docs.stripe.com/currencies#special-cases), so the quote does too.
    step = charge_step(currency)
    # A line has a percentage or an amount off, never both (validation): the other one is zero.
    after_percentage = discounted(line.unit_price, line.discount_percent, step)
    net_unit_price = after_percentage - line.discount_amount
    net_total = net_unit_price * line.quantity
    vat = percent_of(net_total, line.vat_rate, step)
    return ProposalLine(
        line_item_id=line.source.id,
        product_id=line.source.product_id or None,
        name=line.name,
        sku=(line.source.sku or "").strip() or None,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
        discount_amount=line.discount_amount,
        net_unit_price=net_unit_price,
        vat_rate=line.vat_rate,
        net_total=net_total,
        vat=vat,
        gross=net_total + vat,
        interval=line.interval,
    )


def _totals(lines: list[ProposalLine], interval: BillingInterval | None) -> Totals:
    by_rate: dict[Decimal, tuple[int, int]] = {}
    for line in lines:
        base, vat = by_rate.get(line.vat_rate, (0, 0))
        by_rate[line.vat_rate] = (base + line.net_total, vat + line.vat)
    net = sum(line.net_total for line in lines)
    vat = sum(line.vat for line in lines)
    return Totals(
        net=net,
        vat=vat,
        gross=net + vat,
        vat_breakdown=tuple(VatAmount(rate, base, tax) for rate, (base, tax) in sorted(by_rate.items(), reverse=True)),
        interval=interval,
    )


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _customer(deal: DealInput) -> Customer:
    contact = deal.contact
    assert contact is not None and contact.email  # guaranteed by validation
    company = deal.company
    address_lines: tuple[str, ...] = ()
    postal_address = None
    if company is not None:
        city_line = " ".join(part.strip() for part in (company.postal_code, company.city) if part and part.strip())
        address_lines = tuple(
            line.strip() for line in (*company.address_lines, city_line, company.country or "") if line and line.strip()
        )
        street = [line.strip() for line in company.address_lines if line and line.strip()]
        parts = (
            street[0] if street else None,
            ", ".join(street[1:]) or None,
            _text(company.postal_code),
            _text(company.city),
            _text(company.country),
        )
        if any(parts):
            postal_address = PostalAddress(*parts, country_code=country_code(parts[4]))
    vat_number = _text(company.vat_number) if company else None
    siren = _text(company.siren) if company else None
    return Customer(
        contact_id=contact.id,
        contact_name=contact.full_name,
        contact_first_name=_text(contact.first_name),
        email=validate_email(contact.email.strip(), check_deliverability=False).normalized,
        company_id=company.id if company else None,
        company_name=_text(company.name) if company else None,
        address_lines=address_lines,
        # Validation has checked them; stored without the blanks and dots a rep may type.
        vat_number=eu_vat.compact(vat_number) if vat_number else None,
        siren=fr_siren.compact(siren) if siren else None,
        postal_address=postal_address,
    )


def _rep(owner: PersonInput | None) -> Rep | None:
    if owner is None:
        return None
    return Rep(owner_id=owner.id, name=owner.full_name, email=(owner.email or "").strip() or None)


def _methods_phrase(methods: tuple[str, ...]) -> str:
    labels = [f"par {PAYMENT_METHOD_LABELS[method]}" for method in methods]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " ou " + labels[-1]


def _payment_terms(offer: _Offer, term: Term | None, methods: tuple[str, ...], currency: str) -> str:
    def money(cents: int) -> str:
        return format_amount(cents, currency)

    how = _methods_phrase(methods)
    recurring, first_payment = offer.recurring, offer.first_payment
    if recurring is None:
        return f"Paiement de {money(first_payment)} TTC à l’acceptation de la proposition, {how}."
    interval = recurring.interval
    assert interval is not None
    first = (
        f"Le premier paiement, de {money(first_payment)} TTC, comprend les prestations ponctuelles et la première "
        "période de l’abonnement"
        if offer.one_off
        else f"Le premier paiement, de {money(first_payment)} TTC, couvre la première période de l’abonnement"
    )
    terms = (
        f"{first} ; il est dû à l’acceptation de la proposition, {how}. L’abonnement est ensuite facturé "
        f"d’avance {interval.every}, soit {money(recurring.gross)} TTC, et réglé automatiquement par le même moyen."
    )
    return f"{terms} {commitment(term, interval)}" if term else terms


def _summary(offer: _Offer, term: Term | None, currency: str) -> tuple[str, str]:
    """The offer in two lines for the email, worded for recurring only, one-off only, or both."""

    def money(cents: int) -> str:
        return format_amount(cents, currency)

    recurring, one_off = offer.recurring, offer.one_off
    if recurring is None:
        assert one_off is not None
        return (
            f"{money(one_off.net)} HT, soit {money(one_off.gross)} TTC",
            "Paiement unique à l’acceptation de la proposition.",
        )
    interval = recurring.interval
    assert interval is not None
    until = f" jusqu’au terme de l’engagement de {term.label}" if term else ""
    if one_off is None:
        return (
            f"{money(recurring.net)} HT {interval.label}, soit {money(recurring.gross)} TTC",
            f"Premier paiement à l’acceptation, puis un paiement {interval.every}{until}."
            if term
            else f"Premier paiement à l’acceptation, puis renouvellement automatique {interval.every}.",
        )
    return (
        f"{money(recurring.net)} HT {interval.label} et {money(one_off.net)} HT de frais ponctuels",
        f"Premier paiement de {money(offer.first_payment)} TTC à l’acceptation, puis {money(recurring.gross)} TTC "
        f"{interval.every}{until}.",
    )

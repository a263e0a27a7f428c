"""The proposal domain: what the HubSpot gateway reads, what a rep must fix, the frozen snapshot.

Validation messages are read by sales reps in HubSpot (`propale_error`) and Slack, so they are in
French, name the line concerned and say what to do. The snapshot is the legal content of one
proposal version: it is computed once, stored as JSON in the ledger and rendered as-is forever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from propale.money import (
    discounted,
    format_amount,
    is_known_currency,
    parse_decimal,
    parse_percentage,
    percent_of,
    to_minor_units,
)
from propale.settings import Seller, Settings

# The seller is French: the proposal year, dates and expiry follow Paris time.
TIMEZONE = ZoneInfo("Europe/Paris")
NUMBER_PREFIX = "DEV"
DEFAULT_VAT_RATE = Decimal(20)
PAYMENT_METHOD_LABELS = {"card": "carte bancaire", "sepa_debit": "prélèvement SEPA"}


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

    `tax_rate` is a percentage ("20", "5.5"); None means the default 20 % VAT.
    `product_archived` is set by the gateway when `hs_product_id` names a product that was deleted.
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


# --- Billing intervals --------------------------------------------------------------------------


@dataclass(frozen=True)
class BillingInterval:
    """A HubSpot `recurringbillingfrequency` that one Stripe price can bill."""

    hubspot: str
    stripe_interval: str
    stripe_interval_count: int
    label: str  # after an amount in a table: "2 400,00 € HT / mois"
    per: str  # after an amount in a sentence: "… HT par mois"
    every: str  # when something happens: "… puis chaque mois"


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
    vat_rate: Decimal
    interval: BillingInterval | None


def validate(deal: DealInput) -> list[str]:
    """Every reason the deal cannot be proposed yet, in French; empty when it can."""
    return _check(deal)[1]


def _line_label(line: LineItemInput, position: int) -> str:
    name = (line.name or "").strip()
    return f"« {name} »" if name else f"n° {position}"


def _check(deal: DealInput) -> tuple[list[_ParsedLine], list[str]]:
    problems: list[str] = []
    problems += _contact_problems(deal.contact)
    problems += _currency_problems(deal)
    currency = _proposal_currency(deal, default="eur")
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
    if not problems and sum(_priced_line(line).net_total for line in parsed) == 0:
        problems.append(
            f"Le montant total de la proposition est nul ({format_amount(0, currency)}) : il n’y a rien à facturer. "
            "Ajoutez au moins une ligne payante ; une ligne offerte (prix à 0) ne peut qu’accompagner une offre payante."
        )
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
    if line.product_archived:
        problems.append(
            f"Le produit de la ligne {label} a été supprimé de la bibliothèque de produits HubSpot : "
            "remplacez la ligne par un produit actif."
        )

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
            unit_price = to_minor_units(parse_decimal(price), currency)
        except ValueError:
            problems.append(f"Le prix unitaire de la ligne {label} (« {line.price} ») n’est pas un montant lisible.")
        else:
            if unit_price < 0:
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

    vat_rate = _parse_bounded_percentage(line.tax_rate, default=DEFAULT_VAT_RATE)
    if vat_rate is None:
        problems.append(
            f"Le taux de TVA de la ligne {label} (« {line.tax_rate} ») doit être un pourcentage compris entre 0 et 100."
        )

    interval, interval_problem = _parse_interval(line.recurring_billing_frequency, label)
    if interval_problem:
        problems.append(interval_problem)

    if problems:
        return None, problems
    assert quantity is not None and unit_price is not None and discount is not None and vat_rate is not None
    return _ParsedLine(line, name, quantity, unit_price, discount, vat_rate, interval), []


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


# --- The snapshot -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    contact_id: str
    contact_name: str
    email: str
    contact_first_name: str | None = None
    company_id: str | None = None
    company_name: str | None = None
    address_lines: tuple[str, ...] = ()
    vat_number: str | None = None
    siren: str | None = None

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
    payment_methods: tuple[str, ...]
    payment_terms: str
    summary: tuple[str, str] = field(default=("", ""))

    @property
    def recurring_lines(self) -> tuple[ProposalLine, ...]:
        return tuple(line for line in self.lines if line.interval is not None)

    @property
    def one_off_lines(self) -> tuple[ProposalLine, ...]:
        return tuple(line for line in self.lines if line.interval is None)

    def to_dict(self) -> dict[str, Any]:
        encoded: dict[str, Any] = _encode(self)
        return encoded

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProposalSnapshot:
        return cls(
            number=data["number"],
            version=data["version"],
            deal_id=data["deal_id"],
            deal_name=data["deal_name"],
            currency=data["currency"],
            issued_at=datetime.fromisoformat(data["issued_at"]),
            valid_until=date.fromisoformat(data["valid_until"]),
            seller=Seller.from_dict(data["seller"]),
            customer=Customer(**{**data["customer"], "address_lines": tuple(data["customer"]["address_lines"])}),
            rep=Rep(**data["rep"]) if data["rep"] else None,
            lines=tuple(_decode_line(line) for line in data["lines"]),
            recurring=_decode_totals(data["recurring"]),
            one_off=_decode_totals(data["one_off"]),
            first_payment=data["first_payment"],
            payment_methods=tuple(data["payment_methods"]),
            payment_terms=data["payment_terms"],
            summary=tuple(data["summary"]),
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
    parsed, problems = _check(deal)
    if problems:
        raise InvalidDeal(problems)
    currency = _proposal_currency(deal, default=settings.currency)
    lines = tuple(_priced_line(line) for line in parsed)
    recurring_lines = [line for line in lines if line.interval is not None]
    one_off_lines = [line for line in lines if line.interval is None]
    recurring = _totals(recurring_lines, recurring_lines[0].interval) if recurring_lines else None
    one_off = _totals(one_off_lines, None) if one_off_lines else None
    first_payment = (recurring.gross if recurring else 0) + (one_off.gross if one_off else 0)
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
        lines=lines,
        recurring=recurring,
        one_off=one_off,
        first_payment=first_payment,
        payment_methods=settings.payment_methods,
        payment_terms=_payment_terms(recurring, one_off, first_payment, settings.payment_methods, currency),
        summary=_summary(recurring, one_off, first_payment, currency),
    )


def _priced_line(line: _ParsedLine) -> ProposalLine:
    net_unit_price = discounted(line.unit_price, line.discount_percent)
    net_total = net_unit_price * line.quantity
    vat = percent_of(net_total, line.vat_rate)
    return ProposalLine(
        line_item_id=line.source.id,
        product_id=line.source.product_id or None,
        name=line.name,
        sku=(line.source.sku or "").strip() or None,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
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


def _customer(deal: DealInput) -> Customer:
    contact = deal.contact
    assert contact is not None and contact.email  # guaranteed by validation
    company = deal.company
    address_lines: tuple[str, ...] = ()
    if company is not None:
        city_line = " ".join(part.strip() for part in (company.postal_code, company.city) if part and part.strip())
        address_lines = tuple(
            line.strip() for line in (*company.address_lines, city_line, company.country or "") if line and line.strip()
        )
    return Customer(
        contact_id=contact.id,
        contact_name=contact.full_name,
        contact_first_name=(contact.first_name or "").strip() or None,
        email=validate_email(contact.email.strip(), check_deliverability=False).normalized,
        company_id=company.id if company else None,
        company_name=((company.name or "").strip() or None) if company else None,
        address_lines=address_lines,
        vat_number=((company.vat_number or "").strip() or None) if company else None,
        siren=((company.siren or "").strip() or None) if company else None,
    )


def _rep(owner: PersonInput | None) -> Rep | None:
    if owner is None:
        return None
    return Rep(owner_id=owner.id, name=owner.full_name, email=(owner.email or "").strip() or None)


def _methods_phrase(methods: tuple[str, ...]) -> str:
    labels = [f"par {PAYMENT_METHOD_LABELS[method]}" for method in methods]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " ou " + labels[-1]


def _payment_terms(
    recurring: Totals | None, one_off: Totals | None, first_payment: int, methods: tuple[str, ...], currency: str
) -> str:
    def money(cents: int) -> str:
        return format_amount(cents, currency)

    how = _methods_phrase(methods)
    if recurring is None:
        assert one_off is not None
        return f"Paiement de {money(first_payment)} TTC à l’acceptation de la proposition, {how}."
    interval = recurring.interval
    assert interval is not None
    first = (
        f"Le premier paiement, de {money(first_payment)} TTC, comprend les prestations ponctuelles et la première "
        "période de l’abonnement"
        if one_off
        else f"Le premier paiement, de {money(first_payment)} TTC, couvre la première période de l’abonnement"
    )
    return (
        f"{first} ; il est dû à l’acceptation de la proposition, {how}. L’abonnement est ensuite facturé "
        f"d’avance {interval.every}, soit {money(recurring.gross)} TTC, et réglé automatiquement par le même moyen."
    )


def _summary(recurring: Totals | None, one_off: Totals | None, first_payment: int, currency: str) -> tuple[str, str]:
    """The offer in two lines for the email, worded for recurring only, one-off only, or both."""

    def money(cents: int) -> str:
        return format_amount(cents, currency)

    if recurring is None:
        assert one_off is not None
        return (
            f"{money(one_off.net)} HT, soit {money(one_off.gross)} TTC",
            "Paiement unique à l’acceptation de la proposition.",
        )
    interval = recurring.interval
    assert interval is not None
    if one_off is None:
        return (
            f"{money(recurring.net)} HT {interval.label}, soit {money(recurring.gross)} TTC",
            f"Premier paiement à l’acceptation, puis renouvellement automatique {interval.every}.",
        )
    return (
        f"{money(recurring.net)} HT {interval.label} et {money(one_off.net)} HT de frais ponctuels",
        f"Premier paiement de {money(first_payment)} TTC à l’acceptation, puis {money(recurring.gross)} TTC "
        f"{interval.every}.",
    )

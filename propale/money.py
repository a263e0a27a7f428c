"""Money as integer minor units (cents), exact decimal parsing, French formatting.

Amounts never go through float: HubSpot sends decimal strings, Stripe takes integer minor units,
and every rounding is ROUND_HALF_UP to the minor unit, the way a French customer checks a bill.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, format_percent, get_currency_precision, is_currency

LOCALE = "fr_FR"
HUNDRED = Decimal(100)
# HubSpot's API writes numbers with a dot and no grouping; anything else is a typing mistake.
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def is_known_currency(code: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z]{3}", code)) and is_currency(code.upper())


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point for the currency (2 for EUR, 0 for JPY)."""
    return get_currency_precision(currency.upper())


def parse_decimal(text: str) -> Decimal:
    """An exact Decimal from a HubSpot decimal string such as "33.33"; ValueError if unreadable."""
    cleaned = text.strip()
    if not _DECIMAL.fullmatch(cleaned):
        raise ValueError(f"not a decimal number: {text!r}")
    return Decimal(cleaned)


def parse_percentage(text: str) -> Decimal:
    """A percentage such as "12.5" (meaning 12.5 %) as an exact Decimal."""
    return parse_decimal(text)


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Decimal currency units to integer minor units, e.g. Decimal("33.335") EUR -> 3334."""
    return round_half_up(amount.scaleb(minor_unit_exponent(currency)))


def percent_of(cents: int, percent: Decimal) -> int:
    """`percent` % of an amount in minor units, rounded half up (VAT on a line, for instance)."""
    return round_half_up(Decimal(cents) * percent / HUNDRED)


def discounted(cents: int, discount_percent: Decimal) -> int:
    """The amount after a percentage discount, rounded half up."""
    return round_half_up(Decimal(cents) * (HUNDRED - discount_percent) / HUNDRED)


def format_amount(cents: int, currency: str) -> str:
    """French display of an amount in minor units: format_amount(240000, "eur") == "2 400,00 €"."""
    units = Decimal(cents).scaleb(-minor_unit_exponent(currency))
    return format_currency(units, currency.upper(), locale=LOCALE)


def format_percentage(percent: Decimal) -> str:
    """French display of a percentage: Decimal("12.5") -> "12,5 %" (decimals only when needed)."""
    return format_percent(percent / HUNDRED, locale=LOCALE, decimal_quantization=False)

"""Money as integer minor units (cents), exact decimal parsing, French formatting.

Amounts never go through float: HubSpot sends decimal strings, Stripe takes integer minor units,
and every rounding is ROUND_HALF_UP to the minor unit, the way a French customer checks a bill.

"Minor unit" means Stripe's, not ISO 4217's: the two disagree for a few currencies, and an amount
is only right if it is what Stripe charges. Stripe's rules, from https://docs.stripe.com/currencies
("Specify amounts in API requests", "Special cases", "Minimum and maximum charge amounts"):
- zero-decimal currencies take whole units (500 JPY is `500`);
- three-decimal currencies take thousandths whose last digit is 0 (5.120 KWD is `5120`);
- ISK and UGX "transitioned to a zero-decimal currency, but backward compatibility requires you to
  represent it as a two-decimal value, where the decimal amount is always 00": 5 ISK is `500`, and
  no fraction of a krona can be charged;
- HUF and TWD are zero-decimal for payouts only: charges take two decimals, like any other;
- every other currency takes two decimals.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, format_percent, is_currency

LOCALE = "fr_FR"
HUNDRED = Decimal(100)
# HubSpot's API writes numbers with a dot and no grouping; anything else is a typing mistake.
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def is_known_currency(code: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z]{3}", code)) and is_currency(code.upper())


# https://docs.stripe.com/currencies#zero-decimal (UGX is listed there too, but its special case
# below decides how its amounts are written).
ZERO_DECIMAL_CURRENCIES = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"]
)
# https://docs.stripe.com/currencies#three-decimal: amounts are rounded to the nearest ten.
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
# https://docs.stripe.com/currencies#special-cases: two decimals that are always "00".
WHOLE_UNIT_TWO_DECIMAL_CURRENCIES = frozenset({"ISK", "UGX"})

# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts, "Minimum charge amount by
# currency", in Stripe's minor units. A charge in a currency absent from Stripe's table is held to
# the settlement currency's minimum after conversion, which only Stripe can compute at payment time.
MINIMUM_CHARGES = {
    "USD": 50, "AED": 200, "ARS": 50, "AUD": 50, "BRL": 50, "CAD": 50, "CHF": 50, "COP": 50,
    "CZK": 1500, "DKK": 250, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "IDR": 50,
    "ILS": 50, "INR": 50, "JPY": 50, "KRW": 50, "MXN": 1000, "MYR": 200, "NOK": 300, "NZD": 50,
    "PHP": 50, "PLN": 200, "RON": 200, "RUB": 50, "SEK": 300, "SGD": 50, "THB": 1000, "ZAR": 50,
}  # fmt: skip
# Same page, "Maximum charge amounts": 8 digits for every currency on payment methods other than
# cards (SEPA Direct Debit among them), except these; cards allow more, but a proposal can be paid
# by either method, so the lower bound holds.
MAXIMUM_CHARGE_DIGITS = {"IDR": 12, "COP": 10, "INR": 9}
DEFAULT_MAXIMUM_CHARGE_DIGITS = 8


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point in Stripe's amounts for the currency (2 for EUR and ISK, 0 for JPY)."""
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def charge_step(currency: str) -> int:
    """The amounts Stripe can charge are multiples of this, in minor units (100 for ISK, 10 for KWD, else 1)."""
    code = currency.upper()
    if code in WHOLE_UNIT_TWO_DECIMAL_CURRENCIES:
        return 100
    if code in THREE_DECIMAL_CURRENCIES:
        return 10
    return 1


def charged_amount(total: int, currency: str) -> int:
    """What Stripe charges of an invoice totalling `total`: ISK and UGX totals with a fraction after
    taxes are rounded to whole units ("Stripe automatically rounds that amount to the nearest number
    evenly divisible by 100", Special cases); every other total as it is."""
    if currency.upper() in WHOLE_UNIT_TWO_DECIMAL_CURRENCIES:
        return round_half_up(Decimal(total), charge_step(currency))
    return total


def display_exponent(currency: str) -> int:
    """Digits shown to a customer: ISK and UGX amounts are whole, though Stripe writes two decimals."""
    return 0 if currency.upper() in WHOLE_UNIT_TWO_DECIMAL_CURRENCIES else minor_unit_exponent(currency)


def minimum_charge(currency: str) -> int | None:
    """Stripe's minimum charge for the currency in minor units; None where Stripe's table has none."""
    return MINIMUM_CHARGES.get(currency.upper())


def maximum_charge(currency: str) -> int:
    """The largest amount Stripe accepts for a charge in the currency, in minor units (99 999 999 for EUR)."""
    digits = MAXIMUM_CHARGE_DIGITS.get(currency.upper(), DEFAULT_MAXIMUM_CHARGE_DIGITS)
    return int("9" * digits)


def parse_decimal(text: str) -> Decimal:
    """An exact Decimal from a HubSpot decimal string such as "33.33"; ValueError if unreadable."""
    cleaned = text.strip()
    if not _DECIMAL.fullmatch(cleaned):
        raise ValueError(f"not a decimal number: {text!r}")
    return Decimal(cleaned)


def parse_percentage(text: str) -> Decimal:
    """A percentage such as "12.5" (meaning 12.5 %) as an exact Decimal."""
    return parse_decimal(text)


def round_half_up(value: Decimal, step: int = 1) -> int:
    """The nearest multiple of `step`, halves away from zero."""
    return int((value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * step


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Decimal currency units to integer minor units, e.g. Decimal("33.335") EUR -> 3334."""
    return round_half_up(amount.scaleb(minor_unit_exponent(currency)))


def percent_of(cents: int, percent: Decimal, step: int = 1) -> int:
    """`percent` % of an amount in minor units, rounded half up to a multiple of `step` (VAT on a line)."""
    return round_half_up(Decimal(cents) * percent / HUNDRED, step)


def discounted(cents: int, discount_percent: Decimal, step: int = 1) -> int:
    """The amount after a percentage discount, rounded half up to a multiple of `step`."""
    return round_half_up(Decimal(cents) * (HUNDRED - discount_percent) / HUNDRED, step)


def format_amount(cents: int, currency: str) -> str:
    """French display of an amount in minor units: format_amount(240000, "eur") == "2 400,00 €"."""
    units = Decimal(cents).scaleb(-minor_unit_exponent(currency))
    digits = display_exponent(currency)
    # babel's own precision is ISO 4217's; the digits shown are Stripe's (see the module's docstring).
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "\u00a0¤"
    return format_currency(units, currency.upper(), format=pattern, locale=LOCALE, currency_digits=False)


def format_percentage(percent: Decimal) -> str:
    """French display of a percentage: Decimal("12.5") -> "12,5 %" (decimals only when needed)."""
    return format_percent(percent / HUNDRED, locale=LOCALE, decimal_quantization=False)

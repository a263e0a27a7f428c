"""Integer cents, exact parsing of HubSpot decimals, half-up rounding and French formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from propale.money import (
    charge_step,
    charged_amount,
    discounted,
    format_amount,
    format_percentage,
    is_known_currency,
    maximum_charge,
    minimum_charge,
    parse_decimal,
    parse_percentage,
    percent_of,
    to_minor_units,
)

NNBSP, NBSP = "\u202f", "\xa0"  # Babel's French group separator and the space before "€"


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [
        (240000, "eur", f"2{NNBSP}400,00{NBSP}€"),
        (0, "eur", f"0,00{NBSP}€"),
        (5, "EUR", f"0,05{NBSP}€"),
        (123456789, "eur", f"1{NNBSP}234{NNBSP}567,89{NBSP}€"),
        (-1250, "eur", f"-12,50{NBSP}€"),
        (1000, "jpy", f"1{NNBSP}000{NBSP}JPY"),  # no minor unit: 1000 means ¥1000
        (99, "usd", f"0,99{NBSP}$US"),
    ],
)
def test_french_amounts(cents, currency, expected):
    assert format_amount(cents, currency) == expected


def test_amount_reads_as_the_rep_writes_it():
    assert format_amount(240000, "eur").replace(NNBSP, " ").replace(NBSP, " ") == "2 400,00 €"


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (Decimal("12.5"), f"12,5{NBSP}%"),
        (Decimal("20"), f"20{NBSP}%"),
        (Decimal("5.5"), f"5,5{NBSP}%"),
        (Decimal("0"), f"0{NBSP}%"),
    ],
)
def test_french_percentages(percent, expected):
    assert format_percentage(percent) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("33.33", Decimal("33.33")),
        (" 12.5 ", Decimal("12.5")),
        ("100", Decimal(100)),
        (".5", Decimal("0.5")),
        ("-3", Decimal(-3)),
    ],
)
def test_hubspot_decimals_parse_exactly(text, expected):
    assert parse_decimal(text) == expected
    assert parse_percentage(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1,5", "1e3", "1 000", "NaN", "Infinity", "12.5%"])
def test_unreadable_decimals_are_refused(text):
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_percentage_of_a_hubspot_decimal_string_is_exact():
    # 0.1 + 0.2 is not 0.3 in binary floating point; it is here.
    assert parse_percentage("0.1") + parse_percentage("0.2") == Decimal("0.3")


@pytest.mark.parametrize(
    ("amount", "currency", "cents"),
    [
        (Decimal("33.33"), "eur", 3333),
        (Decimal("33.335"), "eur", 3334),  # half up, not banker's rounding
        (Decimal("33.345"), "eur", 3335),
        (Decimal("33.3349"), "eur", 3333),
        (Decimal("1000.5"), "jpy", 1001),
        (Decimal("-0.005"), "eur", -1),
    ],
)
def test_amounts_round_half_up_to_the_minor_unit(amount, currency, cents):
    assert to_minor_units(amount, currency) == cents


@pytest.mark.parametrize(
    ("cents", "percent", "expected"),
    [
        (8748, Decimal(20), 1750),  # 1749.6
        (25, Decimal(10), 3),  # 2.5 rounds up
        (250, Decimal(2), 5),
        (1, Decimal("5.5"), 0),
        (10000, Decimal("5.5"), 550),
        (999, Decimal("2.1"), 21),  # 20.979
    ],
)
def test_percent_of_rounds_half_up(cents, percent, expected):
    assert percent_of(cents, percent) == expected


@pytest.mark.parametrize(
    ("cents", "discount", "expected"),
    [(3333, Decimal("12.5"), 2916), (1000, Decimal("33.333"), 667), (5, Decimal(50), 3), (100, Decimal(0), 100)],
)
def test_discounts_round_half_up(cents, discount, expected):
    assert discounted(cents, discount) == expected


@pytest.mark.parametrize(
    ("code", "known"), [("eur", True), ("EUR", True), ("chf", True), ("xyz", False), ("euro", False), ("", False)]
)
def test_known_currencies(code, known):
    assert is_known_currency(code) is known


@pytest.mark.parametrize(
    ("text", "currency", "minor_units", "shown"),
    [
        # https://docs.stripe.com/currencies: Stripe's minor units, not ISO 4217's.
        ("5000", "jpy", 5000, f"5{NNBSP}000{NBSP}JPY"),  # zero-decimal
        ("5000", "isk", 500000, f"5{NNBSP}000{NBSP}ISK"),  # ISO says 0 decimals; Stripe writes 2, always 00
        ("5000", "ugx", 500000, f"5{NNBSP}000{NBSP}UGX"),
        ("12345.67", "huf", 1234567, f"12{NNBSP}345,67{NBSP}HUF"),  # whole only for payouts
        ("800.45", "twd", 80045, f"800,45{NBSP}TWD"),
        ("5.12", "kwd", 5120, f"5,120{NBSP}KWD"),  # three decimals
    ],
)
def test_amounts_follow_stripes_minor_units(text, currency, minor_units, shown):
    assert to_minor_units(Decimal(text), currency) == minor_units
    assert format_amount(minor_units, currency) == shown


@pytest.mark.parametrize(
    ("currency", "step", "minimum", "maximum"),
    [("eur", 1, 50, 99_999_999), ("isk", 100, None, 99_999_999), ("kwd", 10, None, 99_999_999),
     ("jpy", 1, 50, 99_999_999), ("huf", 1, 17500, 99_999_999), ("inr", 1, 50, 999_999_999)],
)  # fmt: skip
def test_stripes_charge_limits(currency, step, minimum, maximum):
    assert (charge_step(currency), minimum_charge(currency), maximum_charge(currency)) == (step, minimum, maximum)


@pytest.mark.parametrize(
    ("total", "currency", "charged"),
    [(148080, "isk", 148100), (148049, "ugx", 148000), (148080, "huf", 148080), (1481, "jpy", 1481)],
)
def test_krona_and_shilling_totals_are_charged_whole(total, currency, charged):
    assert charged_amount(total, currency) == charged

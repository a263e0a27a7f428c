"""Stripe's documented test cards and test IBANs, and what each one does.

Numbers and IBANs come from Stripe's testing docs. A number that is not a test card is refused as
Stripe's test mode refuses live cards; a well-formed IBAN that is not listed succeeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from propale_dev.sandbox.stripe.errors import StripeError


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str


GENERIC = Decline("card_declined", "generic_decline", "Your card was declined.")

# Stripe's documented test cards: number → (brand, funding, country).
CARDS = {
    "4242424242424242": ("visa", "credit", "US"),
    "4000056655665556": ("visa", "debit", "US"),
    "5555555555554444": ("mastercard", "credit", "US"),
    "2223003122003222": ("mastercard", "credit", "US"),
    "5200828282828210": ("mastercard", "debit", "US"),
    "378282246310005": ("amex", "credit", "US"),
    "371449635398431": ("amex", "credit", "US"),
    "6011111111111117": ("discover", "credit", "US"),
    "4000002500000003": ("visa", "credit", "FR"),
    "4000002500001001": ("cartes_bancaires", "credit", "FR"),
    "5555552500001001": ("cartes_bancaires", "credit", "FR"),
    "4000000000000341": ("visa", "credit", "US"),
}
# Declined when paying.
DECLINES = {
    "4000000000000002": GENERIC,
    "4000000000009995": Decline("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": Decline("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": Decline("card_declined", "stolen_card", "Your card was declined."),
    "4100000000000019": Decline("card_declined", "fraudulent", "Your card was declined."),
    "4000000000000069": Decline("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": Decline("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": Decline(
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}
# Attaching to a customer succeeds, every later charge is declined: the renewal-failure card.
FAILS_ON_CHARGE = {"4000000000000341"}
TOKENS = {
    "tok_visa": "4242424242424242",
    "tok_visa_debit": "4000056655665556",
    "tok_mastercard": "5555555555554444",
    "tok_amex": "378282246310005",
    "tok_chargeDeclined": "4000000000000002",
    "tok_chargeDeclinedInsufficientFunds": "4000000000009995",
    "tok_chargeCustomerFail": "4000000000000341",
}
MAGIC_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeCustomerFail": "4000000000000341",
}
# Stripe's documented test IBANs: IBAN → (outcome, settles after "three minutes").
# The "disputed" ones settle as successes: disputes are not simulated.
IBANS = {
    "AT611904300234573201": ("succeeded", False),
    "AT321904300235473204": ("succeeded", True),
    "AT861904300235473202": ("failed", False),
    "AT051904300235473205": ("failed", True),
    "AT591904300235473203": ("succeeded", False),
    "DE89370400440532013000": ("succeeded", False),
    "DE08370400440532013003": ("succeeded", True),
    "DE62370400440532013001": ("failed", False),
    "DE78370400440532013004": ("failed", True),
    "DE35370400440532013002": ("succeeded", False),
    "FR1420041010050500013M02606": ("succeeded", False),
    "FR3020041010050500013M02609": ("succeeded", True),
    "FR8420041010050500013M02607": ("failed", False),
    "FR7920041010050500013M02600": ("failed", True),
    "FR5720041010050500013M02608": ("succeeded", False),
    "NL39RABO0300065264": ("succeeded", False),
    "BE62510007547061": ("succeeded", False),
    "ES0700120345030000067890": ("succeeded", False),
}
SEPA_FAILURE = ("insufficient_funds", "The customer's account has insufficient funds to cover this payment.")


def luhn_ok(number: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(number)):
        d = int(digit)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def normalise_card(number: str) -> str:
    return re.sub(r"[\s-]", "", number or "")


def card_problem(number: str) -> Decline | None:
    """Why this number can't even make a payment method (bad number, live card in test mode)."""
    if not re.fullmatch(r"\d{12,19}", number) or not luhn_ok(number):
        return Decline("incorrect_number", "incorrect_number", "Your card number is incorrect.")
    if number not in CARDS and number not in DECLINES:
        return Decline(
            "card_declined",
            "test_mode_live_card",
            "Your card was declined. Your request was in test mode, but used a non test (live) card. "
            "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
        )
    return None


def normalise_iban(iban: str) -> str:
    return re.sub(r"\s", "", iban or "").upper()


def iban_ok(iban: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}", iban):
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def iban_outcome(iban: str) -> tuple[str, bool]:
    """Unknown but well-formed IBANs succeed, as in Stripe's test mode."""
    return IBANS.get(iban, ("succeeded", False))


def card_error(decline: Decline, *, param: str | None = None, extra: dict[str, Any] | None = None) -> StripeError:
    return StripeError(
        decline.message,
        status=402,
        type="card_error",
        code=decline.code,
        param=param,
        extra={"decline_code": decline.decline_code, **(extra or {})},
    )

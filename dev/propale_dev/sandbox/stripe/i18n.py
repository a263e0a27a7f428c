"""Text of the hosted pages: French for `locale=fr` (and the sandbox's French account by default
for documents), English otherwise; money and dates formatted for the reader."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency

from propale.money import display_exponent, format_amount, minor_unit_exponent

CHECKOUT = {
    "fr": {
        "title": "Paiement",
        "banner": "Sandbox Propale : page de paiement simulée, aucun paiement réel n'est effectué",
        "back": "Retour",
        "pay": "Payer",
        "subscribe": "S'abonner –",
        "item": "Article",
        "qty": "Qté",
        "amount": "Montant",
        "subtotal": "Sous-total",
        "total_due": "Total dû aujourd'hui",
        "email": "E-mail",
        "card": "Carte bancaire",
        "card_number": "Numéro de carte",
        "expiry": "Date d'expiration",
        "expiry_placeholder": "MM / AA",
        "cvc": "CVC",
        "sepa": "Prélèvement SEPA",
        "name": "Nom du titulaire",
        "submit_pay": "Payer",
        "submit_subscribe": "S'abonner",
        "every": {"day": "par jour", "week": "par semaine", "month": "par mois", "year": "par an"},
        "every_n": {
            "day": "tous les {n} jours",
            "week": "toutes les {n} semaines",
            "month": "tous les {n} mois",
            "year": "tous les {n} ans",
        },
        "mandate": (
            "En fournissant vos informations de paiement et en confirmant ce paiement, vous autorisez (A) {seller} "
            "et Stripe, notre prestataire de services de paiement, à envoyer des instructions à votre banque pour "
            "débiter votre compte, et (B) votre banque à débiter votre compte conformément à ces instructions. Vous "
            "avez droit à un remboursement par votre banque selon les conditions de la convention que vous avez "
            "passée avec elle ; la demande doit être présentée dans les 8 semaines suivant la date du débit. Vos "
            "droits sont expliqués dans un document que vous pouvez obtenir auprès de votre banque."
        ),
    },
    "en": {
        "title": "Checkout",
        "banner": "Propale sandbox: simulated payment page, no real payment is made",
        "back": "Back",
        "pay": "Pay",
        "subscribe": "Subscribe –",
        "item": "Item",
        "qty": "Qty",
        "amount": "Amount",
        "subtotal": "Subtotal",
        "total_due": "Total due today",
        "email": "Email",
        "card": "Card",
        "card_number": "Card number",
        "expiry": "Expiration",
        "expiry_placeholder": "MM / YY",
        "cvc": "CVC",
        "sepa": "SEPA Direct Debit",
        "name": "Name",
        "submit_pay": "Pay",
        "submit_subscribe": "Subscribe",
        "every": {"day": "per day", "week": "per week", "month": "per month", "year": "per year"},
        "every_n": {
            "day": "every {n} days",
            "week": "every {n} weeks",
            "month": "every {n} months",
            "year": "every {n} years",
        },
        "mandate": (
            "By providing your payment information and confirming this payment, you authorise (A) {seller} and "
            "Stripe, our payment service provider, to send instructions to your bank to debit your account and (B) "
            "your bank to debit your account in accordance with those instructions. You are entitled to a refund "
            "from your bank under the terms of your agreement with it, claimed within 8 weeks of the debit."
        ),
    },
}

# What the payer reads for each decline or input problem.
MESSAGES = {
    "fr": {
        "generic_decline": "Votre carte a été refusée.",
        "insufficient_funds": "Les fonds de votre carte sont insuffisants.",
        "lost_card": "Votre carte a été refusée.",
        "stolen_card": "Votre carte a été refusée.",
        "fraudulent": "Votre carte a été refusée.",
        "expired_card": "Votre carte a expiré.",
        "incorrect_cvc": "Le code de sécurité de votre carte est incorrect.",
        "processing_error": "Une erreur s'est produite lors du traitement de votre carte. Veuillez réessayer dans quelques instants.",
        "incorrect_number": "Votre numéro de carte est incorrect.",
        "test_mode_live_card": (
            "Votre carte a été refusée. Votre demande a été faite en mode test, mais avec une carte réelle. "
            "Utilisez une carte de test, par exemple 4242 4242 4242 4242."
        ),
        "expiry_incomplete": "La date d'expiration de votre carte est incomplète.",
        "expiry_past": "La date d'expiration de votre carte est déjà passée.",
        "cvc_incomplete": "Le code de sécurité de votre carte est incomplet.",
        "iban_invalid": "Le code IBAN saisi est incorrect.",
        "email_missing": "Veuillez saisir votre adresse e-mail.",
        "email_invalid": "Votre adresse e-mail est incorrecte.",
        "name_missing": "Veuillez saisir le nom du titulaire.",
        "method_missing": "Veuillez choisir un moyen de paiement.",
    },
    "en": {
        "generic_decline": "Your card was declined.",
        "insufficient_funds": "Your card has insufficient funds.",
        "lost_card": "Your card was declined.",
        "stolen_card": "Your card was declined.",
        "fraudulent": "Your card was declined.",
        "expired_card": "Your card has expired.",
        "incorrect_cvc": "Your card's security code is incorrect.",
        "processing_error": "An error occurred while processing your card. Try again in a little bit.",
        "incorrect_number": "Your card number is incorrect.",
        "test_mode_live_card": "Your card was declined. Your request was in test mode, but used a real card.",
        "expiry_incomplete": "Your card's expiration date is incomplete.",
        "expiry_past": "Your card's expiration year is in the past.",
        "cvc_incomplete": "Your card's security code is incomplete.",
        "iban_invalid": "Your IBAN is invalid.",
        "email_missing": "Please enter your email address.",
        "email_invalid": "Your email address is invalid.",
        "name_missing": "Please enter the account holder's name.",
        "method_missing": "Please choose a payment method.",
    },
}

NOTICES = {
    "fr": {
        "expired": ("Session expirée", "Cette page de paiement a expiré. Demandez un nouveau lien au vendeur."),
        "complete": ("Paiement déjà effectué", "Ce paiement a déjà été effectué. Merci !"),
        "thanks": ("Merci !", "Votre paiement a bien été enregistré."),
        "missing": ("Page introuvable", "Cette page de paiement n'existe pas."),
        "return": "Revenir sur le site du vendeur",
    },
    "en": {
        "expired": ("Session expired", "This payment page has expired. Ask the seller for a new link."),
        "complete": ("Already paid", "This payment has already been made. Thank you!"),
        "thanks": ("Thank you!", "Your payment was received."),
        "missing": ("Page not found", "This payment page does not exist."),
        "return": "Return to the seller's website",
    },
}


def language(locale: str | None) -> str:
    return "fr" if (locale or "").startswith("fr") else "en"


def money(amount: int, currency: str, lang: str = "fr") -> str:
    """An amount in Stripe's minor units as the reader expects it: `5 000 JPY` for 5000 JPY, `5 000 ISK`
    for 500000 ISK (Stripe writes ISK with two decimals that are always 00), `12 345,67 HUF`."""
    return format_amount(amount, currency) if lang == "fr" else english_amount(amount, currency)


def english_amount(amount: int, currency: str) -> str:
    """The English form Stripe's own texts use (`€300.00`, `¥5,000`), with Stripe's minor units."""
    digits = display_exponent(currency)
    return format_currency(
        Decimal(amount).scaleb(-minor_unit_exponent(currency)),
        currency.upper(),
        format="¤#,##0" + ("." + "0" * digits if digits else ""),
        locale="en_US",
        currency_digits=False,
    )


def country(code: str) -> str:
    """A country's French name from its ISO code (`FR` → `France`), as an address prints it."""
    return Locale("fr", "FR").territories.get(code.upper(), code)


def date(ts: int | None, lang: str = "fr") -> str:
    if not ts:
        return ""
    return format_date(
        datetime.fromtimestamp(ts, UTC).date(), format="long", locale="fr_FR" if lang == "fr" else "en_GB"
    )


def every(recurring: dict | None, lang: str) -> str:
    if not recurring:
        return ""
    texts = CHECKOUT[lang]
    if recurring["interval_count"] == 1:
        return texts["every"][recurring["interval"]]
    return texts["every_n"][recurring["interval"]].format(n=recurring["interval_count"])

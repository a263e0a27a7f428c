"""Propale's settings from Airflow Variables: defaults, and a plain-English error per mistake."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from propale.notices import settings_notice
from propale.settings import SANDBOX_SECRET_KEY, Settings, SettingsError

SELLER = {
    "name": "Les Bureaux du Canal",
    "address": "12 quai de Jemmapes\n75010 Paris",
    "siren": "812 345 678",
    "vat_number": "FR 45 812345678",
    "email": "Contact@BureauxDuCanal.fr",
}
SECRET = "k" * 40


def load(environ: dict[str, str] | None = None, **variables: str) -> Settings:
    values = {
        "propale_public_url": "https://propale.bureauxducanal.fr/",
        "propale_secret_key": SECRET,
        "propale_seller": json.dumps(SELLER),
        **variables,
    }
    return Settings.load(
        {k: v for k, v in values.items() if v is not None}.get, environ={} if environ is None else environ
    )


def error_of(**variables: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(**variables)
    return str(caught.value)


def test_defaults_and_normalisation():
    settings = load(environ={"AIRFLOW_HOME": "/opt/airflow"})
    assert settings.public_url == "https://propale.bureauxducanal.fr"
    assert settings.proposal_url("abc") == "https://propale.bureauxducanal.fr/p/abc"
    assert settings.db_url == "sqlite:////opt/airflow/propale.db"
    assert settings.validity_days == 30
    assert settings.payment_methods == ("card", "sepa_debit")
    assert settings.currency == "eur"
    assert settings.secret_key == SECRET
    assert settings.seller.address_lines == ("12 quai de Jemmapes", "75010 Paris")
    assert settings.seller.siren == "812345678"
    assert settings.seller.vat_number == "FR45812345678"
    assert settings.seller.email == "Contact@bureauxducanal.fr"
    assert not settings.is_sandbox


def test_db_url_defaults_under_home_airflow_when_airflow_home_is_unset():
    assert load(environ={}).db_url == f"sqlite:///{Path('~/airflow').expanduser() / 'propale.db'}"


def test_explicit_values_are_used():
    settings = load(
        propale_db_url="postgresql://propale@db/propale",
        propale_validity_days="15",
        propale_payment_methods='["sepa_debit"]',
        propale_currency="USD",
        propale_seller=json.dumps({**SELLER, "address": ["1 rue A", "  ", "75001 Paris"], "phone": "01 23 45 67 89"}),
    )
    assert settings.db_url == "postgresql://propale@db/propale"
    assert settings.validity_days == 15
    assert settings.payment_methods == ("sepa_debit",)
    assert settings.currency == "usd"
    assert settings.seller.address_lines == ("1 rue A", "75001 Paris")
    assert settings.seller.phone == "01 23 45 67 89"


def test_settings_are_immutable():
    settings = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.currency = "usd"  # type: ignore[misc]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_public_url_is_required(value):
    message = error_of(propale_public_url=value)
    assert message.startswith("propale_public_url is not set")


@pytest.mark.parametrize("value", ["propale.example.fr", "ftp://propale.example.fr", "https://x.fr/?a=1"])
def test_public_url_must_be_a_plain_http_url(value):
    assert "propale_public_url must" in error_of(propale_public_url=value)


def test_secret_key_is_required_when_links_leave_this_machine():
    message = error_of(propale_secret_key=None)
    assert message.startswith("propale_secret_key is not set")
    assert "propale_public_url" in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8080/propale", "http://[::1]:8080"])
def test_sandbox_links_on_this_machine_work_without_a_secret_key(url):
    settings = load(propale_public_url=url, propale_secret_key=None)
    assert settings.is_sandbox
    assert settings.secret_key == SANDBOX_SECRET_KEY


def test_short_secret_key_is_refused():
    assert error_of(propale_secret_key="tooshort") == (
        "propale_secret_key is too short: use at least 32 random characters."
    )


def test_seller_is_required_and_must_be_json():
    assert error_of(propale_seller=None).startswith(
        "propale_seller is not set: set it to a JSON object with name, address"
    )
    assert error_of(propale_seller="{name: 1}").startswith("propale_seller is not valid JSON (")
    assert error_of(propale_seller="[]") == "propale_seller must be a JSON object, got a JSON list."


def test_seller_missing_and_unknown_fields_are_named():
    partial = {key: value for key, value in SELLER.items() if key not in ("siren", "email")}
    assert error_of(propale_seller=json.dumps({**partial, "vat_number": " "})) == (
        "propale_seller is missing required field(s): siren, vat_number, email."
    )
    assert error_of(propale_seller=json.dumps({**SELLER, "capital": "10 000 €"})) == (
        "propale_seller has unknown field(s): capital."
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("siren", "81234567", "propale_seller.siren must be the 9 digits of a SIREN number, got '81234567'."),
        ("email", "contact@", "propale_seller.email is not a valid email address"),
        ("logo_url", "file:///etc/passwd", "propale_seller.logo_url must be an http(s) or data: URL"),
        ("address", 12, "propale_seller.address must be a string"),
        ("name", 12, "propale_seller.name must be a JSON string."),
    ],
)
def test_malformed_seller_fields_are_explained(field, value, expected):
    assert error_of(propale_seller=json.dumps({**SELLER, field: value})).startswith(expected)


@pytest.mark.parametrize("value", ["abc", "0", "-3", "366", "2.5"])
def test_validity_days_must_be_a_sensible_whole_number(value):
    assert error_of(propale_validity_days=value) == (
        f"propale_validity_days must be a whole number of days between 1 and 365, got {value!r}."
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '["paypal", "card"]',
            'propale_payment_methods contains unsupported method(s) paypal: only "card" and "sepa_debit" are supported.',
        ),
        ("[]", 'propale_payment_methods must be a non-empty JSON list of "card" and "sepa_debit"'),
        ('"card"', 'propale_payment_methods must be a non-empty JSON list of "card" and "sepa_debit"'),
        ('["card", "card"]', "propale_payment_methods lists a method more than once."),
        ("card,sepa_debit", "propale_payment_methods is not valid JSON"),
    ],
)
def test_payment_methods_are_checked(value, expected):
    assert error_of(propale_payment_methods=value).startswith(expected)


@pytest.mark.parametrize("value", ["euro", "ZZZ", "€"])
def test_currency_must_be_iso_4217(value):
    assert error_of(propale_currency=value) == (
        f"propale_currency must be an ISO 4217 currency code such as eur, got {value!r}."
    )


def test_the_sellers_invoice_mentions_are_optional_and_trimmed():
    assert load().seller.late_payment_penalties is None and load().seller.vat_exemption_mention is None
    seller = load(
        propale_seller=json.dumps(
            {**SELLER, "late_payment_penalties": "  trois fois le taux d’intérêt légal ", "vat_exemption_mention": " "}
        )
    ).seller
    assert seller.late_payment_penalties == "trois fois le taux d’intérêt légal"
    assert seller.vat_exemption_mention is None, "blank is unset"


def test_a_malformed_invoice_mention_is_named_to_the_sales_team_in_french():
    with pytest.raises(SettingsError) as caught:
        load(propale_seller=json.dumps({**SELLER, "vat_exemption_mention": ["Autoliquidation"]}))
    assert str(caught.value) == "propale_seller.vat_exemption_mention must be a JSON string."
    assert "la mention d’exonération de TVA" in settings_notice(caught.value)

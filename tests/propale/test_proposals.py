"""The proposal domain: what a rep is told to fix, the arithmetic, the frozen snapshot."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from propale.proposals import (
    BILLING_INTERVALS,
    InvalidDeal,
    PersonInput,
    ProposalSnapshot,
    proposal_number,
    source_fingerprint,
    validate,
    validity_period,
)
from support.factories import (
    DESK,
    ISSUED_AT,
    OFFICE,
    ROOM,
    SETUP,
    eur,
    line,
    sample_deal,
    sample_snapshot,
)

# --- validation ---------------------------------------------------------------------------------


def test_a_complete_deal_has_no_problem():
    assert validate(sample_deal()) == []
    assert validate(sample_deal(company=None, owner=None, currency=None, line_items=(ROOM,))) == []


def test_missing_primary_contact():
    assert validate(sample_deal(contact=None)) == [
        "Aucun contact principal n’est associé à la transaction : associez-lui le contact qui doit recevoir la proposition."
    ]


@pytest.mark.parametrize("email", [None, "", "  "])
def test_contact_without_email(email):
    assert validate(sample_deal(contact=PersonInput("501", email, "Jeanne", "Martin"))) == [
        "Le contact principal « Jeanne Martin » n’a pas d’adresse e-mail : renseignez-la pour qu’il puisse recevoir la proposition."
    ]


@pytest.mark.parametrize("email", ["jeanne.martin@", "jeanne martin@acme.fr", "jeanne@@acme.fr", "jeanne@acme"])
def test_contact_with_invalid_email(email):
    assert validate(sample_deal(contact=PersonInput("501", email, "Jeanne", "Martin"))) == [
        "L’adresse e-mail du contact principal « Jeanne Martin » n’est pas valide : corrigez-la dans HubSpot."
    ]


def test_no_line_items():
    assert validate(sample_deal(line_items=())) == [
        "La transaction n’a aucune ligne de produit : ajoutez au moins un produit ou un service à proposer."
    ]


@pytest.mark.parametrize("quantity", ["0", "-1", "1.5", "deux", "", None])
def test_quantity_must_be_a_positive_whole_number(quantity):
    assert validate(sample_deal(line_items=(line("Poste nomade", quantity=quantity),))) == [
        f"La quantité de la ligne « Poste nomade » (« {quantity or ''} ») doit être un nombre entier supérieur à zéro."
    ]


def test_quantity_written_as_a_whole_decimal_is_accepted():
    snapshot = sample_snapshot(sample_deal(line_items=(line("Poste nomade", quantity="2.0"),)))
    assert snapshot.lines[0].quantity == 2


def test_negative_price():
    assert validate(sample_deal(line_items=(line("Avoir", price="-50"),))) == [
        f"Le prix unitaire de la ligne « Avoir » est négatif ({eur(-5000)}) : une proposition ne peut pas contenir "
        "de prix négatif, accordez plutôt une remise en pourcentage."
    ]


def test_missing_or_unreadable_price():
    assert validate(sample_deal(line_items=(line("Café", price=""), line("Thé", price="3,50")))) == [
        "La ligne « Café » n’a pas de prix unitaire : renseignez-le (0 pour une ligne offerte).",
        "Le prix unitaire de la ligne « Thé » (« 3,50 ») n’est pas un montant lisible.",
    ]


def test_free_line_at_price_zero_is_allowed():
    assert validate(sample_deal(line_items=(OFFICE, line("Café offert", price="0")))) == []


@pytest.mark.parametrize(
    "lines",
    [
        (line("Visite des locaux", price="0"),),
        (line("Café offert", price="0"), line("Badge", price="0", recurring_billing_frequency="monthly")),
        # A price too small to survive its discount: each unit rounds to 0,00 €.
        (line("Impression", quantity="3", price="0.01", discount_percentage="60"),),
    ],
)
def test_a_proposal_with_nothing_to_pay_is_refused(lines):
    assert validate(sample_deal(line_items=lines)) == [
        f"Le montant total de la proposition est nul ({eur(0)}) : il n’y a rien à facturer. Ajoutez au moins une ligne "
        "payante ; une ligne offerte (prix à 0) ne peut qu’accompagner une offre payante."
    ]


@pytest.mark.parametrize("discount", ["-5", "120", "beaucoup"])
def test_discount_outside_zero_to_hundred(discount):
    assert validate(sample_deal(line_items=(line("Poste fixe", discount_percentage=discount),))) == [
        f"La remise de la ligne « Poste fixe » (« {discount} ») doit être un pourcentage compris entre 0 et 100."
    ]


def test_full_discount_says_the_line_becomes_free():
    assert validate(sample_deal(line_items=(line("Poste fixe", discount_percentage="100"),))) == [
        "La remise de 100 % rend la ligne « Poste fixe » gratuite : retirez la ligne, ou mettez son prix à 0 "
        "si elle doit figurer comme offerte."
    ]


def test_invalid_tax_rate():
    assert validate(sample_deal(line_items=(line("Poste fixe", tax_rate="150"),))) == [
        "Le taux de TVA de la ligne « Poste fixe » (« 150 ») doit être un pourcentage compris entre 0 et 100."
    ]


def test_mixed_currencies_are_named():
    items = (line("Poste fixe", currency="EUR"), line("Licence logiciel", currency="usd"))
    assert validate(sample_deal(line_items=items)) == [
        "La transaction mélange plusieurs devises (EUR, USD) : une proposition est établie dans une seule devise, "
        "mettez toutes les lignes dans la même."
    ]


def test_unknown_currencies():
    problems = validate(sample_deal(currency="EURO", line_items=(line("Poste fixe", currency="XYZ"),)))
    assert problems == [
        "La devise « EURO » de la transaction est inconnue : utilisez un code ISO 4217 comme EUR.",
        "La devise « XYZ » de la ligne « Poste fixe » est inconnue : utilisez un code ISO 4217 comme EUR.",
    ]


def test_recurring_intervals_that_one_subscription_cannot_bill():
    items = (OFFICE, line("Domiciliation", price="600", recurring_billing_frequency="annually"), SETUP)
    assert validate(sample_deal(line_items=items)) == [
        "Les lignes récurrentes n’ont pas toutes la même fréquence de facturation (« Bureau privé 4 postes » : "
        "chaque mois ; « Domiciliation » : chaque année). Un abonnement Stripe ne facture qu’une seule fréquence : "
        "alignez-les, ou proposez-les dans des transactions séparées."
    ]


def test_unknown_billing_frequency():
    assert validate(sample_deal(line_items=(line("Poste fixe", recurring_billing_frequency="fortnightly"),))) == [
        "La fréquence de facturation « fortnightly » de la ligne « Poste fixe » est inconnue : choisissez une "
        "fréquence mensuelle, trimestrielle, semestrielle ou annuelle, ou laissez-la vide pour une prestation ponctuelle."
    ]


def test_billing_frequency_beyond_what_stripe_bills():
    assert validate(sample_deal(line_items=(line("Bail", recurring_billing_frequency="per_five_years"),))) == [
        "La ligne « Bail » est facturée tous les cinq ans, ce que Stripe ne permet pas (trois ans au plus) : "
        "choisissez une fréquence mensuelle, trimestrielle, semestrielle ou annuelle, ou laissez-la vide pour une "
        "prestation ponctuelle."
    ]


def test_deleted_product():
    assert validate(sample_deal(line_items=(line("Ancienne offre", product_archived=True),))) == [
        "Le produit de la ligne « Ancienne offre » a été supprimé de la bibliothèque de produits HubSpot : "
        "remplacez la ligne par un produit actif."
    ]


def test_unnamed_line_is_designated_by_its_position():
    problems = validate(sample_deal(line_items=(OFFICE, line("", quantity="0"))))
    assert problems == [
        "La ligne n° 2 n’a pas de nom : donnez-lui un nom, il figurera sur la proposition.",
        "La quantité de la ligne n° 2 (« 0 ») doit être un nombre entier supérieur à zéro.",
    ]


def test_every_problem_is_reported_at_once():
    deal = sample_deal(contact=None, line_items=(line("A", quantity="0"), line("B", price="-1")))
    assert len(validate(deal)) == 3


def test_hubspot_billing_frequencies_map_to_stripe_intervals():
    mapping = {code: (i.stripe_interval, i.stripe_interval_count, i.label) for code, i in BILLING_INTERVALS.items()}
    assert mapping["monthly"] == ("month", 1, "/ mois")
    assert mapping["quarterly"] == ("month", 3, "/ trimestre")
    assert mapping["per_six_months"] == ("month", 6, "/ semestre")
    assert mapping["annually"] == ("year", 1, "/ an")
    assert mapping["per_two_years"] == ("year", 2, "/ 2 ans")


# --- arithmetic ---------------------------------------------------------------------------------


def test_discounted_line_is_rounded_per_unit_as_stripe_bills_it():
    # 3 × 33,33 € at 12,5 %: 29,16375 € per unit, rounded to 29,16 €; the line is 3 × 29,16 €,
    # not 12,5 % off 99,99 € (87,49 €), so that the PDF and Stripe's invoice agree to the cent.
    deal = sample_deal(line_items=(line("Poste nomade", "3", "33.33", discount_percentage="12.5"),))
    (item,) = sample_snapshot(deal).lines
    assert (item.unit_price, item.net_unit_price, item.net_total) == (3333, 2916, 8748)
    assert item.vat_rate == Decimal(20)
    assert (item.vat, item.gross) == (1750, 10498)  # 17,496 € of VAT rounds half up to 17,50 €


@pytest.mark.parametrize(
    ("quantity", "price", "discount", "rate"),
    [
        ("7", "19.99", "15", "20"),
        ("3", "0.01", "50", "5.5"),
        ("12", "33.333", "33.33", "10"),
        ("1", "1234.565", "", "2.1"),
    ],
)
def test_line_totals_are_exact_multiples_of_the_net_unit_price(quantity, price, discount, rate):
    deal = sample_deal(line_items=(line("X", quantity, price, discount_percentage=discount, tax_rate=rate),))
    (item,) = sample_snapshot(deal).lines
    assert item.net_total == item.net_unit_price * item.quantity
    assert item.gross == item.net_total + item.vat


def test_price_with_more_decimals_than_the_currency_rounds_half_up():
    (item,) = sample_snapshot(sample_deal(line_items=(line("X", "1", "1234.565"),))).lines
    assert item.unit_price == 123457


@pytest.mark.parametrize(
    ("rate", "expected"), [(None, Decimal(20)), ("", Decimal(20)), ("5.5", Decimal("5.5")), ("0", Decimal(0))]
)
def test_vat_rate_is_twenty_percent_unless_the_line_says_otherwise(rate, expected):
    (item,) = sample_snapshot(sample_deal(line_items=(line("X", "1", "100", tax_rate=rate),))).lines
    assert item.vat_rate == expected
    assert item.vat == int(100_00 * expected / 100)


def test_recurring_and_one_off_totals_are_split():
    deal = sample_deal(line_items=(OFFICE, DESK, SETUP, line("Badge", "4", "10", tax_rate="5.5")))
    snapshot = sample_snapshot(deal)
    assert [item.name for item in snapshot.recurring_lines] == ["Bureau privé 4 postes", "Poste fixe"]
    assert [item.name for item in snapshot.one_off_lines] == ["Frais de mise en service", "Badge"]

    recurring = snapshot.recurring
    assert recurring is not None and recurring.interval is BILLING_INTERVALS["monthly"]
    assert (recurring.net, recurring.vat, recurring.gross) == (290000, 58000, 348000)

    one_off = snapshot.one_off
    assert one_off is not None and one_off.interval is None
    assert (one_off.net, one_off.vat, one_off.gross) == (19000, 3000 + 220, 22220)
    assert [(v.rate, v.base, v.vat) for v in one_off.vat_breakdown] == [
        (Decimal(20), 15000, 3000),
        (Decimal("5.5"), 4000, 220),
    ]

    assert snapshot.first_payment == 348000 + 22220


def test_one_off_only_and_recurring_only_proposals():
    one_off = sample_snapshot(sample_deal(line_items=(ROOM,)))
    assert one_off.recurring is None and one_off.one_off is not None
    assert one_off.first_payment == one_off.one_off.gross == 43200

    recurring = sample_snapshot(sample_deal(line_items=(OFFICE,)))
    assert recurring.one_off is None and recurring.recurring is not None
    assert recurring.first_payment == recurring.recurring.gross == 240000


# --- wording ------------------------------------------------------------------------------------


def test_summary_for_a_recurring_offer_with_set_up_fees():
    assert sample_snapshot().summary == (
        f"{eur(200000)} HT / mois et {eur(15000)} HT de frais ponctuels",
        f"Premier paiement de {eur(258000)} TTC à l’acceptation, puis {eur(240000)} TTC chaque mois.",
    )


def test_summary_for_a_recurring_offer_alone():
    quarterly = line("Bureau privé", "1", "6000", recurring_billing_frequency="quarterly")
    assert sample_snapshot(sample_deal(line_items=(quarterly,))).summary == (
        f"{eur(600000)} HT / trimestre, soit {eur(720000)} TTC",
        "Premier paiement à l’acceptation, puis renouvellement automatique chaque trimestre.",
    )


def test_summary_for_a_one_off_offer():
    assert sample_snapshot(sample_deal(line_items=(ROOM,))).summary == (
        f"{eur(36000)} HT, soit {eur(43200)} TTC",
        "Paiement unique à l’acceptation de la proposition.",
    )


def test_payment_terms_name_the_methods_in_the_configured_order():
    one_off = sample_snapshot(sample_deal(line_items=(ROOM,)), propale_payment_methods='["sepa_debit", "card"]')
    assert one_off.payment_terms == (
        f"Paiement de {eur(43200)} TTC à l’acceptation de la proposition, par prélèvement SEPA ou par carte bancaire."
    )
    recurring = sample_snapshot(propale_payment_methods='["card"]')
    assert recurring.payment_terms == (
        f"Le premier paiement, de {eur(258000)} TTC, comprend les prestations ponctuelles et la première période de "
        "l’abonnement ; il est dû à l’acceptation de la proposition, par carte bancaire. L’abonnement est ensuite "
        f"facturé d’avance chaque mois, soit {eur(240000)} TTC, et réglé automatiquement par le même moyen."
    )


# --- the snapshot -------------------------------------------------------------------------------


def test_snapshot_carries_parties_dates_and_currency():
    snapshot = sample_snapshot()
    assert (snapshot.number, snapshot.version, snapshot.deal_id) == ("DEV-2026-00042", 1, "9001")
    assert snapshot.currency == "eur"
    assert snapshot.issued_at == ISSUED_AT and snapshot.valid_until == date(2026, 4, 1)
    assert snapshot.seller.name == "Les Bureaux du Canal"
    assert snapshot.customer.display_name == "Acme SARL"
    assert snapshot.customer.address_lines == ("3 rue des Lilas", "Bâtiment B", "69003 Lyon", "France")
    assert snapshot.customer.email == "jeanne.martin@acme.fr"
    assert snapshot.rep is not None and (snapshot.rep.name, snapshot.rep.email) == (
        "Paul Durand",
        "paul.durand@bureauxducanal.fr",
    )
    assert snapshot.payment_methods == ("card", "sepa_debit")


def test_currency_falls_back_to_the_settings():
    snapshot = sample_snapshot(sample_deal(currency=None), propale_currency="chf")
    assert snapshot.currency == "chf"
    assert sample_snapshot(sample_deal(currency="USD")).currency == "usd"


def test_customer_without_company_is_the_contact():
    snapshot = sample_snapshot(sample_deal(company=None))
    assert snapshot.customer.display_name == "Jeanne Martin"
    assert snapshot.customer.address_lines == ()


def test_snapshot_survives_a_json_round_trip_exactly():
    deal = sample_deal(
        line_items=(OFFICE, SETUP, line("Badge", "4", "10.005", tax_rate="5.5", discount_percentage="33.333"))
    )
    snapshot = sample_snapshot(deal)
    stored = json.loads(json.dumps(snapshot.to_dict()))
    assert stored["lines"][2]["discount_percent"] == "33.333"
    restored = ProposalSnapshot.from_dict(stored)
    assert restored == snapshot
    assert restored.lines[0].interval is BILLING_INTERVALS["monthly"]


def test_snapshot_is_immutable():
    snapshot = sample_snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.number = "DEV-2026-00043"  # type: ignore[misc]


def test_build_snapshot_refuses_an_invalid_deal():
    with pytest.raises(InvalidDeal) as caught:
        sample_snapshot(sample_deal(contact=None))
    assert caught.value.problems == validate(sample_deal(contact=None))


def test_source_fingerprint_follows_the_deal_content():
    assert source_fingerprint(sample_deal()) == source_fingerprint(sample_deal())
    assert source_fingerprint(sample_deal()) != source_fingerprint(sample_deal(line_items=(OFFICE,)))
    changed_price = dataclasses.replace(OFFICE, price="2100")
    assert source_fingerprint(sample_deal()) != source_fingerprint(sample_deal(line_items=(changed_price, SETUP)))


def test_numbers_are_zero_padded_per_year():
    assert proposal_number(2026, 42) == "DEV-2026-00042"
    assert proposal_number(2027, 123456) == "DEV-2027-123456"


def test_validity_follows_paris_dates():
    # 23:30 UTC on 31 December is already 1 January in Paris.
    valid_until, expires_at = validity_period(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), 30)
    assert valid_until == date(2027, 1, 31)
    assert expires_at == datetime(2027, 1, 31, 23, 0, tzinfo=UTC)  # midnight in Paris (UTC+1)
    _, summer_expiry = validity_period(datetime(2026, 6, 1, 8, 0, tzinfo=UTC), 30)
    assert summer_expiry == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)  # UTC+2 in summer

"""The proposal domain: what a rep is told to fix, the arithmetic, the frozen snapshot."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from propale.proposals import (
    BILLING_INTERVALS,
    TIMEZONE,
    CompanyInput,
    InvalidDeal,
    PersonInput,
    PostalAddress,
    ProposalSnapshot,
    Term,
    catalogue_warnings,
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
    sample_settings,
    sample_snapshot,
    seller_json,
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


def test_a_deleted_product_or_another_price_goes_out_as_written_and_the_rep_is_warned():
    items = (
        line("Ancienne offre", product_id="p-old", product_archived=True),
        line("Poste fixe", price="300", product_id="p-desk", product_price="320"),
        line("Bureau privé", price="2000.00", product_id="p-office", product_price="2000"),
        line("Café", price="5"),
    )
    deal = sample_deal(line_items=items)
    assert validate(deal, sample_settings()) == []
    assert [item.unit_price for item in sample_snapshot(deal).lines] == [200000, 30000, 200000, 500]
    assert catalogue_warnings(deal, sample_settings()) == [
        "La ligne « Ancienne offre » vient d’un produit supprimé de la bibliothèque de produits HubSpot : elle a été "
        "proposée telle qu’elle figure sur la transaction.",
        f"Le prix unitaire de la ligne « Poste fixe » ({eur(30000)} HT) n’est pas celui du produit dans la "
        f"bibliothèque de produits HubSpot ({eur(32000)} HT).",
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
        ("60", "0.01", "50", "5.5"),
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
    deal = sample_deal(line_items=(line("X", "1", "100", tax_rate=rate),))
    (item,) = sample_snapshot(deal, propale_seller=seller_json(vat_exemption_mention="Autoliquidation")).lines
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


# --- what Stripe would refuse -------------------------------------------------------------------


def test_a_first_payment_below_stripes_minimum_is_refused_naming_both_amounts():
    # 0,40 € HT is 0,48 € TTC; Stripe charges at least 0,50 € in euros.
    assert validate(sample_deal(line_items=(line("Photocopie", "1", "0.40"),))) == [
        f"Le premier paiement de la proposition ({eur(48)} TTC) est inférieur au minimum que Stripe accepte pour un "
        f"paiement en EUR ({eur(50)}) : complétez l’offre, ou regroupez-la avec une autre transaction."
    ]
    assert validate(sample_deal(line_items=(line("Photocopies", "1", "0.42"),))) == []  # 0,50 € TTC


def test_charges_above_stripes_maximum_are_refused():
    # 99 999 999 minor units is Stripe's ceiling for a payment that SEPA Direct Debit may make.
    assert validate(sample_deal(line_items=(line("Immeuble", "1", "900000"),))) == [
        f"Le premier paiement de la proposition ({eur(108000000)} TTC) dépasse le maximum que Stripe accepte pour un "
        f"paiement en EUR ({eur(99999999)}) : répartissez l’offre entre plusieurs transactions."
    ]
    building = line("Plateau", "1", "850000", recurring_billing_frequency="annually")
    assert validate(sample_deal(line_items=(building,))) == [
        f"Le premier paiement de la proposition ({eur(102000000)} TTC) dépasse le maximum que Stripe accepte pour un "
        f"paiement en EUR ({eur(99999999)}) : répartissez l’offre entre plusieurs transactions.",
        f"Chaque paiement de l’abonnement ({eur(102000000)} TTC par an) dépasse le maximum que Stripe accepte pour "
        f"un paiement en EUR ({eur(99999999)}) : répartissez l’abonnement entre plusieurs transactions.",
    ]


def _lines(count: int, **fields) -> tuple:
    return tuple(line(f"Ligne {i}", "1", "10", **fields) for i in range(count))


def test_more_lines_than_a_checkout_session_takes_are_refused():
    monthly = {"recurring_billing_frequency": "monthly"}
    assert validate(sample_deal(line_items=_lines(20, **monthly) + _lines(20))) == []
    assert validate(sample_deal(line_items=_lines(21, **monthly))) == [
        "La proposition compte 21 lignes récurrentes, et la page de paiement de Stripe en accepte 20 au plus pour un "
        "abonnement : regroupez des lignes, ou répartissez l’offre entre plusieurs transactions."
    ]
    assert validate(sample_deal(line_items=_lines(1, **monthly) + _lines(21))) == [
        "La proposition compte 21 lignes ponctuelles à côté de l’abonnement, et la page de paiement de Stripe en "
        "accepte 20 au plus dans ce cas : regroupez des lignes, ou répartissez l’offre entre plusieurs transactions."
    ]
    assert validate(sample_deal(line_items=_lines(100))) == []
    assert validate(sample_deal(line_items=_lines(101))) == [
        "La proposition compte 101 lignes, et la page de paiement de Stripe en accepte 100 au plus : regroupez des "
        "lignes, ou répartissez l’offre entre plusieurs transactions."
    ]


@pytest.mark.parametrize(
    ("currency", "price", "rule", "nearest"),
    [
        ("JPY", "1000.5", "les montants en JPY n’ont pas de décimales", "1\u202f001\xa0JPY"),
        ("ISK", "99.5", "Stripe ne facture les montants en ISK qu’en unités entières", "100\xa0ISK"),
        ("UGX", "2500.25", "Stripe ne facture les montants en UGX qu’en unités entières", "2\u202f500\xa0UGX"),
        (
            "KWD",
            "5.125",
            "Stripe ne facture les montants en KWD qu’avec deux décimales au plus (la troisième est toujours 0)",
            "5,130\xa0KWD",
        ),
    ],
)
def test_a_price_stripe_cannot_charge_exactly_in_the_currency_is_refused(currency, price, rule, nearest):
    assert validate(sample_deal(currency=currency, line_items=(line("Licence", "1", price),))) == [
        f"Le prix unitaire de la ligne « Licence » (« {price} ») n’est pas un montant que Stripe peut facturer en "
        f"{currency} : {rule} ; indiquez par exemple {nearest}."
    ]


def test_a_fixed_discount_stripe_cannot_charge_exactly_is_refused():
    assert validate(sample_deal(currency="JPY", line_items=(line("Licence", "1", "1000", discount="0.5"),))) == [
        "La remise en montant de la ligne « Licence » (« 0.5 ») n’est pas un montant que Stripe peut facturer en JPY : "
        "les montants en JPY n’ont pas de décimales ; indiquez par exemple 1\xa0JPY."
    ]


@pytest.mark.parametrize(
    ("currency", "price", "unit_price", "shown"),
    [
        ("HUF", "12345", 1234500, "12\u202f345,00\xa0HUF"),  # two decimals in Stripe's amounts
        ("TWD", "12345.67", 1234567, "12\u202f345,67\xa0TWD"),
        ("ISK", "5000", 500000, "5\u202f000\xa0ISK"),  # two decimals, always 00
        ("UGX", "5000", 500000, "5\u202f000\xa0UGX"),
        ("JPY", "5000", 5000, "5\u202f000\xa0JPY"),  # zero-decimal
        ("KWD", "5.12", 5120, "5,120\xa0KWD"),  # three decimals, the last one 0
    ],
)
def test_amounts_in_stripes_minor_units_end_to_end(currency, price, unit_price, shown):
    snapshot = sample_snapshot(sample_deal(currency=currency, line_items=(line("Licence", "1", price),)))
    (item,) = snapshot.lines
    assert snapshot.currency == currency.lower()
    assert item.unit_price == item.net_total == unit_price
    assert snapshot.summary[0].startswith(f"{shown} HT")
    assert ProposalSnapshot.from_dict(json.loads(json.dumps(snapshot.to_dict()))) == snapshot


@pytest.mark.parametrize("currency", ["ISK", "UGX"])
def test_whole_unit_currencies_round_vat_and_discounts_to_whole_units_as_stripe_charges(currency):
    # 4 999 at 5,5 % is 274,945 of VAT: Stripe charges whole units, so the quote says 275.
    items = (line("Licence", "1", "4999", tax_rate="5.5"), line("Support", "3", "1001", discount_percentage="12.5"))
    snapshot = sample_snapshot(sample_deal(currency=currency, line_items=items))
    licence, support = snapshot.lines
    assert (licence.net_total, licence.vat) == (499900, 27500)
    assert support.net_unit_price == 87600  # 875,875 rounded to 876
    assert all(amount % 100 == 0 for amount in (snapshot.first_payment, support.vat, snapshot.one_off.vat))


def test_sepa_debit_is_only_offered_in_euros():
    assert sample_snapshot().payment_methods == ("card", "sepa_debit")
    dollars = sample_snapshot(sample_deal(currency="USD"))
    assert (dollars.payment_methods, dollars.unavailable_methods) == (("card",), ("sepa_debit",))
    assert dollars.unavailable_method_notes == ("Le prélèvement SEPA n’est proposé que pour les paiements en euros.",)
    assert "par carte bancaire." in dollars.payment_terms and "SEPA" not in dollars.payment_terms


def test_a_currency_no_configured_method_takes_is_refused():
    sepa_only = sample_settings(propale_payment_methods='["sepa_debit"]')
    assert validate(sample_deal(currency="USD"), sepa_only) == [
        "Aucun moyen de paiement configuré n’est disponible pour une proposition en USD : Le prélèvement SEPA n’est "
        "proposé que pour les paiements en euros. Changez la devise de la transaction, ou demandez à un administrateur "
        "d’ajouter la carte bancaire (« card ») à la variable propale_payment_methods."
    ]
    assert validate(sample_deal(currency="EUR"), sepa_only) == []
    with pytest.raises(InvalidDeal):
        sample_snapshot(sample_deal(currency="USD"), propale_payment_methods='["sepa_debit"]')


def test_invalid_vat_number_and_siren_are_refused_naming_the_company_field():
    company = CompanyInput("601", "Acme SARL", vat_number="FR12345678901", siren="345678901")
    assert validate(sample_deal(company=company)) == [
        "Le numéro de TVA intracommunautaire « FR12345678901 » de l’entreprise « Acme SARL » n’est pas valide : "
        "corrigez la propriété « Numéro de TVA intracommunautaire » (vat_number) de l’entreprise dans HubSpot, ou "
        "videz-la si l’entreprise n’en a pas.",
        "Le SIREN « 345678901 » de l’entreprise « Acme SARL » n’est pas valide (neuf chiffres, dont une clé de "
        "contrôle) : corrigez la propriété « SIREN » (siren) de l’entreprise dans HubSpot, ou videz-la si "
        "l’entreprise n’en a pas.",
    ]


def test_valid_identifiers_written_with_blanks_are_kept_compact():
    company = CompanyInput("601", "Acme SARL", vat_number="fr 36 345 678 908", siren="345 678 908")
    customer = sample_snapshot(sample_deal(company=company)).customer
    assert (customer.vat_number, customer.siren) == ("FR36345678908", "345678908")


# --- HubSpot's line item fields -----------------------------------------------------------------


def test_a_term_makes_a_subscription_that_ends_after_it():
    items = (line("Bureau", "1", "2000", recurring_billing_frequency="monthly", term="P12M"), SETUP)
    snapshot = sample_snapshot(sample_deal(line_items=items))
    assert snapshot.term == Term("P12M", 12, 12)
    assert snapshot.commitment == (
        "Engagement de 12 mois : l’abonnement prend fin automatiquement après 12 prélèvements mensuels."
    )
    assert snapshot.payment_terms.endswith(snapshot.commitment)
    assert snapshot.summary[1] == (
        f"Premier paiement de {eur(258000)} TTC à l’acceptation, puis {eur(240000)} TTC chaque mois jusqu’au terme "
        "de l’engagement de 12 mois."
    )
    assert ProposalSnapshot.from_dict(json.loads(json.dumps(snapshot.to_dict()))) == snapshot


@pytest.mark.parametrize(
    ("frequency", "iso", "term", "label", "sentence_end"),
    [
        ("quarterly", "P1Y", Term("P1Y", 12, 4), "1 an", "après 4 prélèvements trimestriels."),
        ("annually", "P24M", Term("P24M", 24, 2), "24 mois", "après 2 prélèvements annuels."),
        ("annually", "P2Y", Term("P2Y", 24, 2), "2 ans", "après 2 prélèvements annuels."),
        ("annually", "P1Y0M0D", Term("P1Y0M0D", 12, 1), "1 an", "après 1 prélèvement annuel."),
        ("monthly", "P1Y6M", Term("P1Y6M", 18, 18), "18 mois", "après 18 prélèvements mensuels."),
    ],
)
def test_terms_in_hubspots_iso_8601_forms(frequency, iso, term, label, sentence_end):
    snapshot = sample_snapshot(
        sample_deal(line_items=(line("Bureau", "1", "900", recurring_billing_frequency=frequency, term=iso),))
    )
    assert snapshot.term == term and term.label == label
    assert snapshot.commitment.endswith(sentence_end)


def test_a_term_ends_on_the_same_day_or_the_months_last_in_the_same_zone():
    paris = datetime(2026, 1, 31, 10, 0, tzinfo=TIMEZONE)
    assert Term("P1M", 1, 1).end(paris) == datetime(2026, 2, 28, 10, 0, tzinfo=TIMEZONE)
    assert Term("P13M", 13, 13).end(paris) == datetime(2027, 2, 28, 10, 0, tzinfo=TIMEZONE)
    assert Term("P1M", 1, 1).end(datetime(2028, 1, 31, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert Term("P12M", 12, 12).end(ISSUED_AT) == datetime(2027, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"term": "P12M"},
            "La ligne « Bureau » est ponctuelle mais a une durée d’engagement (« P12M ») : retirez la durée, ou "
            "donnez à la ligne une fréquence de facturation.",
        ),
        (
            {"term": "P1M", "recurring_billing_frequency": "annually"},
            "La durée d’engagement de la ligne « Bureau » (1 mois) ne compte pas un nombre entier de périodes de "
            "facturation (la ligne est facturée chaque année) : choisissez une durée multiple de la période, ou une "
            "autre fréquence.",
        ),
        (
            {"term": "P12M", "recurring_billing_frequency": "weekly"},
            "La durée d’engagement de la ligne « Bureau » (12 mois) ne compte pas un nombre entier de périodes de "
            "facturation (la ligne est facturée chaque semaine) : choisissez une durée multiple de la période, ou "
            "une autre fréquence.",
        ),
        (
            {"term": "12 mois", "recurring_billing_frequency": "monthly"},
            "La durée d’engagement « 12 mois » de la ligne « Bureau » n’est pas lisible : écrivez-la au format ISO "
            "8601, en mois ou en années, par exemple P12M pour 12 mois ou P2Y pour 2 ans.",
        ),
        (
            {"term": "P8W", "recurring_billing_frequency": "weekly"},
            "La durée d’engagement « P8W » de la ligne « Bureau » compte des semaines ou des jours : un abonnement "
            "s’engage sur des mois entiers, exprimez-la en mois ou en années (par exemple P12M).",
        ),
        (
            {"term": "P0M", "recurring_billing_frequency": "monthly"},
            "La durée d’engagement « P0M » de la ligne « Bureau » est nulle : indiquez la durée de l’engagement "
            "(par exemple P12M), ou laissez-la vide pour un abonnement sans fin.",
        ),
    ],
)
def test_terms_that_cannot_end_a_subscription_are_refused(fields, problem):
    assert validate(sample_deal(line_items=(line("Bureau", "1", "900", **fields),))) == [problem]


def test_recurring_lines_with_different_terms_are_refused():
    items = (
        line("Bureau", "1", "900", recurring_billing_frequency="monthly", term="P12M"),
        line("Casier", "1", "20", recurring_billing_frequency="monthly", term="P1Y"),
        line("Parking", "1", "80", recurring_billing_frequency="monthly"),
    )
    assert validate(sample_deal(line_items=items)) == [
        "Les lignes récurrentes n’ont pas toutes la même durée d’engagement (« Bureau » : 12 mois ; « Casier » : 1 an ; "
        "« Parking » : sans engagement). Un abonnement Stripe prend fin à une seule date : alignez-les, ou "
        "proposez-les dans des transactions séparées."
    ]
    assert validate(sample_deal(line_items=items[:2])) == [], "P12M and P1Y are the same term"


def test_a_fixed_discount_comes_off_each_unit():
    items = (line("Frais de mise en service", "2", "150", discount="50"), OFFICE)
    snapshot = sample_snapshot(sample_deal(line_items=items))
    setup = snapshot.lines[0]
    assert (setup.unit_price, setup.discount_amount, setup.net_unit_price, setup.net_total) == (
        15000,
        5000,
        10000,
        20000,
    )
    assert (setup.vat, setup.gross) == (4000, 24000)
    assert ProposalSnapshot.from_dict(json.loads(json.dumps(snapshot.to_dict()))) == snapshot


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"discount": "10", "discount_percentage": "5"},
            f"La ligne « Poste fixe » a à la fois une remise en pourcentage (5\xa0%) et une remise en montant ({eur(1000)} "
            "par unité) : gardez-en une seule.",
        ),
        (
            {"discount": "2500"},
            f"La remise de la ligne « Poste fixe » ({eur(250000)} par unité) dépasse son prix unitaire ({eur(200000)}) : "
            "corrigez la remise, elle ne peut pas rendre le prix négatif.",
        ),
        (
            {"discount": "2000"},
            f"La remise de {eur(200000)} par unité rend la ligne « Poste fixe » gratuite : retirez la ligne, ou mettez "
            "son prix à 0 si elle doit figurer comme offerte.",
        ),
        (
            {"discount": "-10"},
            "La remise en montant de la ligne « Poste fixe » est négative (« -10 ») : une remise se déduit du prix, "
            "indiquez un montant positif.",
        ),
        (
            {"discount": "dix"},
            "La remise en montant de la ligne « Poste fixe » (« dix ») n’est pas un montant lisible.",
        ),
    ],
)
def test_fixed_discounts_that_cannot_apply_are_refused(fields, problem):
    assert validate(sample_deal(line_items=(line("Poste fixe", **fields),))) == [problem]


def test_a_tax_rate_group_is_used_through_its_rate_or_refused_without_it():
    with_rate = line("Poste fixe", tax_rate_group_id="2148420997", tax_rate="10")
    assert sample_snapshot(sample_deal(line_items=(with_rate,))).lines[0].vat_rate == Decimal(10)
    without_rate = line("Poste fixe", tax_rate_group_id="2148420997")
    assert validate(sample_deal(line_items=(without_rate,))) == [
        "La ligne « Poste fixe » a un taux de taxe de la bibliothèque de taxes HubSpot dont Propale ne peut pas lire "
        "le pourcentage : renseignez le taux de TVA de la ligne (propriété « Tax rate », hs_tax_rate), ou retirez la "
        "taxe de la ligne pour appliquer la TVA de 20 %."
    ]


def test_a_zero_vat_line_needs_the_sellers_exemption_mention():
    deal = sample_deal(line_items=(OFFICE, line("Domiciliation", "1", "50", tax_rate="0")))
    problem = (
        "La ligne « Domiciliation » est à 0 % de TVA : la proposition doit alors indiquer le motif légal de "
        "l’exonération, que Propale ne connaît pas encore. Un administrateur de Propale doit renseigner "
        "« vat_exemption_mention » dans la variable propale_seller (par exemple « Autoliquidation » ou « TVA non "
        "applicable, art. 293 B du CGI »)."
    )
    assert validate(deal, sample_settings()) == [problem]
    with pytest.raises(InvalidDeal) as refused:
        sample_snapshot(deal)
    assert refused.value.problems == [problem]
    mention = "TVA non applicable, art. 293 B du CGI"
    snapshot = sample_snapshot(deal, propale_seller=seller_json(vat_exemption_mention=mention))
    assert snapshot.seller.vat_exemption_mention == mention


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("France", "FR"),
        ("Allemagne", "DE"),
        ("Germany", "DE"),
        ("de", "DE"),
        ("cote d'ivoire", "CI"),
        ("Atlantide", None),
    ],
)
def test_the_customer_address_is_structured_for_stripe(country, code):
    company = CompanyInput("601", "Acme SARL", ("3 rue des Lilas", "Bâtiment B"), "69003", "Lyon", country)
    customer = sample_snapshot(sample_deal(company=company)).customer
    assert customer.postal_address == PostalAddress("3 rue des Lilas", "Bâtiment B", "69003", "Lyon", country, code)
    assert customer.address_lines == ("3 rue des Lilas", "Bâtiment B", "69003 Lyon", country)


def test_a_customer_without_company_has_no_postal_address():
    assert sample_snapshot(sample_deal(company=None)).customer.postal_address is None


def test_snapshots_stored_before_these_fields_still_load():
    stored = sample_snapshot().to_dict()
    for name in ("term", "unavailable_methods"):
        del stored[name]
    del stored["customer"]["postal_address"]
    for item in stored["lines"]:
        del item["discount_amount"]
    restored = ProposalSnapshot.from_dict(json.loads(json.dumps(stored)))
    assert (restored.term, restored.unavailable_methods, restored.customer.postal_address) == (None, (), None)
    assert [item.discount_amount for item in restored.lines] == [0, 0]

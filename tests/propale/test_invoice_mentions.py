"""The mentions French law requires on an invoice between businesses, as Propale gives them to Stripe."""

from __future__ import annotations

import json

from propale.invoice_mentions import (
    CUSTOM_FIELD_NAME_MAX,
    CUSTOM_FIELD_VALUE_MAX,
    FOOTER_MAX,
    MAX_CUSTOM_FIELDS,
    invoice_mentions,
)
from support.factories import OFFICE, ROOM, SELLER, line, sample_deal, sample_snapshot

EXEMPT = line("Domiciliation (client hors de France)", "1", "80", tax_rate="0")


def seller_with(**fields: str) -> str:
    return json.dumps({**SELLER, **fields})


def test_the_seller_ids_penalties_and_recovery_indemnity_are_on_every_invoice():
    mentions = invoice_mentions(sample_snapshot())
    assert mentions.custom_fields == (("SIREN", "812345678"), ("N° TVA", "FR45812345678"))
    footer = mentions.footer.splitlines()
    assert footer[0] == (
        "Pénalités de retard : taux directeur de la BCE majoré de 10 points (art. L441-10 du Code de commerce)."
    ), "the legal default when the seller agreed no other rate"
    assert footer[1] == (
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 € "
        "(art. D441-5 du Code de commerce)."
    )
    assert footer[-1] == SELLER["legal_mentions"]


def test_the_sellers_rate_replaces_the_legal_default():
    snapshot = sample_snapshot(propale_seller=seller_with(late_payment_penalties="trois fois le taux d’intérêt légal."))
    assert invoice_mentions(snapshot).footer.splitlines()[0] == (
        "Pénalités de retard : trois fois le taux d’intérêt légal."
    )


def test_a_zero_rate_line_prints_the_legal_ground_of_the_exemption():
    seller = seller_with(vat_exemption_mention="Autoliquidation")
    exempt = invoice_mentions(sample_snapshot(sample_deal(line_items=(OFFICE, EXEMPT)), propale_seller=seller))
    assert "Autoliquidation" in exempt.footer.splitlines()
    taxed = invoice_mentions(sample_snapshot(sample_deal(line_items=(OFFICE, ROOM)), propale_seller=seller))
    assert "Autoliquidation" not in taxed.footer, "only invoices with a 0 % line say why"


def test_mentions_stay_within_stripes_limits():
    long_mentions = "SAS au capital de 20 000 € – RCS Paris 812 345 678. " * 200
    mentions = invoice_mentions(sample_snapshot(propale_seller=seller_with(legal_mentions=long_mentions)))
    assert len(mentions.custom_fields) <= MAX_CUSTOM_FIELDS
    assert all(len(n) <= CUSTOM_FIELD_NAME_MAX and len(v) <= CUSTOM_FIELD_VALUE_MAX for n, v in mentions.custom_fields)
    assert len(mentions.footer) <= FOOTER_MAX and mentions.footer.endswith("…")
    assert "40 €" in mentions.footer, "the mandatory mentions come first and survive the cut"

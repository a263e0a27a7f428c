"""Sample deals, settings and snapshots shared by the unit tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime

from propale.money import format_amount
from propale.proposals import (
    CompanyInput,
    DealInput,
    LineItemInput,
    PersonInput,
    ProposalSnapshot,
    build_snapshot,
    validity_period,
)
from propale.settings import Settings

ISSUED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SELLER = {
    "name": "Les Bureaux du Canal",
    "address": "12 quai de Jemmapes\n75010 Paris",
    "siren": "812345678",
    "vat_number": "FR45812345678",
    "email": "contact@bureauxducanal.fr",
    "phone": "01 84 80 00 00",
    "legal_mentions": "SAS au capital de 20 000 € – RCS Paris 812 345 678",
}


def seller_json(**fields: str) -> str:
    """`propale_seller` for the sample seller, with `fields` added or changed."""
    return json.dumps({**SELLER, **fields})


def sample_settings(**variables: str) -> Settings:
    values = {
        "propale_public_url": "https://propale.bureauxducanal.fr",
        "propale_secret_key": "s" * 40,
        "propale_seller": seller_json(),
        **variables,
    }
    return Settings.load(values.get, environ={"AIRFLOW_HOME": "/tmp/airflow"})


def line(name: str = "Bureau privé 4 postes", quantity: str = "1", price: str = "2000", **fields) -> LineItemInput:
    return LineItemInput(id=fields.pop("id", f"li-{name}"), name=name, quantity=quantity, price=price, **fields)


DESK = line("Poste fixe", "2", "450", sku="DESK-FIX", product_id="p-desk", recurring_billing_frequency="monthly")
OFFICE = line(
    "Bureau privé 4 postes", "1", "2000", sku="OFF-4", product_id="p-office", recurring_billing_frequency="monthly"
)
SETUP = line("Frais de mise en service", "1", "150", sku="SETUP", product_id="p-setup")
ROOM = line("Salle de réunion (demi-journée)", "3", "120", sku="ROOM-HD", tax_rate="20")


def sample_deal(**fields) -> DealInput:
    values = {
        "id": "9001",
        "name": "Acme – bureau privé",
        "currency": "EUR",
        "owner": PersonInput("77", "paul.durand@bureauxducanal.fr", "Paul", "Durand"),
        "contact": PersonInput("501", "jeanne.martin@acme.fr", "Jeanne", "Martin"),
        "company": CompanyInput(
            "601",
            "Acme SARL",
            ("3 rue des Lilas", "Bâtiment B"),
            "69003",
            "Lyon",
            "France",
            "FR36345678908",
            "345678908",
        ),
        "line_items": (OFFICE, SETUP),
    }
    values.update(fields)
    return DealInput(**values)


def sample_snapshot(
    deal: DealInput | None = None, *, number: str = "DEV-2026-00042", version: int = 1, **settings
) -> ProposalSnapshot:
    valid_until, _ = validity_period(ISSUED_AT, 30)
    return build_snapshot(deal or sample_deal(), sample_settings(**settings), number, version, ISSUED_AT, valid_until)


def eur(cents: int) -> str:
    return format_amount(cents, "eur")


# Valid but unusual names, as HubSpot takes them: longer than any limit a layout or an API might
# assume, with emoji, CJK, right-to-left text, combining accents and unbreakable words.
LONG_DEAL_NAME = (
    "Coopérative « Ünïcödé » 🚀🏢 — 東京オフィス拡張 — مكتب الرياض الجديد — Cafe\u0301 Ŀ’Œuvre "
    + "— agrandissement des bureaux partagés de l’équipe produit et de l’équipe design " * 4
).strip()
LONG_COMPANY_NAME = ("Société Coopérative d’Intérêt Collectif 共同組合 « Les Ateliers Réunis » 🌍 " * 5).strip()
LONG_LINE_NAME = (
    "Poste nomade 🪑 (accès 24 h/24, casier, café à volonté, 会議室 2 h/mois, قاعة اجتماعات) " * 4
).strip()
UNBREAKABLE_LINE_NAME = "Réf. " + "supercalifragilisticexpialidocious" * 6


def fonts_missing_for_long_names() -> str | None:
    """Why this machine's PDFs cannot show every script of the long names (a font is not installed,
    as the Dockerfile installs them), or None when they can."""
    if shutil.which("fc-list") is None:
        return "fontconfig's fc-list is not installed: cannot tell which fonts WeasyPrint has"
    for pattern, what in ((":lang=ja", "Japanese/Chinese"), (":charset=1f680", "emoji")):
        if not subprocess.run(["fc-list", pattern], capture_output=True, text=True).stdout.strip():
            return (
                f"no {what} font installed (`make test-deps` installs fonts-droid-fallback and fonts-noto-color-emoji)"
            )
    return None


# Markup in every name HubSpot may hand us: each template must escape it.
HOSTILE = "<script>alert('x')</script>"


def hostile_deal():
    return sample_deal(
        name=f"Acme {HOSTILE}",
        company=CompanyInput("601", "Acme & Fils <b>SARL</b>", ("3 rue des Lilas",), "69003", "Lyon", "France"),
        contact=PersonInput("501", "jeanne.martin@acme.fr", "Jeanne<img src=x onerror=alert(1)>", "Martin"),
        line_items=(line(f"Bureau {HOSTILE}", "1", "2000", recurring_billing_frequency="monthly"),),
    )

"""The proposal as HTML and PDF, and the proposal email: content, French formatting, escaping."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import struct
import zlib
from datetime import date

import pypdf
import pytest
from jinja2 import UndefinedError
from weasyprint.formatting_structure.boxes import TextBox

from propale.rendering import (
    environment,
    format_long_date,
    layout_proposal,
    one_line,
    render_proposal_email,
    render_proposal_html,
    render_proposal_pdf,
    shorten,
)
from support.factories import (
    HOSTILE,
    LONG_COMPANY_NAME,
    LONG_DEAL_NAME,
    LONG_LINE_NAME,
    OFFICE,
    ROOM,
    SETUP,
    UNBREAKABLE_LINE_NAME,
    CompanyInput,
    PersonInput,
    eur,
    fonts_missing_for_long_names,
    hostile_deal,
    line,
    sample_deal,
    sample_snapshot,
    seller_json,
)

URL = "https://propale.bureauxducanal.fr/p/tok_123"


def _png_pixel() -> bytes:
    """A 1×1 opaque PNG, so the logo tests need no network."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x1d\x4e\xd8"))
        + chunk(b"IEND", b"")
    )


PIXEL = base64.b64encode(_png_pixel()).decode()


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def plain(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return render_proposal_pdf(
        sample_snapshot(sample_deal(line_items=(OFFICE, SETUP, line("Badge", "4", "10", tax_rate="5.5"))))
    )


def test_dates_in_french():
    assert format_long_date(date(2026, 11, 27)) == "27 novembre 2026"
    assert format_long_date(date(2026, 12, 1)) == "1er décembre 2026"


def test_one_line_removes_header_injection():
    assert one_line("Acme\r\nBcc: evil@example.com\x00  \u2028 x") == "Acme Bcc: evil@example.com x"


# --- HTML ---------------------------------------------------------------------------------------


def test_html_document_is_french_accessible_and_complete():
    html = render_proposal_html(sample_snapshot())
    text = plain(re.sub(r"<[^>]+>", " ", html))
    assert '<html lang="fr">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<main" in html and "<article" in html and "<footer" in html
    assert '<th scope="col" class="text">Désignation</th>' in html
    assert '<th scope="row" class="text">Bureau privé 4 postes' in html
    assert "@page" in html and "size: A4" in html
    for expected in (
        "Proposition commerciale DEV-2026-00042",
        "Date 2 mars 2026",
        "Valable jusqu’au 1er avril 2026",
        "Acme SARL",
        "À l’attention de Jeanne Martin",
        "69003 Lyon",
        "TVA intracommunautaire FR36345678908",
        "Abonnement, facturé chaque mois",
        "Total HT / mois 2 000,00 €",
        "Total TTC / mois 2 400,00 €",
        "Prestations ponctuelles",
        "Total TTC 180,00 €",
        "À régler à l’acceptation 2 580,00 € TTC puis 2 400,00 € TTC chaque mois",
        "Moyens de paiement acceptés : carte bancaire, prélèvement SEPA.",
        "SIREN 812345678",
        "TVA intracommunautaire FR45812345678",
        "SAS au capital de 20 000 € – RCS Paris 812 345 678",
        "Votre contact Paul Durand, paul.durand@bureauxducanal.fr",
    ):
        assert expected in text, expected


def test_discount_columns_only_when_a_line_has_a_discount():
    plain_html = render_proposal_html(sample_snapshot(sample_deal(line_items=(ROOM,))))
    assert "Remise" not in plain_html
    discounted = sample_snapshot(
        sample_deal(line_items=(line("Poste nomade", "3", "33.33", discount_percentage="12.5"),))
    )
    text = plain(re.sub(r"<[^>]+>", " ", render_proposal_html(discounted)))
    assert "Remise" in text and "12,5 %" in text and "29,16 €" in text and "87,48 €" in text


def test_version_two_says_it_replaces_the_previous_one():
    assert "remplace la proposition précédente" in render_proposal_html(sample_snapshot(version=2))
    assert "remplace la proposition précédente" not in render_proposal_html(sample_snapshot(version=1))


def test_names_from_hubspot_are_escaped_in_html():
    html = render_proposal_html(sample_snapshot(hostile_deal()))
    assert "<script>" not in html and "<b>SARL" not in html and "<img src=x" not in html
    assert "Acme &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Bureau &lt;script&gt;" in html
    assert "Acme &amp; Fils &lt;b&gt;SARL&lt;/b&gt;" in html


def test_customer_page_can_embed_the_document_with_its_own_blocks():
    # What the customer page (issue 5) does: its own page around the same partial, buttons outside it.
    page = environment().from_string(
        '{% extends "base.html" %}{% block main %}{% include "proposal_document.html" %}'
        '<form method="post"><button data-method="card">Payer par carte</button></form>{% endblock %}'
    )
    html = page.render(proposal=sample_snapshot())
    assert (
        html.index("<main")
        < html.index("<article")
        < html.index("</article>")
        < html.index("<form")
        < html.index("</main>")
    )
    assert "DEV-2026-00042" in html


def test_undefined_template_variables_fail_loudly():
    with pytest.raises(UndefinedError):
        environment().get_template("proposal_document.html").render()


def test_seller_logo_is_shown_with_its_name_as_alternative_text():
    snapshot = sample_snapshot()
    with_logo = dataclasses.replace(
        snapshot, seller=dataclasses.replace(snapshot.seller, logo_url=f"data:image/png;base64,{PIXEL}")
    )
    html = render_proposal_html(with_logo)
    assert f'<img class="logo" src="data:image/png;base64,{PIXEL}" alt="Les Bureaux du Canal">' in html
    assert '<img class="logo"' not in render_proposal_html(snapshot)


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_is_a_real_pdf_with_the_number_customer_and_totals(sample_pdf):
    assert sample_pdf.startswith(b"%PDF-")
    text = pdf_text(sample_pdf)
    for expected in (
        "Proposition commerciale DEV-2026-00042",
        "Acme SARL",
        "Jeanne Martin",
        "Total HT / mois 2 000,00 €",
        "Total TTC / mois 2 400,00 €",
        "TVA 5,5 % sur 40,00 € 2,20 €",
        "Total TTC 222,20 €",
        "2 622,20 € TTC",
        "Les Bureaux du Canal",
        "SIREN 812345678",
    ):
        assert expected in text, expected


def test_pdf_prints_hostile_names_as_text():
    text = pdf_text(render_proposal_pdf(sample_snapshot(hostile_deal())))
    # Escaped markup is printed literally; had it been interpreted, these would not appear as text.
    assert "Acme <script>alert('x')</script>" in text
    assert "Acme & Fils <b>SARL</b>" in text
    assert "Bureau <script>" in text


def test_pdf_embeds_a_data_logo_but_never_a_local_file():
    snapshot = sample_snapshot(sample_deal(line_items=(ROOM,)))

    def images(logo_url: str) -> int:
        seller = dataclasses.replace(snapshot.seller, logo_url=logo_url)
        reader = pypdf.PdfReader(io.BytesIO(render_proposal_pdf(dataclasses.replace(snapshot, seller=seller))))
        return sum(len(page.images) for page in reader.pages)

    assert images(f"data:image/png;base64,{PIXEL}") == 1
    assert images("file:///usr/share/pixmaps/debian-logo.png") == 0


# --- email --------------------------------------------------------------------------------------


def test_email_subject_and_bodies():
    subject, html, text = render_proposal_email(sample_snapshot(), URL)
    assert subject == "Votre proposition commerciale DEV-2026-00042 : Acme – bureau privé"
    assert text.startswith(
        "Bonjour Jeanne,\n\nJ’ai le plaisir de vous adresser notre proposition commerciale DEV-2026-00042 pour "
        "« Acme – bureau privé » :\n"
    )
    assert f"  {eur(200000)} HT / mois et {eur(15000)} HT de frais ponctuels\n" in text
    assert f"  Premier paiement de {eur(258000)} TTC à l’acceptation, puis {eur(240000)} TTC chaque mois.\n" in text
    assert f"Voir ma proposition :\n{URL}\n" in text
    assert "valable jusqu’au 1er avril 2026 inclus" in text
    assert "en pièce jointe, au format PDF" in text
    assert "Bien cordialement,\nPaul Durand\nLes Bureaux du Canal\npaul.durand@bureauxducanal.fr\n" in text
    assert f'<a href="{URL}" style="display:inline-block;' in html and ">Voir ma proposition</a>" in html
    assert '<html lang="fr">' in html
    assert f"<strong>{eur(200000)} HT / mois et {eur(15000)} HT de frais ponctuels</strong>" in html


def test_email_without_rep_or_first_name_is_signed_by_the_seller():
    deal = sample_deal(owner=None, contact=PersonInput("501", "compta@acme.fr"))
    _, html, text = render_proposal_email(sample_snapshot(deal), URL)
    assert text.startswith("Bonjour,\n\nNous avons le plaisir de vous adresser notre proposition commerciale")
    assert "Bien cordialement,\nL’équipe Les Bureaux du Canal\n" in text
    assert "L’équipe Les Bureaux du Canal" in html


def test_new_version_email_says_the_old_link_is_retired():
    subject, html, text = render_proposal_email(sample_snapshot(version=2), URL)
    assert subject.endswith("(nouvelle version)")
    assert "Cette proposition remplace la précédente, dont le lien n’est plus valable." in text
    assert "Cette proposition remplace la précédente" in html


def test_email_escapes_names_in_html_and_keeps_them_readable_in_text():
    subject, html, text = render_proposal_email(sample_snapshot(hostile_deal()), URL + '"><script>')
    assert "<script>" not in html and "<img src=x" not in html
    assert "Acme &lt;script&gt;" in html
    assert 'href="https://propale.bureauxducanal.fr/p/tok_123&#34;&gt;&lt;script&gt;"' in html
    assert f"pour « Acme {HOSTILE} »" in text
    assert subject == f"Votre proposition commerciale DEV-2026-00042 : Acme {HOSTILE}"


def test_subject_never_contains_line_breaks():
    deal = sample_deal(name="Acme\r\nBcc: everyone@example.com\nX-Spam: yes")
    subject, _, _ = render_proposal_email(sample_snapshot(deal), URL)
    assert "\r" not in subject and "\n" not in subject
    assert subject == "Votre proposition commerciale DEV-2026-00042 : Acme Bcc: everyone@example.com X-Spam: yes"


# --- unusual names ------------------------------------------------------------------------------


def long_names_deal():
    company = CompanyInput("601", LONG_COMPANY_NAME, ("5 rue Mercière",), "69002", "Lyon", "France", None, None)
    lines = (
        line(LONG_LINE_NAME, "2", "190", recurring_billing_frequency="monthly"),
        line(UNBREAKABLE_LINE_NAME, "1", "150"),
    )
    contact = PersonInput("501", "zoe.nguyen@ateliers-reunis.example", "Zoë-Åsa", "Nguye\u0302\u0303n 李")
    return sample_deal(name=LONG_DEAL_NAME, company=company, contact=contact, line_items=lines)


def test_long_names_wrap_inside_the_page_and_keep_the_amounts_readable():
    document = layout_proposal(sample_snapshot(long_names_deal()))
    right_margin = 14 * 96 / 25.4  # 14 mm, the @page margin in CSS pixels
    # WeasyPrint's laid-out boxes (internal API): every piece of text ends before the right margin.
    overflowing = [
        box.text
        for page in document.pages
        for box in page._page_box.descendants()
        if isinstance(box, TextBox) and box.position_x + box.width > page.width - right_margin + 0.5
    ]
    assert overflowing == []
    text = {box.text for page in document.pages for box in page._page_box.descendants() if isinstance(box, TextBox)}
    assert {"Qté", eur(15000), eur(38000)} <= text, "headers and amounts are not broken apart"


def test_long_names_survive_whole_in_the_pdf():
    if missing := fonts_missing_for_long_names():
        pytest.skip(missing)
    reader = pypdf.PdfReader(io.BytesIO(render_proposal_pdf(sample_snapshot(long_names_deal()))))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    for name in (LONG_COMPANY_NAME, "東京オフィス拡張", "مكتب", "共同組合", "会議室"):
        assert re.sub(r"\s+", "", name)[:60] in text


def test_a_long_deal_name_is_shortened_in_the_subject_on_one_line():
    subject, _html, text = render_proposal_email(sample_snapshot(long_names_deal()), URL)
    assert subject.startswith(
        "Votre proposition commerciale DEV-2026-00042 : Coopérative « Ünïcödé » 🚀🏢 — 東京オフィス拡張"
    )
    assert subject.endswith("…") and len(subject) <= 150 and "\n" not in subject
    assert LONG_DEAL_NAME in text, "the body keeps the whole name"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Atelier Lumen", 40, "Atelier Lumen"),
        ("Atelier Lumen — bureaux", 16, "Atelier Lumen…"),
        ("Cafe\u0301s", 5, "Caf…"),  # never an accent without its letter
        ("ab👩\u200d💻cd", 4, "ab…"),  # nor half an emoji sequence
        ("a🇫🇷🇩🇪", 4, "a🇫🇷…"),  # nor half a flag
    ],
)
def test_shorten_cuts_between_visible_characters(text, limit, expected):
    assert shorten(text, limit) == expected


# --- HubSpot's line item fields on the documents ------------------------------------------------

TERMED_OFFICE = dataclasses.replace(OFFICE, term="P12M")
COMMITMENT = "Engagement de 12 mois : l’abonnement prend fin automatiquement après 12 prélèvements mensuels."


def test_a_fixed_discount_shows_in_the_discount_columns():
    snapshot = sample_snapshot(
        sample_deal(line_items=(OFFICE, line("Frais de mise en service", "2", "150", discount="50")))
    )
    text = plain(re.sub(r"<[^>]+>", " ", render_proposal_html(snapshot)))
    assert "Remise" in text and "Prix unitaire net HT" in text
    assert f"Frais de mise en service 2 {plain(eur(15000))} {plain(eur(5000))} {plain(eur(10000))}" in text


def test_the_commitment_is_stated_on_the_pdf_the_page_and_in_the_email(sample_pdf):
    snapshot = sample_snapshot(sample_deal(line_items=(TERMED_OFFICE, SETUP)))
    pdf = pdf_text(render_proposal_pdf(snapshot))
    assert COMMITMENT in pdf
    assert plain(snapshot.payment_terms) in pdf and plain(snapshot.payment_terms).endswith(COMMITMENT)
    assert "Engagement" not in pdf_text(sample_pdf), "no term, no commitment"
    page = (
        environment()
        .get_template("customer_proposal.html")
        .render(
            proposal=snapshot,
            links={"accept": "/p/tok/accept", "pdf": "/p/tok.pdf"},
            csrf_token="csrf",
            methods=list(snapshot.payment_methods),
            accepted_at=None,
            message=None,
            seller=snapshot.seller,
            csp_nonce="nonce",
        )
    )
    accept_section = page[page.index('<section class="accept"') :]
    assert COMMITMENT in accept_section
    _, html, text = render_proposal_email(snapshot, URL)
    assert COMMITMENT in text and COMMITMENT in html


def test_the_document_says_why_sepa_debit_is_not_offered_outside_euros():
    dollars = pdf_text(render_proposal_pdf(sample_snapshot(sample_deal(currency="USD"))))
    assert "Moyens de paiement acceptés : carte bancaire." in dollars
    assert "Le prélèvement SEPA n’est proposé que pour les paiements en euros." in dollars
    assert "n’est proposé que pour les paiements en euros" not in render_proposal_html(sample_snapshot())


def test_the_vat_exemption_mention_is_printed_under_a_zero_rate():
    mention = "TVA non applicable, art. 293 B du CGI"
    deal = sample_deal(line_items=(OFFICE, line("Domiciliation", "1", "50", tax_rate="0")))
    pdf = pdf_text(
        render_proposal_pdf(sample_snapshot(deal, propale_seller=seller_json(vat_exemption_mention=mention)))
    )
    assert f"TVA 0 % sur {plain(eur(5000))} {plain(eur(0))} {mention} Total TTC" in pdf
    without_zero_rate = sample_snapshot(propale_seller=seller_json(vat_exemption_mention=mention))
    assert mention not in render_proposal_html(without_zero_rate)

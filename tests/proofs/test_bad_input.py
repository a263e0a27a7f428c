"""Bad input end to end: `airflow dags test propale_send_proposals` over batches that mix good deals
with every kind of mistake a rep, or an admin, can make in HubSpot or in Propale's settings.

Deals are entered through HubSpot's official client in batch calls, in a sandbox seeded with the
demo company (its products and owners exist) and set up by `propale setup`. A defective deal must
end in « Erreur » with a plain-French reason naming what to fix, be listed with that reason in the
run's Slack summary and in the task log, while the good deals of the same run are sent. Unusual
but valid input (very long names, emoji, CJK, right-to-left text, combining accents) goes through.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, replace

import pytest
from pypdf import PdfReader

from propale_dev.sandbox.airflow_env import DEMO_SELLER
from propale_dev.sandbox.slack import blocks_within_limits
from support.demo_world import DemoWorld, NewDeal, running_demo
from support.factories import LONG_COMPANY_NAME, LONG_DEAL_NAME, LONG_LINE_NAME, fonts_missing_for_long_names

# A proof run end to end through Airflow (defective deals among good ones): `make test-all` runs it;
# the checks of each defect in-process are in tests/propale (proposals, rendering, emails).
pytestmark = [pytest.mark.long, pytest.mark.timeout(900)]

LUMEN = "Atelier Lumen — 3 postes nomades"
KAIROS = "Studio Kairos — 4 demi-journées de salle"
LUMEN_EMAIL = "lea.garnier@atelier-lumen.example"


@dataclass(frozen=True)
class Case:
    id: str
    deal: NewDeal
    reason: tuple[str, ...]  # words the rep must read in the reason, the first one in Slack too


def _company(key: str) -> dict[str, str]:
    return {
        "name": f"Client {key} SAS",
        "address": "5 rue Mercière",
        "zip": "69002",
        "city": "Lyon",
        "country": "France",
    }


def _contact(key: str, **properties: str) -> dict[str, str]:
    return {"firstname": "Camille", "lastname": f"Essai {key}", "email": f"{key}@clients.example", **properties}


def _line(name: str, quantity: str = "1", price: str = "100", **properties: str) -> dict[str, str]:
    return {
        "name": name,
        "quantity": quantity,
        "price": price,
        "hs_tax_rate": "20",
        "hs_line_item_currency_code": "EUR",
        **properties,
    }


def _deal(
    key: str,
    *,
    contact: dict[str, str] | bool | None = True,
    lines: list[dict[str, str]] | None = None,
    currency: str = "EUR",
    company: dict[str, str] | None = None,
) -> NewDeal:
    return NewDeal(
        name=f"Cas {key} — bureau fixe",
        contact=_contact(key) if contact is True else (contact or None),
        company={**_company(key), **(company or {})},
        line_items=[_line(f"Bureau fixe ({key})")] if lines is None else lines,
        properties={"deal_currency_code": currency},
    )


def _untaxed(line: dict[str, str]) -> dict[str, str]:
    """The line without a tax rate of its own (only, say, a group from HubSpot's tax library)."""
    return {name: value for name, value in line.items() if name != "hs_tax_rate"}


def _monthly(name: str, price: str = "100", **properties: str) -> dict[str, str]:
    return _line(name, price=price, recurringbillingfrequency="monthly", **properties)


CASES = [
    Case("no-contact", _deal("sans-contact", contact=False), ("Aucun contact principal", "associez")),
    Case(
        "contact-without-email",
        _deal("sans-email", contact={"firstname": "Camille", "lastname": "Sans Email"}),
        ("n’a pas d’adresse e-mail", "renseignez"),
    ),
    Case(
        "invalid-email",
        _deal("email-invalide", contact=_contact("email-invalide", email="camille.essai@@clients")),
        ("adresse e-mail", "n’est pas valide", "corrigez"),
    ),
    Case("no-line-items", _deal("sans-ligne", lines=[]), ("aucune ligne de produit", "ajoutez")),
    Case(
        "quantity-zero",
        _deal("quantite-nulle", lines=[_line("Poste nomade", quantity="0")]),
        ("quantité", "supérieur à zéro"),
    ),
    Case(
        "quantity-negative",
        _deal("quantite-negative", lines=[_line("Poste nomade", quantity="-2")]),
        ("quantité", "« -2 »", "supérieur à zéro"),
    ),
    Case(
        "negative-price",
        _deal("prix-negatif", lines=[_line("Remise fidélité", price="-50")]),
        ("prix unitaire", "négatif", "remise en pourcentage"),
    ),
    Case(
        "full-discount",
        _deal(
            "remise-totale",
            lines=[_line("Bureau fixe", price="320"), _line("Frais de dossier", hs_discount_percentage="100")],
        ),
        ("remise de 100 %", "Frais de dossier"),
    ),
    # A free line may go with a paid offer; a proposal with nothing to pay is not a sale.
    Case(
        "nothing-to-pay",
        _deal("gratuite", lines=[_line("Visite des locaux", price="0")]),
        ("montant total", "nul", "ligne payante"),
    ),
    Case(
        "mixed-currencies",
        _deal(
            "deux-devises", lines=[_line("Bureau fixe", price="320"), _line("Salle", hs_line_item_currency_code="USD")]
        ),
        ("plusieurs devises", "EUR, USD"),
    ),
    Case(
        "incompatible-intervals",
        _deal(
            "mensuel-annuel",
            lines=[
                _line("Bureau fixe", price="320", recurringbillingfrequency="monthly"),
                _line("Domiciliation", price="600", recurringbillingfrequency="annually"),
            ],
        ),
        ("même fréquence de facturation", "chaque mois", "chaque année"),
    ),
    # The fixture gives this deal to a rep whose HubSpot user is then removed.
    Case("archived-owner", _deal("commercial-parti"), ("propriétaire", "désactivé", "commercial actif")),
    # What Stripe would refuse at the customer's click is refused before the proposal leaves
    # (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts,
    # https://docs.stripe.com/api/checkout/sessions/create for the lines).
    Case(
        "below-stripe-minimum",
        _deal("sous-le-minimum", lines=[_line("Café", price="0.4")]),
        ("inférieur au minimum", "0,48", "0,50"),
    ),
    Case(
        "above-stripe-maximum",
        _deal("au-dela-du-maximum", lines=[_line("Immeuble de bureaux", quantity="2", price="450000")]),
        ("dépasse le maximum", "999\u202f999,99"),
    ),
    Case(
        "too-many-lines-for-checkout",
        _deal("trop-de-lignes", lines=[_monthly(f"Poste nomade n° {seat}") for seat in range(1, 22)]),
        ("21 lignes récurrentes", "20 au plus"),
    ),
    Case(
        "fraction-of-a-yen",
        _deal("yen-decimal", currency="JPY", lines=[_line("Salle", price="1000.5", hs_line_item_currency_code="JPY")]),
        ("n’est pas un montant que Stripe peut facturer en JPY", "pas de décimales"),
    ),
    Case(
        "fraction-of-a-krona",
        _deal(
            "couronne-decimale", currency="ISK", lines=[_line("Salle", price="99.5", hs_line_item_currency_code="ISK")]
        ),
        ("n’est pas un montant que Stripe peut facturer en ISK", "unités entières"),
    ),
    # Every HubSpot line-item field Propale reads is honoured, or refused by name.
    Case(
        "two-discounts",
        _deal("deux-remises", lines=[_line("Bureau fixe", price="320", discount="20", hs_discount_percentage="5")]),
        ("à la fois une remise en pourcentage", "gardez-en une seule"),
    ),
    Case(
        "term-on-a-one-off-line",
        _deal("engagement-ponctuel", lines=[_line("Aménagement", price="900", hs_recurring_billing_period="P12M")]),
        ("ponctuelle mais a une durée d’engagement", "P12M"),
    ),
    Case(
        "term-of-part-of-a-period",
        _deal(
            "engagement-partiel",
            lines=[
                _line(
                    "Domiciliation",
                    price="600",
                    recurringbillingfrequency="annually",
                    hs_recurring_billing_period="P6M",
                )
            ],
        ),
        ("nombre entier de périodes", "chaque année"),
    ),
    Case(
        "tax-rate-group-without-rate",
        _deal("taxe-illisible", lines=[_untaxed(_line("Bureau fixe", price="320", hs_tax_rate_group_id="7001"))]),
        ("bibliothèque de taxes HubSpot", "hs_tax_rate"),
    ),
    Case(
        "invalid-vat-number",
        _deal("tva-erronee", company={"vat_number": "FR00912345675"}),
        ("numéro de TVA intracommunautaire", "n’est pas valide", "corrigez"),
    ),
]
CASE = {case.id: case for case in CASES}

# Valid, with what Stripe and HubSpot make special: sent, and the proposal says what it implies.
IN_DOLLARS = _deal(
    "dollars", currency="USD", lines=[_line("Bureau fixe", price="320", hs_line_item_currency_code="USD")]
)
IN_KRONUR = _deal("couronnes", currency="ISK", lines=[_line("Salle", price="5000", hs_line_item_currency_code="ISK")])
WITH_TERM = _deal("engagement", lines=[_monthly("Bureau fixe", price="320", hs_recurring_billing_period="P12M")])
# The fixture points this line at a product, then deletes the product from HubSpot's library.
OFF_LIBRARY = _deal("produit-supprime", lines=[_line("Casier de rangement", price="25")])
SPECIAL = (IN_DOLLARS, IN_KRONUR, WITH_TERM, OFF_LIBRARY)

# Valid, only unusual: sent as it is, the names whole wherever there is room for them.
UNUSUAL = NewDeal(
    name=LONG_DEAL_NAME,
    contact={
        "firstname": "Zoë-Åsa",
        "lastname": "Nguye\u0302\u0303n 李",
        "email": "zoe.nguyen@ateliers-reunis.example",
    },
    company={**_company("unusual"), "name": LONG_COMPANY_NAME},
    line_items=[_line(LONG_LINE_NAME, quantity="2", price="190", recurringbillingfrequency="monthly")],
    properties={"deal_currency_code": "EUR"},
)


@dataclass
class Run:
    world: DemoWorld
    log: str  # what `airflow dags test` printed: the tasks' logs

    def slack_row(self, deal_name: str) -> str:
        """The line of the run's Slack summary that lists `deal_name` (shortened there if long)."""
        [post] = self.world.slack_posts()
        shown = deal_name[:60]
        rows = [row for text in post["block_texts"] for row in text.split("\n") if shown in row]
        assert len(rows) == 1, f"{deal_name!r} is listed once in Slack"
        return rows[0].replace("&amp;", "&")


def _owner_who_leaves(world: DemoWorld) -> tuple[str, str]:
    """A rep's user added by an admin, to be removed later: HubSpot then keeps their owner, archived."""
    email = "remi.depart@lafabrique-commune.example"
    user = world.hubspot.settings.users.users_api.create({"email": email, "firstName": "Rémi", "lastName": "Départ"})
    [owner] = world.hubspot.crm.owners.owners_api.get_page(email=email).results
    return str(owner.id), user.id


@pytest.fixture(scope="module")
def run(tmp_path_factory, airflow_for):
    """One run over two demo deals, the defective ones and the unusual one, all flagged together."""
    for sandbox, airflow in running_demo(tmp_path_factory, airflow_for, "bad_input"):
        world = DemoWorld(sandbox, airflow)
        hubspot = world.hubspot
        owner_id = str(hubspot.crm.owners.owners_api.get_page(limit=1).results[0].id)
        product = hubspot.crm.products.basic_api.create({"properties": {"name": "Casier de rangement", "price": "25"}})
        leaving_owner_id, leaving_user_id = _owner_who_leaves(world)

        def owned(deal: NewDeal, by: str = owner_id) -> NewDeal:
            return replace(deal, properties={**deal.properties, "hubspot_owner_id": by})

        deals = [owned(case.deal) for case in CASES if case.id != "archived-owner"]
        deals += [
            owned(replace(OFF_LIBRARY, line_items=[{**OFF_LIBRARY.line_items[0], "hs_product_id": product.id}])),
            owned(CASE["archived-owner"].deal, by=leaving_owner_id),
            owned(UNUSUAL),
            *(owned(deal) for deal in (IN_DOLLARS, IN_KRONUR, WITH_TERM)),
        ]
        world.create_deals(deals)
        # Once the deals are entered: an admin deletes the product, and the rep leaves the company.
        hubspot.crm.products.basic_api.archive(product.id)
        hubspot.settings.users.users_api.archive(leaving_user_id)

        world.flag(LUMEN, KAIROS, UNUSUAL.name, *(deal.name for deal in SPECIAL), *(case.deal.name for case in CASES))
        result = airflow.dags_test("propale_send_proposals")
        yield Run(world, result.stdout + result.stderr)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_defective_deal_says_what_to_fix_on_the_deal_in_slack_and_in_the_log(run, case):
    deal = run.world.deal(case.deal.name)
    assert deal["propale_status"] == "error"
    for words in case.reason:
        assert words in deal["propale_error"]
    assert not deal["propale_proposal_number"] and not deal["propale_proposal_url"]

    assert case.reason[0] in run.slack_row(case.deal.name)
    deal_id = run.world.deal_ids[case.deal.name]
    [logged] = [line for line in run.log.splitlines() if f"Deal {deal_id} " in line and "cannot be proposed" in line]
    assert case.deal.name in logged and all(words in logged for words in case.reason)
    if case.deal.contact and case.deal.contact.get("email"):
        assert case.deal.contact["email"] not in logged, "an address is personal data: not in the log"
        assert run.world.emails(case.deal.contact["email"]) == [], "the customer got nothing"


def test_the_good_deals_of_the_same_run_are_sent(run):
    for name in (LUMEN, KAIROS, UNUSUAL.name, *(deal.name for deal in SPECIAL)):
        deal = run.world.deal(name)
        assert deal["propale_status"] == "sent" and deal["propale_proposal_number"].startswith("DEV-")
        assert not deal["propale_error"]
        assert len(run.world.notes_on(name)) == 1
    [email] = run.world.emails(LUMEN_EMAIL)
    assert run.world.deal(LUMEN)["propale_proposal_number"] in email["subject"]
    assert _tries(run.log) == 1, "bad input is not a reason to retry"
    [post] = run.world.slack_posts()
    assert post["text"] == f"Propositions Propale : {3 + len(SPECIAL)} envoyées, {len(CASES)} à corriger"
    assert blocks_within_limits(post["blocks"]), "Slack would refuse the whole summary otherwise"


def _proposal_text(run: Run, deal: NewDeal) -> str:
    assert deal.contact is not None
    [email] = run.world.emails(deal.contact["email"])
    return _squeezed(run.world.pdf_text(email))


def test_a_proposal_in_another_currency_than_euros_says_sepa_is_not_offered(run):
    text = _proposal_text(run, IN_DOLLARS)
    assert _squeezed("Le prélèvement SEPA n’est proposé que pour les paiements en euros.") in text
    assert _squeezed("par carte bancaire") in text and _squeezed("384,00 $US") in text


def test_kronur_are_quoted_whole_as_stripe_charges_them(run):
    # 5 000 ISK + 20 % VAT: Stripe writes it 600000 and charges 6 000 ISK (no fraction of a krona).
    text = _proposal_text(run, IN_KRONUR)
    assert _squeezed("6 000 ISK") in text and "6000,00" not in text


def test_a_line_with_a_term_states_the_commitment(run):
    text = _proposal_text(run, WITH_TERM)
    assert (
        _squeezed("Engagement de 12 mois : l’abonnement prend fin automatiquement après 12 prélèvements mensuels.")
        in text
    )


def test_a_line_off_the_product_library_goes_out_as_written_and_the_rep_is_told(run):
    deal = run.world.deal(OFF_LIBRARY.name)
    assert deal["propale_status"] == "sent" and not deal["propale_error"]
    owner = run.world.hubspot.crm.owners.owners_api.get_by_id(int(deal["hubspot_owner_id"]))
    [told] = [email for email in run.world.emails(owner.email) if deal["propale_proposal_number"] in email["subject"]]
    body = run.world.email_detail(told)["text"]
    assert "Casier de rangement" in body and "supprimé de la bibliothèque de produits HubSpot" in body
    assert "bibliothèque de produits HubSpot" in run.slack_row(OFF_LIBRARY.name)
    assert "supprimé" not in _proposal_text(run, OFF_LIBRARY), "the customer is not told"


def test_unusual_names_arrive_intact_in_the_email_slack_and_hubspot(run):
    deal = run.world.deal(UNUSUAL.name)
    assert deal["propale_status"] == "sent", deal["propale_error"]
    [email] = run.world.emails(UNUSUAL.contact["email"])
    subject = email["subject"]
    assert subject.startswith(
        f"Votre proposition commerciale {deal['propale_proposal_number']} : {LONG_DEAL_NAME[:60]}"
    )
    assert subject.endswith("…") and len(subject) <= 150, "one line, shortened for an inbox"
    body = run.world.email_detail(email)["text"]
    assert body.startswith("Bonjour Zoë-Åsa,") and LONG_DEAL_NAME in body

    assert deal["propale_proposal_number"] in run.slack_row(UNUSUAL.name)
    [note] = run.world.notes_on(UNUSUAL.name)
    assert deal["propale_proposal_number"] in note["hs_note_body"] and note["hs_attachment_ids"]


def test_unusual_names_are_printed_whole_in_the_pdf(run):
    if missing := fonts_missing_for_long_names():
        pytest.skip(missing)
    [email] = run.world.emails(UNUSUAL.contact["email"])
    pdf = PdfReader(io.BytesIO(run.world.attachment(email)))
    text = _squeezed("".join(page.extract_text() for page in pdf.pages))
    assert _squeezed(LONG_COMPANY_NAME) in text and _squeezed(LONG_DEAL_NAME[:40]) in text
    # Text extraction gives right-to-left runs in visual order: the line's name is checked by script.
    for piece in ("Poste nomade 🪑 (accès 24 h/24, casier, café à volonté, 会議室 2 h/mois,", "قاعة اجتماعات"):
        assert text.count(_squeezed(piece)) == LONG_LINE_NAME.count(piece)
    assert len(pdf.pages) <= 2


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _tries(log: str) -> int:
    """How many times the run's busiest task instance was started (1: nothing was retried)."""
    return max(Counter(re.findall(r"\[DAG TEST\] starting task_id=\w+ map_index=-?\d+", log)).values())


# --- Propale's own settings --------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path_factory, airflow_for, request):
    for sandbox, airflow in running_demo(tmp_path_factory, airflow_for, request.node.name[:30]):
        yield DemoWorld(sandbox, airflow)


def test_incomplete_seller_details_put_flagged_deals_in_error_once_and_a_fix_lets_them_go(demo):
    seller = {key: value for key, value in DEMO_SELLER.items() if key not in ("siren", "vat_number")}
    demo.airflow.extra_env["AIRFLOW_VAR_PROPALE_SELLER"] = json.dumps(seller, ensure_ascii=False)
    demo.flag(LUMEN, KAIROS)
    run = demo.airflow.dags_test("propale_send_proposals")
    log = run.stdout + run.stderr

    assert (
        "No proposal can be sent until Propale's settings are fixed: propale_seller is missing required field(s): siren, vat_number."
        in log
    )
    assert _tries(log) == 1, "a setting cannot fix itself: no retry"
    for name in (LUMEN, KAIROS):
        deal = demo.deal(name)
        assert deal["propale_status"] == "error"
        assert "le SIREN et le numéro de TVA intracommunautaire" in deal["propale_error"]
        assert "l’administrateur de Propale doit les compléter" in deal["propale_error"]
    assert demo.emails() == []
    [post] = demo.slack_posts()
    shown = "\n".join(post["block_texts"])
    assert shown.count("le SIREN") == 1, "said once for the whole run"
    assert LUMEN in shown and KAIROS in shown and shown.count("voir ci-dessus") == 2

    del demo.airflow.extra_env["AIRFLOW_VAR_PROPALE_SELLER"]
    demo.flag(LUMEN, KAIROS)
    demo.airflow.dags_test("propale_send_proposals")
    assert [demo.deal(name)["propale_status"] for name in (LUMEN, KAIROS)] == ["sent", "sent"]
    assert not demo.deal(LUMEN)["propale_error"], "the old reason is cleared"
    [email] = demo.emails(LUMEN_EMAIL)
    assert "912345675" in demo.pdf_text(email), "the proposal carries the seller's SIREN"


def test_a_deal_no_configured_method_can_pay_is_refused_and_the_others_go(demo):
    demo.airflow.extra_env["AIRFLOW_VAR_PROPALE_PAYMENT_METHODS"] = '["sepa_debit"]'
    demo.create_deals([IN_DOLLARS])
    demo.flag(LUMEN, IN_DOLLARS.name)
    demo.airflow.dags_test("propale_send_proposals")

    dollars = demo.deal(IN_DOLLARS.name)
    assert dollars["propale_status"] == "error"
    assert "Aucun moyen de paiement configuré n’est disponible pour une proposition en USD" in dollars["propale_error"]
    assert "que pour les paiements en euros" in dollars["propale_error"]
    assert demo.deal(LUMEN)["propale_status"] == "sent", "SEPA Direct Debit takes euros"


# --- HubSpot properties deleted by hand ----------------------------------------------------------


def test_a_propale_property_deleted_in_hubspot_is_reported_and_the_run_goes_on(demo):
    properties = demo.hubspot.crm.properties.core_api
    properties.archive("deals", "propale_proposal_url")  # as an admin deletes it in HubSpot's settings
    setup = subprocess.run(demo.airflow.argv("propale", "setup"), env=demo.airflow.env, capture_output=True, text=True)
    assert setup.returncode == 1 and "propale_proposal_url" in setup.stderr and "restored" in setup.stderr
    demo.flag(LUMEN)
    run = demo.airflow.dags_test("propale_send_proposals")

    lumen = demo.deal(LUMEN)
    assert lumen["propale_status"] == "sent" and lumen["propale_proposal_number"].startswith("DEV-")
    assert len(demo.emails(LUMEN_EMAIL)) == 1, "the customer has the link in the email"
    assert "propale_proposal_url" in run.stdout + run.stderr and "recycle bin" in run.stdout + run.stderr
    [post] = demo.slack_posts()
    shown = "\n".join(post["block_texts"])
    assert "« Lien de la proposition » (propale_proposal_url)" in shown and "restaurer" in shown
    assert LUMEN in shown

    # Without the status property, no deal can be found flagged: said plainly, nothing breaks.
    properties.archive("deals", "propale_status")
    demo.airflow.dags_test("propale_send_proposals")
    newest = demo.slack_posts()[0]
    shown = "\n".join(newest["block_texts"])
    assert "« Statut Propale » (propale_status)" in shown and "aucune proposition ne part" in shown
    assert len(demo.emails()) == 1

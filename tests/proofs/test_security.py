"""Propale attacked, attack by attack, as a security reviewer would try it.

One demo company in a sandbox, with one more deal whose every name is hostile: it is created
through HubSpot's official client (company, contact, line items, deal, v4 associations) and sent
by `airflow dags test propale_send_proposals`; the customer page runs under uvicorn (`Site`, as in
test_web.py) in front of the same ledger and the Stripe stand-in; the customer pays through the
stand-in's Checkout test helper and `propale_sync_stripe` runs. Each test names an attack and
checks what the attacker and the users observe: the mailbox (SMTP envelope included), the PDFs,
the Slack receiver, HubSpot's notes, the customer page, Stripe's objects, and every log written.

The unit-level pieces stay where they are: escaping of each template (test_rendering.py,
test_web_security.py), header building (test_emails.py), Slack escaping (test_slack_messages.py),
CSRF and rate-limit mechanics (test_web_security.py) and the customer journey (test_web.py).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock

import httpx
import pytest
from itsdangerous import TimestampSigner

from propale.ledger import ProposalStatus, hash_token
from propale.proposals import PersonInput, validate
from propale.sending import log_safe_reason, proposal_token
from propale.web.security import CsrfTokens
from propale_dev.sandbox.airflow_env import connections
from support.demo_world import DemoWorld, running_demo
from support.factories import sample_deal
from support.site import Site

# A proof run end to end against the demo world: `make test-all` runs it; the page's protections are
# checked in-process in tests/propale/web/test_web_security.py.
pytestmark = [pytest.mark.long, pytest.mark.timeout(900)]

# --- the payloads ---------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
SLACK = "<!channel> <https://evil.example|click>"
MARKDOWN = "*urgent* [clic](https://evil.example)"
BCC = "\r\nBcc: attacker@evil.example"
ATTACKER = "attacker@evil.example"

HOSTILE = f"Hostile {SCRIPT} {SLACK}{BCC}"  # the deal's name
COMPANY = f"Société {IMG} {MARKDOWN}"
FIRST_NAME = f"Eve{BCC}"
LAST_NAME = f"{SVG} Lamarque"
CUSTOMER_EMAIL = "eve.lamarque@hostile-client.example"
LINE_NAMES = (f"Bureau {SCRIPT}", f"Salle {SLACK} {SVG}")

# Demo deals used as other customers' proposals.
KAIROS = "Studio Kairos — 4 demi-journées de salle"
ONDE = "Onde Verte — 2 bureaux fixes au trimestre"
PAPRIKA = "Collectif Paprika — bureau privé 2 places"
NO_EMAIL = "Cabinet Vasseur — postes nomades stagiaires"  # its error names its contact, Maxime Caron

SMTP_PASSWORD = "smtp-pass-" + "7Qe2" * 6
RATE_LIMIT = 20  # POSTs per minute per client address, for this site


# --- the world ------------------------------------------------------------------------------------


class Attacked:
    """The demo company, its hostile deal, the customer page, and every log the runs wrote."""

    def __init__(self, demo: DemoWorld, site: Site):
        self.demo = demo
        self.site = site
        self.run_outputs: list[str] = []  # stdout and stderr of each `airflow dags test`

    def run(self, dag_id: str) -> None:
        result = self.demo.airflow.dags_test(dag_id)
        self.run_outputs += [result.stdout, result.stderr]

    def hostile_email(self) -> dict:
        [message] = [m for m in self.demo.emails(CUSTOMER_EMAIL) if "proposition commerciale" in m["subject"]]
        return message

    def raw(self, message: dict) -> bytes:
        return httpx.get(f"{self.demo.sandbox.config.mailbox_url}/messages/{message['id']}/raw").content

    def checkout_sessions(self, name: str) -> list:
        number = self.site.proposal(name).number
        listing = self.site.stripe.v1.checkout.sessions.list({"limit": 100})
        return [s for s in listing.auto_paging_iter() if s.client_reference_id == number]

    def logs(self) -> dict[str, str]:
        """Every log: Airflow's task log files, the runs' output, the customer page's server log."""
        files = sorted(p for p in (Path(self.demo.airflow.home) / "logs").rglob("*") if p.is_file())
        texts = {str(p): p.read_text(errors="replace") for p in files}
        texts |= {f"dags test output {i}": text for i, text in enumerate(self.run_outputs)}
        texts["customer page"] = self.site.log_path.read_text(errors="replace")
        return texts


def _create_hostile_deal(hubspot) -> str:
    """What a careless or malicious HubSpot user can type into names, through HubSpot's API."""
    company = hubspot.crm.companies.basic_api.create(
        {
            "properties": {
                "name": COMPANY,
                "address": f"1 rue {IMG}",
                "zip": "69001",
                "city": "Lyon",
                "country": "France",
            }
        }
    )
    contact = hubspot.crm.contacts.basic_api.create(
        {"properties": {"firstname": FIRST_NAME, "lastname": LAST_NAME, "email": CUSTOMER_EMAIL}}
    )
    owner = hubspot.crm.owners.owners_api.get_page(limit=1).results[0]
    deal = hubspot.crm.deals.basic_api.create(
        {"properties": {"dealname": HOSTILE, "deal_currency_code": "EUR", "hubspot_owner_id": str(owner.id)}}
    )
    monthly = {"quantity": "2", "price": "300", "hs_tax_rate": "20", "recurringbillingfrequency": "monthly"}
    once = {"quantity": "1", "price": "150", "hs_tax_rate": "20"}
    recurring, one_off = (
        hubspot.crm.line_items.basic_api.create({"properties": {"name": name, **properties}})
        for name, properties in zip(LINE_NAMES, (monthly, once), strict=True)
    )
    v4 = hubspot.crm.associations.v4.basic_api
    # HubSpot's default association types: primary company, contact, line items.
    links = (
        ("companies", company, 5),
        ("contacts", contact, 3),
        ("line_items", recurring, 19),
        ("line_items", one_off, 19),
    )
    for kind, target, type_id in links:
        v4.create(
            "deals",
            deal.id,
            kind,
            target.id,
            [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        )
    return deal.id


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, airflow_for):
    for sandbox, airflow in running_demo(tmp_path_factory, airflow_for, "security"):
        # A mailer with a password, to show it never reaches a log.
        smtp = {**connections(sandbox.config)["smtp_default"], "login": "propale-mailer", "password": SMTP_PASSWORD}
        airflow.extra_env["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(smtp)
        demo = DemoWorld(sandbox, airflow)
        demo.deal_ids[HOSTILE] = _create_hostile_deal(demo.hubspot)
        site = Site(sandbox, airflow, tmp_path_factory.mktemp("security_site"), rate_limit=f"{RATE_LIMIT}/60")
        site.deal_ids[HOSTILE] = demo.deal_ids[HOSTILE]
        world = Attacked(demo, site)
        demo.flag(HOSTILE, KAIROS, ONDE, NO_EMAIL)
        world.run("propale_send_proposals")
        assert demo.deal(HOSTILE)["propale_status"] == "sent", demo.deal(HOSTILE)["propale_error"]
        site.start()
        try:
            yield world
        finally:
            site.stop()


# --- reading what arrived -------------------------------------------------------------------------

DANGEROUS_TAGS = {"script", "svg", "iframe", "frame", "object", "embed", "math", "base"}


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def inert_text(html: str) -> str:
    """The text a browser shows of `html`, after checking that nothing in it can run.

    A payload that escaped its escaping would parse as a tag or an event-handler attribute here.
    """
    parser = _Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag not in DANGEROUS_TAGS, f"live <{tag}>"
        assert not [name for name in attrs if name.startswith("on")], f"event handler on <{tag}>: {attrs}"
        assert not any((value or "").strip().lower().startswith("javascript:") for value in attrs.values())
        assert attrs.get("src") != "x", "the <img src=x> payload became an image"
    return " ".join("".join(parser.text).split())


def plain(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def one_line_payload(text: str) -> str:
    """A payload as it reads once its line breaks are spaces (headers, PDFs, one-line fields)."""
    return " ".join(text.split())


def without_nonce(html: str) -> str:
    return re.sub(r'nonce="[^"]+"', "", html)


# --- 1. hostile names, from HubSpot to everyone who reads them ------------------------------------


def test_html_payloads_in_names_arrive_as_text_in_the_proposal_email(attacked):
    message = attacked.hostile_email()
    detail = attacked.demo.email_detail(message)
    shown = inert_text(detail["html"])
    assert f"« Hostile {SCRIPT} {SLACK} Bcc: {ATTACKER} »" in shown, "the deal's name, as text"
    assert f"Bonjour Eve Bcc: {ATTACKER}," in shown, "the contact's first name, as text"
    # The text part prints the names as typed: readable, nothing to interpret.
    assert f"« Hostile {SCRIPT} {SLACK}" in detail["text"]
    assert "&lt;" not in detail["text"] and "&#" not in detail["text"]


def test_a_line_break_and_bcc_in_names_add_no_recipient_and_no_header(attacked):
    message = attacked.hostile_email()
    assert message["envelope_to"] == [CUSTOMER_EMAIL], "the SMTP envelope has the customer only"
    assert message["to"] == [CUSTOMER_EMAIL] and message["cc"] == []
    assert attacked.demo.emails(ATTACKER) == [], "nothing reached the attacker"
    headers = BytesHeaderParser(policy=policy.default).parsebytes(attacked.raw(message))
    assert "Bcc" not in headers and "Cc" not in headers, "no header made of a name"
    assert [a.addr_spec for a in headers["To"].addresses] == [CUSTOMER_EMAIL]
    # The subject stays one header line, the deal's name in it as text.
    assert "\r" not in message["subject"] and "\n" not in message["subject"]
    number = attacked.site.proposal(HOSTILE).number
    assert f"{number} : Hostile {SCRIPT} {SLACK} Bcc" in message["subject"]


def test_the_proposal_pdf_prints_the_payloads_as_literal_text(attacked):
    text = plain(attacked.demo.pdf_text(attacked.hostile_email()))
    for payload in (one_line_payload(HOSTILE), COMPANY, *LINE_NAMES):
        assert payload in text, payload
    assert "Lamarque" in text and SVG in text


def assert_no_live_slack_markup(attacked) -> list[str]:
    """Every Slack post's text: no mention, and no link but Propale's own to a deal, on one line."""
    posts = [" ".join(p["block_texts"]) + " " + p["text"] for p in attacked.demo.slack_posts()]
    for post in posts:
        assert "<!" not in post and "<@" not in post, "no @channel, @here or user mention"
        for target in re.findall(r"<([^>]*)>", post):
            assert target.startswith(f"{attacked.demo.sandbox.config.hubspot_url}/contacts/"), target
            assert "\r" not in target and "\n" not in target, target
    return posts


def test_slack_shows_the_names_without_a_live_mention_or_a_forged_link(attacked):
    posts = assert_no_live_slack_markup(attacked)
    [summary] = [p for p in posts if "Hostile" in p and "Propositions Propale" in p]
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt;" in summary, "shown as text"


def test_the_note_on_the_deal_quotes_no_name_and_holds_no_markup_from_hubspot(attacked):
    [body] = [n["hs_note_body"] for n in attacked.demo.notes_on(HOSTILE) if "envoyée à" in n["hs_note_body"]]
    inert_text(body)
    assert set(re.findall(r"</?(\w+)", body)) <= {"p", "strong", "br"}, "Propale's own markup only"
    assert "Hostile" not in body and "Société" not in body and "evil" not in body


def test_the_customer_page_shows_the_payloads_as_text_under_a_no_script_policy(attacked):
    response = attacked.site.client("203.0.113.101").get(attacked.demo.deal(HOSTILE)["propale_proposal_url"])
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    shown = inert_text(response.text)
    for payload in (one_line_payload(HOSTILE), COMPANY, *LINE_NAMES, f"1 rue {IMG}"):
        assert payload in shown, payload
    assert "<script" not in response.text and "<svg" not in response.text


# --- 2. links --------------------------------------------------------------------------------------


def test_links_are_random_and_known_to_the_ledger_only_by_their_hash(attacked):
    """A link is 32 random bytes (`secrets.token_urlsafe`), one per proposal version: nothing to
    extrapolate from a number, a version or another link. Guessing one among 2^256 at a million
    tries a second for a century is a chance below 2^-160. The ledger keeps its SHA-256, to find the
    proposal, and a copy sealed with propale_secret_key, which the page does not hold."""
    site = attacked.site
    proposal = site.proposal(HOSTILE)
    token = site.token(proposal)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert token != proposal_token(site.settings.link_key, proposal.number, proposal.version), "not derived"
    sealed = site.ledger.sealed_token(proposal.id)
    assert sealed is not None and token not in sealed
    # What the ledger knows of it, or what an old derivation with a guessed key gives, opens nothing.
    forged = proposal_token("an-attacker-guess-of-the-secret-key-0123456789", proposal.number, proposal.version)
    client = site.client("203.0.113.102")
    unknown = client.get(f"{site.url}/p/{secrets.token_urlsafe(32)}")
    for guess in (forged, hash_token(token)):
        response = client.get(f"{site.url}/p/{guess}")
        assert response.status_code == unknown.status_code == 404
        assert without_nonce(response.text) == without_nonce(unknown.text)


def test_guessing_links_gets_the_same_404_every_time_and_posting_guesses_is_rate_limited(attacked):
    client = attacked.site.client("198.51.100.66")
    baseline = without_nonce(client.get(f"{attacked.site.url}/p/unknown").text)
    for _ in range(100):
        response = client.get(f"{attacked.site.url}/p/{secrets.token_urlsafe(32)}")
        assert response.status_code == 404 and without_nonce(response.text) == baseline
    guesses = [f"{attacked.site.url}/p/{secrets.token_urlsafe(32)}/accept" for _ in range(RATE_LIMIT + 6)]
    statuses = [client.post(url, data={"method": "card", "csrf_token": "x"}).status_code for url in guesses[:-1]]
    assert statuses == [404] * RATE_LIMIT + [429] * 5
    limited = client.post(guesses[-1], data={"method": "card"})
    assert "Trop de tentatives" in limited.text and int(limited.headers["retry-after"]) >= 1


def test_every_single_character_change_of_a_real_link_is_the_unknown_link_404(attacked):
    token = attacked.site.token(attacked.site.proposal(HOSTILE))
    alphabet = string.ascii_letters + string.digits + "-_"
    variants = {token[:i] + alphabet[(alphabet.index(c) + 1) % 64] + token[i + 1 :] for i, c in enumerate(token)}
    # base64's last character carries 2 unused bits: this spelling decodes to the very same 32
    # bytes, and is refused all the same because links are compared as written.
    same_bytes = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    assert base64.urlsafe_b64decode(same_bytes + "=") == base64.urlsafe_b64decode(token + "=")
    variants |= {same_bytes, token[:-1], token + "A", token.upper(), token.lower()} - {token}
    client = attacked.site.client("203.0.113.103")
    baseline = without_nonce(client.get(f"{attacked.site.url}/p/unknown").text)
    for variant in variants:
        response = client.get(f"{attacked.site.url}/p/{variant}")
        assert response.status_code == 404 and without_nonce(response.text) == baseline, variant
    assert client.get(f"{attacked.site.url}/p/{token}").status_code == 200, "the real link works"


def test_a_version_1_link_after_version_2_was_issued_shows_the_replaced_page(attacked):
    site = attacked.site
    old_link = site.link(ONDE)
    site.send_in_process(ONDE, now=datetime.now(UTC))
    new_link = site.link(ONDE)
    assert site.proposal(ONDE).version == 2 and new_link != old_link
    client = site.client("203.0.113.104")
    response = client.get(old_link)
    assert response.status_code == 410
    assert "Proposition remplacée" in response.text and "ce lien n’est plus valable" in response.text
    assert new_link.rsplit("/", 1)[1] not in response.text, "the old link does not lead to the new one"
    csrf = CsrfTokens(site.form_key, 3600).issue(old_link.rsplit("/", 1)[1])
    refused = client.post(
        f"{old_link}/accept", data={"method": "card", "csrf_token": csrf}, headers={"Origin": site.origin}
    )
    assert refused.status_code == 410
    assert attacked.checkout_sessions(ONDE) == []
    assert client.get(new_link).status_code == 200


def test_an_expired_proposal_cannot_be_accepted_and_the_page_says_so_politely(attacked):
    site = attacked.site
    site.send_in_process(PAPRIKA, now=datetime.now(UTC) - timedelta(days=40))
    proposal = site.proposal(PAPRIKA)
    link = site.link(PAPRIKA)
    client = site.client("203.0.113.105")
    response = client.get(link)
    assert response.status_code == 410 and "data-method" not in response.text
    shown = plain(inert_text(response.text))
    assert "Proposition expirée" in shown
    assert f"La proposition {proposal.number} était valable jusqu’au" in shown and "ne peut plus être acceptée" in shown
    assert "Nous serons ravis de vous en adresser une nouvelle." in shown
    csrf = CsrfTokens(site.form_key, 3600).issue(link.rsplit("/", 1)[1])
    refused = client.post(
        f"{link}/accept", data={"method": "card", "csrf_token": csrf}, headers={"Origin": site.origin}
    )
    assert refused.status_code == 410
    assert site.ledger.acceptance(proposal.id) is None and attacked.checkout_sessions(PAPRIKA) == []


# --- 3. forged POSTs -------------------------------------------------------------------------------


def test_forged_acceptances_are_refused_and_leave_no_trace_in_the_ledger_or_at_stripe(attacked):
    site = attacked.site
    link = site.link(KAIROS)
    token = link.rsplit("/", 1)[1]
    client = site.client("203.0.113.106")
    _, forms = site.page(link, client)
    _, other_forms = site.page(site.link(HOSTILE), client)
    valid = forms["card"]["csrf_token"]
    # Issued two hours ago; an accept form lives one hour.
    two_hours_ago = int(time.time()) - 2 * 3600
    with mock.patch.object(TimestampSigner, "get_timestamp", return_value=two_hours_ago):
        expired = CsrfTokens(site.form_key, 3600).issue(token)
    forgeries = {
        "no CSRF token": ({"method": "card"}, site.origin),
        "another proposal's CSRF token": (
            {"method": "card", "csrf_token": other_forms["card"]["csrf_token"]},
            site.origin,
        ),
        "an expired CSRF token": ({"method": "card", "csrf_token": expired}, site.origin),
        "a valid token posted from another site": ({"method": "card", "csrf_token": valid}, "https://evil.example"),
    }
    for attack, (data, sent_from) in forgeries.items():
        response = client.post(f"{link}/accept", data=data, headers={"Origin": sent_from})
        assert response.status_code == 403, attack
        assert "Page expirée" in response.text and "Revenir à la proposition" in response.text, attack
    proposal = site.proposal(KAIROS)
    assert site.ledger.acceptance(proposal.id) is None
    assert site.ledger.get_proposal(proposal.id).status == ProposalStatus.SENT
    assert attacked.checkout_sessions(KAIROS) == [], "no Checkout Session at Stripe"


# --- 4. amounts ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paid(attacked):
    """The hostile deal's customer clicks with tampered fields, pays by card, and Stripe is synced."""
    site = attacked.site
    client = site.client("203.0.113.107")
    link = site.link(HOSTILE)
    tampered = {"amount": "1", "amount_total": "1", "unit_amount": "1", "price": "1", "currency": "usd",
                "quantity": "99", "payment_method_types": "paypal", "mode": "payment"}  # fmt: skip
    session_id = site.session_id(site.click(link, "card", client, **tampered))
    site.stripe.raw_request(
        "post", f"/v1/test_helpers/checkout/sessions/{session_id}/complete", card_number="4242424242424242"
    )
    attacked.run("propale_sync_stripe")
    return session_id


def test_a_method_that_is_not_offered_is_refused_before_stripe(attacked):
    site = attacked.site
    link = site.link(KAIROS)
    client = site.client("203.0.113.108")
    _, forms = site.page(link, client)
    for method in ("paypal", "card,sepa_debit", "CARD"):
        response = client.post(f"{link}/accept", data={"method": method, "csrf_token": forms["card"]["csrf_token"]},
                               headers={"Origin": site.origin})  # fmt: skip
        assert response.status_code == 400, method
        assert "Ce moyen de paiement n’est pas proposé" in response.text
    assert site.ledger.acceptance(site.proposal(KAIROS).id) is None and attacked.checkout_sessions(KAIROS) == []


def test_tampered_amounts_in_the_form_change_nothing_at_stripe(attacked, paid):
    snapshot = attacked.site.proposal(HOSTILE).snapshot
    stripe = attacked.site.stripe
    session = stripe.v1.checkout.sessions.retrieve(paid)
    assert session.currency == snapshot.currency == "eur"
    assert session.amount_total == snapshot.first_payment
    assert session.payment_method_types == ["card"] and session.mode == "subscription"
    items = stripe.v1.checkout.sessions.line_items.list(paid, {"limit": 100}).data
    assert [(i.price.unit_amount, i.quantity, i.currency) for i in items] == [
        (line.net_unit_price, line.quantity, snapshot.currency) for line in snapshot.lines
    ]
    invoice = stripe.v1.invoices.retrieve(session.invoice)
    assert invoice.amount_paid == snapshot.first_payment, "what the customer paid is the proposal's amount"


def test_after_payment_the_rep_email_receipt_and_notes_still_show_names_as_text(attacked, paid):
    demo = attacked.demo
    [rep_email] = [m for m in demo.emails() if "a accepté la proposition" in m["subject"] and "Société" in m["subject"]]
    assert "\r" not in rep_email["subject"] and "\n" not in rep_email["subject"]
    assert COMPANY in inert_text(demo.email_detail(rep_email)["html"])
    [invoice_email] = [m for m in demo.emails(CUSTOMER_EMAIL) if "Votre facture" in m["subject"]]
    assert invoice_email["envelope_to"] == [CUSTOMER_EMAIL]
    inert_text(demo.email_detail(invoice_email)["html"])
    assert COMPANY in plain(demo.pdf_text(invoice_email, 1)), "the receipt prints the company name as text"
    for note in demo.notes_on(HOSTILE):
        inert_text(note["hs_note_body"])
    [accepted] = [p for p in assert_no_live_slack_markup(attacked) if "Proposition acceptée" in p and "Hostile" in p]
    assert "&lt;img src=x onerror=alert(1)&gt;" in accepted


# --- 5. logs ---------------------------------------------------------------------------------------


def test_no_link_key_password_or_customer_data_in_any_log(attacked, paid):
    site, demo = attacked.site, attacked.demo
    config = demo.sandbox.config
    secrets_ = {
        "the Stripe secret key": config.stripe_secret_key,
        "the HubSpot token": config.hubspot_token,
        "the Slack webhook path": connections(config)["slack_default"]["password"],
        "the SMTP password": SMTP_PASSWORD,
        "the contact of the deal in error": "Maxime Caron",
    }
    for name in (HOSTILE, KAIROS, ONDE, PAPRIKA):
        proposal = site.proposal(name)
        secrets_[f"the link of {proposal.number} v{proposal.version}"] = site.token(proposal)
        secrets_[f"the email of the customer of {name}"] = proposal.snapshot.customer.email
        secrets_[f"the contact of {name}"] = proposal.snapshot.customer.contact_name
    secrets_["the hostile contact's last name"] = "Lamarque"

    logs = attacked.logs()
    everything = "\n".join(logs.values())
    # What was read is the real thing: each step logged what it did.
    for evidence in (
        "Proposal DEV-",
        "emailed for deal",
        "Stripe events since",
        "Emails: ",
        "Checkout Session opened for",
    ):
        assert evidence in everything, evidence
    for where, text in logs.items():
        for what, secret in secrets_.items():
            assert secret not in text, f"{what} is in {where}"


def test_a_reason_logged_for_a_deal_in_error_names_no_contact():
    """On the deal, the rep reads whose address is missing or wrong; the task log says it without the name."""
    for email_address in (None, "jeanne.martin@@acme"):
        reason = " ".join(validate(sample_deal(contact=PersonInput("501", email_address, "Jeanne", "Martin"))))
        assert "« Jeanne Martin »" in reason
        logged = log_safe_reason(reason)
        assert "Jeanne" not in logged and "Martin" not in logged and "@@acme" not in logged
        assert logged.startswith(
            ("Le contact principal n’a pas d’adresse e-mail", "L’adresse e-mail du contact principal n’est pas valide")
        )


def test_task_results_stay_out_of_the_task_logs():
    """Airflow logs each task's return value by default; Propale's results name deals and carry
    reasons that quote a contact's name or e-mail address, so every task turns that off."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    bag = DagBag(str(Path(__file__).resolve().parents[2] / "dags"))
    assert not bag.import_errors and set(bag.dags) == {"propale_send_proposals", "propale_sync_stripe"}
    for dag in bag.dags.values():
        for task in dag.tasks:
            if isinstance(task, MappedOperator):
                task = task.unmap({"op_kwargs": dict.fromkeys(task.op_kwargs_expand_input.value)})
            assert task.show_return_value_in_logs is False, f"{dag.dag_id}.{task.task_id}"

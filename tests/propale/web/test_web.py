"""The customer page over HTTP, as customers and attackers reach it: `uvicorn propale.web:app` in a
subprocess (like production), configured only by Airflow variables and connections, in front of a
ledger filled by the real sending code and the sandbox's Stripe stand-in.

`Site` is shared with the browser and plugin tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from propale.ledger import CheckoutStatus, ProposalStatus
from propale.money import format_amount
from propale.sending import collect, deliver, proposal_token
from propale.web.security import CsrfTokens
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from support.site import BOULANGERIE, KAIROS, KAIROS_OFFICE, LUMEN, LUMEN_BIS, ONDE, ONDE_SUMMER, PAPRIKA, SEMINAR, Site

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def site(tmp_path_factory, airflow_for):
    tmp = tmp_path_factory.mktemp("web")
    config = config_on_free_ports(tmp / "sandbox")
    with SandboxProcess(config, reset=True, seed="demo") as sandbox:
        site = Site(sandbox, airflow_for(sandbox), tmp)
        site.send_with_dag(LUMEN, BOULANGERIE, KAIROS, ONDE, ONDE_SUMMER, KAIROS_OFFICE)
        # Issued 40 days ago: expired by now.
        site.send_in_process(PAPRIKA, now=datetime.now(UTC) - timedelta(days=40))
        # Boulangerie's first link is retired by a second version.
        site.replaced_link = site.link(BOULANGERIE)
        site.send_in_process(BOULANGERIE, now=datetime.now(UTC))
        site.start()
        try:
            yield site
        finally:
            site.stop()


def _without_nonce(html: str) -> str:
    return re.sub(r'nonce="[^"]+"', "", html)


# --- the page ------------------------------------------------------------------------------------


def test_the_page_shows_the_proposal_and_one_form_per_method(site):
    proposal = site.proposal(LUMEN)
    link = site.link(LUMEN)
    html, forms = site.page(link, site.client())
    assert '<html lang="fr">' in html
    assert "<main" in html and "<header" in html and "<footer" in html
    assert proposal.number in html and "Atelier Lumen" in html
    assert "Valable jusqu’au" in html
    assert format_amount(proposal.snapshot.first_payment, proposal.snapshot.currency) in html
    assert f"En cliquant, vous acceptez la proposition {proposal.number} et ses conditions" in html
    # SPEC hooks, in the order of propale_payment_methods.
    assert html.index('data-method="card"') < html.index('data-method="sepa_debit"')
    assert list(forms) == ["card", "sepa_debit"]
    for form in forms.values():
        assert form["action"] == f"{link}/accept", "URLs come from propale_public_url"
        assert form["csrf_token"]
    assert f'href="{link}/pdf"' in html


def test_the_page_is_built_for_phones_and_screen_readers(site):
    html, _ = site.page(site.link(LUMEN), site.client())
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'aria-describedby="consent hint-card"' in html
    assert 'id="consent"' in html and 'id="hint-card"' in html
    assert "<script" not in html


def test_the_pdf_downloads_under_its_number(site):
    proposal = site.proposal(LUMEN)
    response = site.client().get(f"{site.link(LUMEN)}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{proposal.number}.pdf"'
    assert hashlib.sha256(response.content).hexdigest() == proposal.pdf_sha256


def test_every_response_carries_the_security_headers(site):
    client = site.client()
    link = site.link(LUMEN)
    for response in (client.get(link), client.get(f"{link}/pdf"), client.get(f"{site.url}/p/unknown-token-0000000000")):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, "no script may run"
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and headers["x-frame-options"] == "DENY"
        assert f"form-action 'self' https://checkout.stripe.com {site.sandbox.config.stripe_url}" in csp
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers, "HSTS only when the public URL is https"
    page = client.get(link)
    nonce = re.search(r"style-src 'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
    assert page.text.count(f'<style nonce="{nonce}">') == 2
    assert client.get(link).headers["content-security-policy"] != page.headers["content-security-policy"], (
        "one nonce per response"
    )


def test_unknown_and_forged_links_get_the_same_404(site):
    client = site.client()
    proposal = site.proposal(LUMEN)
    forged = proposal_token("another-secret-key-of-at-least-32-chars!!", proposal.number, proposal.version)
    token = site.token(proposal)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    bodies = set()
    paths = (f"/p/{forged}", f"/p/{tampered}", "/p/short", "/p/" + "x" * 500, "/nothing-here", f"/p/{forged}/pdf")
    customer_facing = ("/docs", "/redoc", "/openapi.json")  # no API documentation for the public
    for path in paths + customer_facing:
        response = client.get(site.url + path)
        assert response.status_code == 404, path
        bodies.add(_without_nonce(response.text))
    response = client.post(f"{site.url}/p/{forged}/accept", data={"method": "card", "csrf_token": "x"})
    assert response.status_code == 404
    bodies.add(_without_nonce(response.text))
    assert len(bodies) == 1, "the 404 page is the same whatever the reason"
    [body] = bodies
    assert "Page introuvable" in body
    assert proposal.number not in body and site.settings.seller.name not in body


# --- accepting ----------------------------------------------------------------------------------


def test_a_post_without_a_valid_csrf_token_is_refused(site):
    link = site.link(KAIROS)
    proposal = site.proposal(KAIROS)
    client = site.client("203.0.113.20")
    _, forms = site.page(link, client)
    _, other_forms = site.page(site.link(ONDE), client)
    valid = forms["card"]["csrf_token"]
    attempts = [
        {"method": "card"},
        {"method": "card", "csrf_token": ""},
        {"method": "card", "csrf_token": valid[:-2] + "xx"},
        {"method": "card", "csrf_token": other_forms["card"]["csrf_token"]},  # issued for another link
    ]
    for data in attempts:
        response = client.post(f"{link}/accept", data=data)
        assert response.status_code == 403, data
        assert "Revenir à la proposition" in response.text
    cross_site = client.post(
        f"{link}/accept", data={"method": "card", "csrf_token": valid}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    assert site.ledger.acceptance(proposal.id) is None
    assert site.ledger.get_proposal(proposal.id).status == ProposalStatus.SENT


def test_oversized_posts_are_refused_unread(site):
    client = site.client("203.0.113.22")
    link = site.link(KAIROS)
    _, forms = site.page(link, client)
    fields = {"method": "card", "csrf_token": forms["card"]["csrf_token"], "pad": "x" * 10_000}
    response = client.post(f"{link}/accept", data=fields)
    assert response.status_code == 413
    body = httpx.QueryParams(fields).__str__().encode()
    chunked = client.post(f"{link}/accept", content=iter([body[:5000], body[5000:]]),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413
    assert site.ledger.acceptance(site.proposal(KAIROS).id) is None


def test_a_method_not_offered_is_refused(site):
    client = site.client("203.0.113.21")
    link = site.link(KAIROS)
    _, forms = site.page(link, client)
    response = client.post(f"{link}/accept", data={"method": "paypal", "csrf_token": forms["card"]["csrf_token"]})
    assert response.status_code == 400
    assert site.ledger.acceptance(site.proposal(KAIROS).id) is None


def test_accepting_records_the_acceptance_and_opens_checkout_for_the_snapshot_amount(site):
    proposal = site.proposal(LUMEN)
    client = site.client("198.51.100.7")
    before = datetime.now(UTC)
    # A tampering customer adds amounts: only `method` is read.
    response = site.click(site.link(LUMEN), "card", client, amount="1", unit_amount="1", price="1", amount_total="1")
    session_id = site.session_id(response)

    acceptance = site.ledger.acceptance(proposal.id)
    assert acceptance.method == "card"
    assert acceptance.ip == "198.51.100.7"
    assert acceptance.user_agent == "Mozilla/5.0 (test 198.51.100.7)"
    assert (acceptance.number, acceptance.version) == (proposal.number, proposal.version)
    assert acceptance.pdf_sha256 == proposal.pdf_sha256
    assert before <= acceptance.accepted_at <= datetime.now(UTC)
    assert site.ledger.get_proposal(proposal.id).status == ProposalStatus.ACCEPTED

    session = site.stripe.v1.checkout.sessions.retrieve(session_id)
    snapshot = proposal.snapshot
    assert session.amount_total == snapshot.first_payment
    assert session.mode == ("subscription" if snapshot.recurring else "payment")
    assert session.payment_method_types == ["card"]
    assert session.metadata["proposal_number"] == proposal.number
    assert session.metadata["proposal_version"] == str(proposal.version)
    assert session.metadata["hubspot_deal_id"] == proposal.deal_id
    assert session.success_url == f"{site.link(LUMEN)}/merci?session_id={{CHECKOUT_SESSION_ID}}"
    assert session.cancel_url == f"{site.link(LUMEN)}/annule"
    customer = site.stripe.v1.customers.retrieve(session.customer)
    assert customer.email == snapshot.customer.email
    assert customer.metadata["hubspot_contact_id"] == snapshot.customer.contact_id
    assert customer.metadata["hubspot_company_id"] == (snapshot.customer.company_id or "")


def test_a_second_click_reuses_the_open_session_and_the_first_acceptance(site):
    proposal = site.proposal(LUMEN)
    first = site.ledger.acceptance(proposal.id)
    client = site.client("198.51.100.8")
    again = site.session_id(site.click(site.link(LUMEN), "card", client))
    assert again == site.ledger.checkout_sessions(proposal.id)[-1].stripe_session_id
    assert site.ledger.acceptance(proposal.id) == first, "recorded once"
    assert len(site.ledger.checkout_sessions(proposal.id)) == 1


def test_simultaneous_clicks_open_one_session(site):
    from concurrent.futures import ThreadPoolExecutor

    link = site.link(ONDE_SUMMER)
    pages = [site.page(link, site.client(f"203.0.113.{50 + i}"))[1]["card"] for i in range(4)]

    def click(i: int) -> str:
        with site.client(f"203.0.113.{50 + i}") as client:
            response = client.post(
                pages[i]["action"],
                data={"method": "card", "csrf_token": pages[i]["csrf_token"]},
                headers={"Origin": site.origin},
            )
            return site.session_id(response)

    with ThreadPoolExecutor(4) as pool:
        session_ids = set(pool.map(click, range(4)))
    assert len(session_ids) == 1
    proposal = site.proposal(ONDE_SUMMER)
    assert [s.stripe_session_id for s in site.ledger.checkout_sessions(proposal.id)] == list(session_ids)
    assert site.ledger.acceptance(proposal.id) is not None


def test_an_accepted_unpaid_proposal_can_still_be_paid(site):
    html, forms = site.page(site.link(LUMEN), site.client())
    assert "Vous avez accepté cette proposition le" in html
    assert list(forms) == ["card", "sepa_debit"]


def test_an_expired_session_is_replaced(site):
    proposal = site.proposal(LUMEN)
    [old] = site.ledger.checkout_sessions(proposal.id)
    site.stripe.v1.checkout.sessions.expire(old.stripe_session_id)
    new_id = site.session_id(site.click(site.link(LUMEN), "card", site.client()))
    assert new_id != old.stripe_session_id
    assert site.stripe.v1.checkout.sessions.retrieve(new_id).status == "open"
    statuses = {s.stripe_session_id: s.status for s in site.ledger.checkout_sessions(proposal.id)}
    assert statuses == {old.stripe_session_id: CheckoutStatus.EXPIRED, new_id: CheckoutStatus.OPEN}


def test_choosing_the_other_method_closes_the_first_session(site):
    proposal = site.proposal(LUMEN)
    card = next(s for s in site.ledger.checkout_sessions(proposal.id) if s.status == CheckoutStatus.OPEN)
    sepa_id = site.session_id(site.click(site.link(LUMEN), "sepa_debit", site.client()))
    assert site.stripe.v1.checkout.sessions.retrieve(sepa_id).payment_method_types == ["sepa_debit"]
    assert site.stripe.v1.checkout.sessions.retrieve(card.stripe_session_id).status == "expired", "no paying twice"
    assert site.ledger.acceptance(proposal.id).method == "card", "the acceptance stays the first one"


def test_cancelling_on_checkout_leads_back_to_the_proposal(site):
    response = site.client().get(f"{site.link(LUMEN)}/annule")
    assert response.status_code == 200
    assert "Le paiement n’a pas été effectué." in response.text
    assert 'data-method="card"' in response.text


def test_the_success_page_needs_a_paid_session_of_this_proposal(site):
    client = site.client()
    link = site.link(LUMEN)
    proposal = site.proposal(LUMEN)
    sepa = next(s for s in site.ledger.checkout_sessions(proposal.id) if s.status == CheckoutStatus.OPEN)
    # Not paid yet, or someone else's session: back to the proposal.
    for session_id in (sepa.stripe_session_id, "cs_test_somebody_else", ""):
        response = client.get(f"{link}/merci", params={"session_id": session_id})
        assert response.status_code == 303 and response.headers["location"] == link

    paid = httpx.post(
        f"{site.sandbox.config.stripe_url}/v1/test_helpers/checkout/sessions/{sepa.stripe_session_id}/complete",
        data={"iban": "FR1420041010050500013M02606"},
        auth=(site.sandbox.config.stripe_secret_key, ""),
    )
    assert paid.status_code == 200, paid.text
    response = client.get(f"{link}/merci", params={"session_id": sepa.stripe_session_id})
    assert response.status_code == 200
    assert "Merci" in response.text and proposal.number in response.text
    assert "prélèvement SEPA" in response.text and "quelques jours ouvrés" in response.text


def test_a_paid_proposal_says_so_and_opens_no_other_session(site):
    proposal = site.proposal(LUMEN)
    count = len(site.ledger.checkout_sessions(proposal.id))
    client = site.client()
    page = client.get(site.link(LUMEN))
    assert page.status_code == 200
    assert "votre paiement a bien été pris en compte" in page.text
    assert "data-method" not in page.text
    # A stale page (form shown before the payment) clicked afterwards.
    response = client.post(
        f"{site.link(LUMEN)}/accept",
        data={"method": "card", "csrf_token": site_csrf(site, LUMEN)},
        headers={"Origin": site.origin},
    )
    assert response.status_code == 200 and "votre paiement a bien été pris en compte" in response.text
    assert len(site.ledger.checkout_sessions(proposal.id)) == count


def site_csrf(site, name: str) -> str:
    """A valid CSRF token for a link whose page no longer shows forms."""
    return CsrfTokens(site.form_key, 3600).issue(site.token(site.proposal(name)))


def test_a_one_off_proposal_opens_a_payment_with_its_invoice(site):
    proposal = site.proposal(KAIROS)
    session_id = site.session_id(site.click(site.link(KAIROS), "card", site.client("203.0.113.30")))
    session = site.stripe.v1.checkout.sessions.retrieve(session_id)
    assert session.amount_total == proposal.snapshot.first_payment
    if not proposal.snapshot.recurring:
        assert session.mode == "payment" and session.invoice_creation.enabled


def test_the_same_contact_keeps_one_stripe_customer(site):
    site.send_in_process(LUMEN_BIS, now=datetime.now(UTC))
    lumen = site.stripe.v1.checkout.sessions.retrieve(
        site.ledger.checkout_sessions(site.proposal(LUMEN).id)[0].stripe_session_id
    )
    session_id = site.session_id(site.click(site.link(LUMEN_BIS), "card", site.client("203.0.113.31")))
    assert site.stripe.v1.checkout.sessions.retrieve(session_id).customer == lumen.customer


# --- links that can no longer be used ----------------------------------------------------------


def test_an_expired_proposal_cannot_be_accepted(site):
    proposal = site.proposal(PAPRIKA)
    link = site.link(PAPRIKA)
    client = site.client("203.0.113.40")
    response = client.get(link)
    assert response.status_code == 410
    assert "Proposition expirée" in response.text and proposal.number in response.text
    assert "data-method" not in response.text
    response = client.post(
        f"{link}/accept",
        data={"method": "card", "csrf_token": site_csrf(site, PAPRIKA)},
        headers={"Origin": site.origin},
    )
    assert response.status_code == 410
    assert site.ledger.acceptance(proposal.id) is None


def test_a_replaced_proposal_says_so_without_linking_to_the_new_one(site):
    client = site.client("203.0.113.41")
    response = client.get(site.replaced_link)
    assert response.status_code == 410
    assert "Proposition remplacée" in response.text
    current = site.link(BOULANGERIE)
    assert current != site.replaced_link
    assert current not in response.text and site.token(site.proposal(BOULANGERIE)) not in response.text
    csrf = CsrfTokens(site.form_key, 3600).issue(site.replaced_link.rsplit("/", 1)[1])
    response = client.post(
        f"{site.replaced_link}/accept", data={"method": "card", "csrf_token": csrf}, headers={"Origin": site.origin}
    )
    assert response.status_code == 410
    # The new version works.
    assert client.get(current).status_code == 200


def test_a_proposal_whose_email_is_not_confirmed_yet_is_not_acceptable_yet(site):
    """Between the document and the email's confirmation (e.g. the SMTP server failed), the link exists
    but the proposal is not sent: the page asks to come back later."""
    site.gateway.ensure_deal_properties()
    site.flag(SEMINAR)
    [outcome] = collect(site.gateway, site.ledger, site.settings, datetime.now(UTC), [site.deal_ids[SEMINAR]])

    def smtp_down(message) -> None:
        raise ConnectionRefusedError("SMTP server down")

    with pytest.raises(ConnectionRefusedError):
        deliver(site.ledger, site.settings, outcome, smtp_down, None)
    proposal = site.proposal(SEMINAR)
    assert proposal.status == ProposalStatus.DRAFT
    response = site.client().get(site.link(SEMINAR))
    assert response.status_code == 409
    assert "en cours d’envoi" in response.text and "data-method" not in response.text


def test_when_stripe_is_down_the_acceptance_is_kept_and_the_customer_can_retry(site):
    proposal = site.proposal(KAIROS_OFFICE)
    client = site.client("203.0.113.60")
    with site.sandbox.admin("stripe") as admin:
        admin.set_faults(error_rate=1)
        try:
            response = site.click(site.link(KAIROS_OFFICE), "card", client)
        finally:
            admin.reset_faults()
    assert response.status_code == 503
    assert "Service momentanément indisponible" in response.text
    assert site.ledger.acceptance(proposal.id).method == "card", "the acceptance is recorded before Stripe is asked"
    session_id = site.session_id(site.click(site.link(KAIROS_OFFICE), "card", client))
    assert site.stripe.v1.checkout.sessions.retrieve(session_id).amount_total == proposal.snapshot.first_payment


def test_back_from_checkout_while_stripe_is_down_the_customer_is_not_asked_to_pay_again(site):
    link = site.link(ONDE_SUMMER)
    proposal = site.proposal(ONDE_SUMMER)
    [session] = [s for s in site.ledger.checkout_sessions(proposal.id) if s.status == CheckoutStatus.OPEN]
    paid = httpx.post(
        f"{site.sandbox.config.stripe_url}/v1/test_helpers/checkout/sessions/{session.stripe_session_id}/complete",
        data={"card_number": "4242424242424242"},
        auth=(site.sandbox.config.stripe_secret_key, ""),
    )
    assert paid.status_code == 200, paid.text
    client = site.client("203.0.113.61")
    with site.sandbox.admin("stripe") as admin:
        admin.set_faults(error_rate=1)
        try:
            response = client.get(f"{link}/merci", params={"session_id": session.stripe_session_id})
        finally:
            admin.reset_faults()
    assert response.status_code == 503
    assert "Paiement en cours de vérification" in response.text and "inutile de payer une seconde fois" in response.text
    assert "data-method" not in response.text
    response = client.get(f"{link}/merci", params={"session_id": session.stripe_session_id})
    assert response.status_code == 200 and "Votre paiement de" in response.text


# --- the process ---------------------------------------------------------------------------------


def test_logs_never_show_a_proposal_link(site):
    site.client().get(site.link(ONDE))
    time.sleep(0.5)
    log = site.log_path.read_text()
    assert "GET /p/*** HTTP/1.1" in log
    for name in (LUMEN, KAIROS, ONDE, PAPRIKA):
        assert site.token(site.proposal(name)) not in log
    assert site.replaced_link.rsplit("/", 1)[1] not in log


def test_importing_the_app_needs_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_"))}
    env["AIRFLOW_HOME"] = str(tmp_path)
    script = (
        "from starlette.testclient import TestClient\n"
        "import propale.web\n"
        "response = TestClient(propale.web.app).get('/p/abc')\n"
        "print('RESULT', response.status_code, 'momentanément indisponible' in response.text)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [outcome] = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert outcome.split() == ["RESULT", "503", "True"]
    assert "propale_public_url is not set" in result.stdout + result.stderr, "the log names what is missing"


# --- the app in this process: mounted under a prefix, rate-limited ------------------------------


def _services(site, public_url: str, **changes):
    from propale.billing import StripeBilling
    from propale.web.services import Services

    settings = dataclasses.replace(site.settings, public_url=public_url, **changes)
    return Services(
        settings=settings,
        ledger=site.ledger,
        billing=StripeBilling(site.stripe, site.ledger.installation_id()),
        csrf=CsrfTokens(site.form_key, 3600),
        checkout_origins=("https://checkout.stripe.com", site.sandbox.config.stripe_url),
    )


def test_mounted_under_a_prefix_it_builds_every_url_from_the_public_url(site):
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from propale.web import create_app

    public = "https://propale.example/propale"
    airflow_like = FastAPI()
    airflow_like.mount("/propale", create_app(lambda: _services(site, public)))
    token = site.token(site.proposal(ONDE))
    with TestClient(airflow_like, base_url="https://propale.example") as client:
        page = client.get(f"/propale/p/{token}")
        assert page.status_code == 200, page.text
        assert f'action="{public}/p/{token}/accept"' in page.text
        assert f'href="{public}/p/{token}/pdf"' in page.text
        assert page.headers["strict-transport-security"].startswith("max-age="), "https public URL: HSTS"
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = client.post(
            f"/propale/p/{token}/accept",
            data={"method": "card", "csrf_token": csrf},
            headers={"Origin": "https://propale.example"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        session = site.stripe.v1.checkout.sessions.retrieve(response.headers["location"].rsplit("/", 1)[1])
        assert session.success_url.startswith(f"{public}/p/{token}/merci")
        assert client.get("/propale/p/unknown").status_code == 404


def test_posts_are_rate_limited_per_client(site):
    from starlette.testclient import TestClient

    from propale.web import create_app
    from propale.web.security import RateLimit

    app = create_app(lambda: _services(site, site.url), rate_limit=RateLimit(3, 60))
    url = f"/p/{site.token(site.proposal(KAIROS))}/accept"
    with TestClient(app, client=("192.0.2.1", 4000)) as client:
        statuses = [client.post(url, data={"method": "card"}).status_code for _ in range(3)]
        assert statuses == [403, 403, 403]
        limited = client.post(url, data={"method": "card"})
        assert limited.status_code == 429
        assert "Trop de tentatives" in limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["x-frame-options"] == "DENY"
        assert client.get(url.removesuffix("/accept")).status_code != 429, "pages are not limited"
    with TestClient(app, client=("192.0.2.2", 4000)) as other:
        assert other.post(url, data={"method": "card"}).status_code == 403, "another client is not affected"


def test_the_methods_offered_follow_the_settings(site):
    from starlette.testclient import TestClient

    from propale.web import create_app

    token = site.token(site.proposal(KAIROS_OFFICE))
    for methods in (("sepa_debit", "card"), ("card",)):
        app = create_app(lambda methods=methods: _services(site, site.url, payment_methods=methods))
        with TestClient(app) as client:
            page = client.get(f"/p/{token}").text
            assert re.findall(r'data-method="([^"]+)"', page) == list(methods)
            if methods == ("card",):
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
                response = client.post(f"/p/{token}/accept", data={"method": "sepa_debit", "csrf_token": csrf})
                assert response.status_code == 400, "a method switched off since is no longer offered"

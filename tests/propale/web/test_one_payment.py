"""One payment per proposal, whichever server a click reaches: two customer pages (two uvicorn
processes) on one ledger and one Stripe, on SQLite and on PostgreSQL; and an accepted, unpaid
proposal re-proposed by its rep, whose old link then says it was replaced, PDF included."""

from __future__ import annotations

import smtplib
import threading
from datetime import UTC, datetime

import httpx
import pytest

from propale.ledger import CheckoutStatus, ProposalStatus
from propale.sending import collect, deliver
from propale_dev.sandbox import airflow_env
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from support.airflow import Airflow
from support.postgres import postgres_unavailable, schema_of_its_own
from support.site import LUMEN, ONDE, Site

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sites(request, tmp_path_factory, airflow_home):
    """Two customer pages on one ledger and one sandbox, LUMEN and ONDE sent."""
    tmp = tmp_path_factory.mktemp("one-payment")
    if request.param == "sqlite":
        yield from _two_sites(tmp, f"sqlite:///{tmp / 'ledger.db'}", airflow_home)
        return
    if reason := postgres_unavailable():
        pytest.skip(reason)
    with schema_of_its_own() as ledger_url:
        yield from _two_sites(tmp, ledger_url, airflow_home)


def _two_sites(tmp, ledger_url: str, airflow_home):
    config = config_on_free_ports(tmp / "sandbox")
    with SandboxProcess(config, reset=True, seed="demo") as sandbox:
        pair = []
        for name in ("first", "second"):
            (tmp / name).mkdir()
            pair.append(Site(sandbox, Airflow(airflow_home, sandbox, ledger_url, ""), tmp / name))
        pair[0].send_in_process(LUMEN, ONDE, now=datetime.now(UTC))
        try:
            for site in pair:
                site.start()
            yield pair
        finally:
            for site in pair:
                site.stop()


def _stripe_status(site: Site, session_id: str) -> str:
    return site.stripe.v1.checkout.sessions.retrieve(session_id).status


def test_a_card_and_a_sepa_click_on_two_servers_at_once_leave_one_payment_possible(sites):
    first, second = sites
    clicks = [(first, "card", "203.0.113.71"), (second, "sepa_debit", "203.0.113.72")]
    forms = [site.page(site.link(LUMEN), site.client(ip))[1][method] for site, method, ip in clicks]
    start = threading.Barrier(2)
    responses: dict[str, httpx.Response] = {}

    def click(index: int) -> None:
        site, method, ip = clicks[index]
        with site.client(ip) as client:
            start.wait()
            responses[method] = client.post(
                forms[index]["action"],
                data={"method": method, "csrf_token": forms[index]["csrf_token"]},
                headers={"Origin": site.origin},
            )

    threads = [threading.Thread(target=click, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    proposal = first.proposal(LUMEN)
    recorded = first.ledger.checkout_sessions(proposal.id)
    open_at_stripe = [s.stripe_session_id for s in recorded if _stripe_status(first, s.stripe_session_id) == "open"]
    assert len(open_at_stripe) == 1, "at most one session of a proposal can be paid"
    for method, response in responses.items():
        if response.status_code == 409:
            assert "Un paiement de la proposition" in response.text and "déjà en cours" in response.text
        else:
            assert first.session_id(response) in {s.stripe_session_id for s in recorded}, method
    [payable] = open_at_stripe
    by_card = first.stripe.v1.checkout.sessions.retrieve(payable).payment_method_types == ["card"]
    paid = httpx.post(
        f"{first.sandbox.config.stripe_url}/v1/test_helpers/checkout/sessions/{payable}/complete",
        data={"card_number": "4242424242424242"} if by_card else {"iban": "FR1420041010050500013M02606"},
        auth=(first.sandbox.config.stripe_secret_key, ""),
    )
    assert paid.status_code == 200, paid.text
    for session in recorded:
        if session.stripe_session_id != payable:
            assert _stripe_status(first, session.stripe_session_id) == "expired"
    assert [s.status for s in first.ledger.checkout_sessions(proposal.id)].count(CheckoutStatus.OPEN) <= 1


def test_an_accepted_unpaid_proposal_re_proposed_closes_its_payment_and_its_old_link(sites):
    first, second = sites
    old = first.proposal(ONDE)
    old_link = second.link(ONDE)
    session_id = second.session_id(second.click(old_link, "card", second.client("203.0.113.73")))
    assert first.ledger.get_proposal(old.id).status == ProposalStatus.ACCEPTED

    # The rep sets « À proposer » again: the send DAG's steps, with Stripe to close the payment.
    first.flag(ONDE)
    config = first.sandbox.config

    def send(message) -> None:
        with smtplib.SMTP(config.host, config.smtp_port) as smtp:
            smtp.send_message(message)

    now = datetime.now(UTC)
    [outcome] = collect(
        first.gateway, first.ledger, first.settings, now, [first.deal_ids[ONDE]], stripe_client=first.stripe
    )
    assert not outcome.problems, outcome.problems
    deliver(first.ledger, first.settings, outcome, send, airflow_env.DEMO_SELLER["email"])

    assert _stripe_status(first, session_id) == "expired", "the old version can no longer be paid"
    assert first.ledger.get_proposal(old.id).status == ProposalStatus.REPLACED
    new = first.proposal(ONDE)
    assert new.version == old.version + 1
    client = second.client("203.0.113.74")
    for url in (old_link, f"{old_link}/pdf"):
        response = client.get(url)
        assert response.status_code == 410, url
        assert "Proposition remplacée" in response.text and "application/pdf" not in response.headers["content-type"]
    assert client.get(second.link(ONDE)).status_code == 200
    assert client.get(f"{second.link(ONDE)}/pdf").headers["content-type"] == "application/pdf"

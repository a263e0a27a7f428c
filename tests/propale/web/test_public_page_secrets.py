"""The public page holds only what it needs: the client's address only from trusted proxies, a rate
limit shared by every process, its own form key, random links stored hashed (and sealed for the
DAGs), and Stripe idempotency keys that carry the installation's id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stripe
from starlette.testclient import TestClient

from propale.billing import StripeBilling
from propale.ledger import PROPOSAL_EMAIL, Ledger, NewDelivery, delivery_key, new_token, seal_token
from propale.proposals import build_snapshot, source_fingerprint, validity_period
from propale.sending import proposal_link, proposal_token, rotate_link
from propale.settings import Settings, SettingsError
from propale.web import create_app
from propale.web.security import CsrfTokens, RateLimit, TrustedProxies
from propale.web.services import Services
from support.factories import sample_deal, sample_settings, seller_json

SETTINGS = sample_settings()
PROXY = "10.0.0.7"


def _services(ledger: Ledger) -> Services:
    page_settings = Settings.load_for_page(
        {"propale_public_url": SETTINGS.public_url, "propale_seller": seller_json(), "propale_form_key": "f" * 40}.get
    )
    return Services(
        settings=page_settings,
        ledger=ledger,
        billing=StripeBilling(stripe.StripeClient("sk_test_unused"), ledger.installation_id()),
        csrf=CsrfTokens(page_settings.csrf_key, 3600),
    )


def _app(ledger: Ledger, limit: str = "1/60", proxies: str = PROXY):
    return create_app(
        lambda: _services(ledger), rate_limit=RateLimit.parse(limit), trusted_proxies=TrustedProxies.parse(proxies)
    )


def _post(client: TestClient, forwarded_for: str | None = None) -> int:
    """A POST the guard counts (the unknown link then gets the usual 404)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/p/unknown/accept", data={"method": "card"}, headers=headers).status_code


# --- the client's address ------------------------------------------------------------------------


def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(ledger):
    with TestClient(_app(ledger), client=(PROXY, 4000)) as behind_the_proxy:
        assert _post(behind_the_proxy, "203.0.113.1") == 404
        assert _post(behind_the_proxy, "203.0.113.2") == 404, "another customer behind the proxy"
        assert _post(behind_the_proxy, "203.0.113.1") == 429, "the same customer again"
        # A client's own X-Forwarded-For, passed on by the proxy, does not make it someone else.
        assert _post(behind_the_proxy, "198.51.100.9, 203.0.113.1") == 429
    with TestClient(_app(ledger), client=("192.0.2.50", 4000)) as direct:
        assert _post(direct, "203.0.113.3") == 404
        assert _post(direct, "203.0.113.4") == 429, "not a proxy: its header is ignored, its own address counts"


@pytest.mark.parametrize("everyone", ["*", "0.0.0.0/0", "::/0", "10.0.0.1, *"])
def test_trusting_every_address_is_refused(everyone):
    with pytest.raises(ValueError, match="any client choose its own"):
        TrustedProxies.parse(everyone)


def test_no_proxy_is_trusted_unless_configured(ledger, monkeypatch):
    monkeypatch.delenv("PROPALE_WEB_TRUSTED_PROXIES", raising=False)
    app = create_app(lambda: _services(ledger), rate_limit=RateLimit.parse("1/60"))
    with TestClient(app, client=("127.0.0.1", 4000)) as client:
        assert _post(client, "203.0.113.5") == 404
        assert _post(client, "203.0.113.6") == 429


# --- the rate limit across processes -------------------------------------------------------------


def test_the_rate_limit_is_shared_by_every_app_on_one_ledger(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with (
        Ledger(url) as first_ledger,
        Ledger(url) as second_ledger,
        TestClient(_app(first_ledger, "3/60"), client=(PROXY, 1)) as first,
        TestClient(_app(second_ledger, "3/60"), client=(PROXY, 2)) as second,
    ):
        assert [_post(first, "203.0.113.7"), _post(second, "203.0.113.7"), _post(first, "203.0.113.7")] == [404] * 3
        refused = second.post("/p/unknown/accept", headers={"X-Forwarded-For": "203.0.113.7"})
        assert refused.status_code == 429, "each process alone has seen fewer than 3"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert _post(second, "203.0.113.8") == 404, "per client"


REDIS_URL = "redis://127.0.0.1:6379/15"


def test_with_redis_configured_the_rate_limit_is_shared_there(tmp_path, monkeypatch):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    monkeypatch.setenv("PROPALE_WEB_RATE_LIMIT_REDIS_URL", REDIS_URL)
    # Two apps on two ledgers: only Redis is shared.
    with (
        Ledger(f"sqlite:///{tmp_path / 'one.db'}") as one,
        Ledger(f"sqlite:///{tmp_path / 'two.db'}") as two,
        TestClient(_app(one, "2/60"), client=(PROXY, 1)) as first,
        TestClient(_app(two, "2/60"), client=(PROXY, 2)) as second,
    ):
        assert [_post(first, "203.0.113.9"), _post(second, "203.0.113.9")] == [404, 404]
        refused = second.post("/p/unknown/accept", headers={"X-Forwarded-For": "203.0.113.9"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert one.count_request("any", now=datetime.now(UTC), window=timedelta(seconds=60))[0] == 1, (
            "the ledger counted nothing"
        )


# --- the keys ------------------------------------------------------------------------------------


def test_the_page_signs_its_forms_with_its_own_key_and_never_reads_the_link_key():
    values = {
        "propale_public_url": "https://propale.example.fr",
        "propale_seller": seller_json(),
        "propale_secret_key": "l" * 40,
        "propale_form_key": "f" * 40,
    }
    page = Settings.load_for_page(values.get)
    dags = Settings.load(values.get)
    assert page.secret_key is None and dags.form_key is None
    with pytest.raises(SettingsError, match="propale_secret_key"):
        page.link_key  # noqa: B018
    token = new_token()
    forged = CsrfTokens(dags.link_key, 3600).issue(token)
    assert not CsrfTokens(page.csrf_key, 3600).is_valid(token, forged), "a form signed with the link key"
    assert CsrfTokens(page.csrf_key, 3600).is_valid(token, CsrfTokens(page.csrf_key, 3600).issue(token))
    with pytest.raises(SettingsError, match="propale_form_key is not set"):
        Settings.load_for_page({**values, "propale_form_key": None}.get)


def test_the_sandbox_needs_neither_key():
    values = {"propale_public_url": "http://127.0.0.1:8799/propale", "propale_seller": seller_json()}
    page, dags = Settings.load_for_page(values.get), Settings.load(values.get)
    assert page.csrf_key != dags.link_key


# --- the links -----------------------------------------------------------------------------------


def _sent(ledger: Ledger, settings: Settings, token: str, token_sealed: str | None, **deal_fields):
    deal = sample_deal(**deal_fields)
    now = datetime.now(UTC)
    proposal = ledger.issue_proposal(
        deal.id,
        request_key=f"r-{new_token()}",
        source_fingerprint=source_fingerprint(deal),
        issued_at=now,
        validity_days=30,
    )
    snapshot = build_snapshot(deal, settings, proposal.number, proposal.version, now, validity_period(now, 30)[0])
    key = delivery_key(PROPOSAL_EMAIL, proposal.number, proposal.version)
    ledger.attach_document(
        proposal.id,
        snapshot=snapshot,
        pdf=b"%PDF-1.7",
        token=token,
        token_sealed=token_sealed,
        deliveries=[NewDelivery(key, PROPOSAL_EMAIL, b"x")],
    )
    ledger.start_delivery(key)
    ledger.complete_delivery(key)
    return ledger.get_proposal(proposal.id)


def _stored(ledger: Ledger) -> str:
    with ledger._engine.connect() as connection:
        return repr(connection.exec_driver_sql("SELECT * FROM propale_proposals").all())


def test_each_link_is_random_and_the_ledger_never_holds_it_in_clear(ledger):
    token = new_token()
    proposal = _sent(ledger, SETTINGS, token, seal_token(SETTINGS.link_key, token))
    assert proposal_link(ledger, SETTINGS, proposal) == f"{SETTINGS.public_url}/p/{token}"
    assert token != proposal_token(SETTINGS.link_key, proposal.number, proposal.version), "not derived"
    assert token not in _stored(ledger)
    other_key = sample_settings(propale_secret_key="k" * 40)
    with pytest.raises(Exception, match="cannot be rebuilt"):
        proposal_link(ledger, other_key, proposal)


def test_a_link_is_rotated_without_touching_the_others(ledger):
    tokens = [new_token(), new_token()]
    one, two = (_sent(ledger, SETTINGS, t, seal_token(SETTINGS.link_key, t), id=f"d{i}") for i, t in enumerate(tokens))
    new_link = rotate_link(ledger, SETTINGS, one)
    assert ledger.find_by_token(tokens[0]) is None, "the old link leads nowhere"
    assert ledger.find_by_token(new_link.rsplit("/", 1)[1]).id == one.id
    assert proposal_link(ledger, SETTINGS, one) == new_link
    assert ledger.find_by_token(tokens[1]).id == two.id
    assert proposal_link(ledger, SETTINGS, two).endswith(tokens[1])


def test_a_proposal_sent_before_random_links_keeps_its_link(ledger):
    """Its token was derived from propale_secret_key and only its hash stored (no sealed copy): it
    still opens, and the DAGs can still write it."""
    proposal = ledger.issue_proposal(
        "old", request_key="r-old", source_fingerprint="f", issued_at=datetime.now(UTC), validity_days=30
    )
    derived = proposal_token(SETTINGS.link_key, proposal.number, proposal.version)
    proposal = _sent_as_before(ledger, proposal, derived)
    assert ledger.find_by_token(derived).id == proposal.id
    assert proposal_link(ledger, SETTINGS, proposal) == f"{SETTINGS.public_url}/p/{derived}"


def _sent_as_before(ledger: Ledger, proposal, token: str):
    deal = sample_deal(id=proposal.deal_id)
    snapshot = build_snapshot(
        deal, SETTINGS, proposal.number, proposal.version, proposal.issued_at, proposal.valid_until
    )
    ledger.attach_document(proposal.id, snapshot=snapshot, pdf=b"%PDF", token=token)
    return ledger.get_proposal(proposal.id)


# --- the installation id -------------------------------------------------------------------------


def test_the_installation_id_is_made_once_per_ledger(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with Ledger(url) as first:
        made = first.installation_id()
    with Ledger(url) as again, Ledger(f"sqlite:///{tmp_path / 'b.db'}") as elsewhere:
        assert again.installation_id() == made
        assert elsewhere.installation_id() != made


def test_two_installations_on_one_stripe_account_never_share_an_idempotency_key(client):
    snapshot = build_snapshot(
        sample_deal(), SETTINGS, "DEV-2026-00001", 1, datetime.now(UTC), validity_period(datetime.now(UTC), 30)[0]
    )
    ours, theirs = StripeBilling(client, "a1b2c3d4e5f60718"), StripeBilling(client, "0f1e2d3c4b5a6978")
    assert ours.create_customer(snapshot) == ours.create_customer(snapshot), "a retry is the same request"
    assert theirs.create_customer(snapshot) != ours.create_customer(snapshot), "same number, other installation"

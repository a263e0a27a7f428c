"""The Airflow plugin: Airflow's plugins manager finds it, and `airflow api-server` serves the
customer page under /propale, with settings and the Stripe connection read inside the API server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from support.site import LUMEN, Site

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def site(tmp_path_factory, airflow_for):
    tmp = tmp_path_factory.mktemp("plugin")
    config = config_on_free_ports(tmp / "sandbox")
    with SandboxProcess(config, reset=True, seed="demo") as sandbox:
        site = Site(sandbox, airflow_for(sandbox), tmp, prefix="/propale")
        site.send_in_process(LUMEN, now=datetime.now(UTC))
        site.start(
            site.airflow.argv(
                "airflow", "api-server", "--host", "127.0.0.1", "--port", str(site.port), "--workers", "1"
            ),
            timeout=120,
        )
        try:
            yield site
        finally:
            site.stop()


def test_airflow_lists_the_plugin_and_its_app(site):
    result = site.airflow.run("plugins", "--output", "json")
    [plugin] = [p for p in json.loads(result.stdout) if p["name"] == "propale"]
    assert "Propale customer page" in json.dumps(plugin["fastapi_apps"])
    assert "/propale" in json.dumps(plugin["fastapi_apps"])


def test_the_api_server_serves_the_customer_page_under_propale(site):
    link = site.link(LUMEN)
    assert link.startswith(f"{site.origin}/propale/p/")
    client = site.client()
    html, forms = site.page(link, client)
    assert site.proposal(LUMEN).number in html
    assert forms["card"]["action"] == f"{link}/accept"
    page = client.get(link)
    assert page.headers["x-frame-options"] == "DENY" and "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get(f"{link}/pdf").headers["content-type"] == "application/pdf"
    assert client.get(f"{site.origin}/propale/p/unknown-link-0000").status_code == 404
    # Accepting works inside the API server too: settings, ledger and Stripe connection included.
    session_id = site.session_id(site.click(link, "card", client))
    assert site.ledger.acceptance(site.proposal(LUMEN).id).method == "card"
    assert (
        site.stripe.v1.checkout.sessions.retrieve(session_id).amount_total
        == site.proposal(LUMEN).snapshot.first_payment
    )


def test_the_api_server_logs_no_proposal_link(site):
    site.client().get(site.link(LUMEN))
    time.sleep(1)
    log = site.log_path.read_text()
    assert "/propale/p/***" in log, "the access log still records the request"
    assert site.token(site.proposal(LUMEN)) not in log

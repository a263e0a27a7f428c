"""`propale setup` checks the connected accounts and says what to fix, run as the admin runs it.

Each test runs the `propale setup` command with the sandbox's Airflow connections in its
environment, against a sandbox whose accounts are set up right, or wrong in one way.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import stripe

from propale.account_checks import HUBSPOT_SCOPES, SELLER_MENTIONS
from propale_dev.sandbox.airflow_env import DEMO_SELLER
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports

CONFIGURATION_DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
PINNED = stripe.api_version


def run_setup(airflow) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        airflow.argv("propale", "setup"), env=airflow.env, capture_output=True, text=True, timeout=180
    )


def lines_about(output: str, subject: str) -> list[str]:
    return [line for line in output.splitlines() if f" {subject}:" in line or line.startswith(f"{subject}:")]


def stripe_client(sandbox: SandboxProcess) -> stripe.StripeClient:
    return stripe.StripeClient(sandbox.config.stripe_secret_key, base_addresses={"api": sandbox.config.stripe_url})


@pytest.fixture
def private_sandbox(tmp_path_factory) -> Iterator[Callable[..., SandboxProcess]]:
    """A sandbox of its own, started with some config fields changed (a wrong account)."""
    started: list[SandboxProcess] = []

    def start(**fields: object) -> SandboxProcess:
        config = replace(config_on_free_ports(tmp_path_factory.mktemp("sandbox") / "state"), **fields)
        process = SandboxProcess(config, reset=True).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def test_accounts_set_up_as_the_readme_says_pass_every_check(sandbox, airflow_for):
    result = run_setup(airflow_for(sandbox))
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert "ERROR" not in output and "WARNING" not in output
    [scopes] = lines_about(output, "HubSpot private app")
    assert scopes.startswith("OK") and f"has the {len(HUBSPOT_SCOPES)} scopes Propale needs" in scopes
    [version] = lines_about(output, "Stripe API version")
    assert version.startswith("OK")
    assert PINNED in version
    for method in ("Cards", "SEPA Direct Debit"):
        [line] = lines_about(output, f"Stripe Checkout, {method}")
        assert line.startswith("OK") and 'on in the payment method configuration "Default"' in line
    assert lines_about(output, "HubSpot deal properties")
    [mentions] = lines_about(output, SELLER_MENTIONS)
    assert mentions.startswith("OK")


def test_unset_invoice_mentions_are_warnings_that_say_what_invoices_will_do(sandbox, airflow_for):
    airflow = airflow_for(sandbox)
    unset = ("late_payment_penalties", "vat_exemption_mention")
    seller = {key: value for key, value in DEMO_SELLER.items() if key not in unset}
    airflow.extra_env["AIRFLOW_VAR_PROPALE_SELLER"] = json.dumps(seller)

    result = run_setup(airflow)

    assert result.returncode == 0, result.stdout + result.stderr
    penalties, exemption = lines_about(result.stdout, SELLER_MENTIONS)
    assert penalties.startswith("WARNING") and "late_payment_penalties is not set" in penalties
    assert "invoices print the legal default rate" in penalties and "BCE majoré de 10 points" in penalties
    assert exemption.startswith("WARNING") and "vat_exemption_mention is not set" in exemption
    assert "deals with a 0 % VAT line are refused until it is set" in exemption


def test_a_seller_without_its_vat_number_fails_setup(sandbox, airflow_for):
    airflow = airflow_for(sandbox)
    seller = {key: value for key, value in DEMO_SELLER.items() if key != "vat_number"}
    airflow.extra_env["AIRFLOW_VAR_PROPALE_SELLER"] = json.dumps(seller)

    result = run_setup(airflow)

    assert result.returncode == 1
    [mentions] = lines_about(result.stdout, SELLER_MENTIONS)
    assert mentions.startswith("ERROR") and "missing required field(s): vat_number" in mentions
    assert "No proposal can be sent until it is fixed" in mentions
    # The accounts are still checked and set up meanwhile.
    assert lines_about(result.stdout, "HubSpot deal properties")


def test_sepa_turned_off_in_the_dashboard_is_an_error_that_says_where_to_turn_it_on(private_sandbox, airflow_for):
    sandbox = private_sandbox()
    client = stripe_client(sandbox)
    [default] = [c for c in client.v1.payment_method_configurations.list().data if c.is_default]
    client.v1.payment_method_configurations.update(
        default.id, params={"sepa_debit": {"display_preference": {"preference": "off"}}}
    )

    result = run_setup(airflow_for(sandbox))

    assert result.returncode == 1
    [sepa] = lines_about(result.stdout, "Stripe Checkout, SEPA Direct Debit")
    assert sepa.startswith("ERROR")
    assert f'off in the payment method configuration "Default" ({default.id})' in sepa
    assert "turn SEPA Direct Debit on in Stripe Dashboard › Settings › Payments › Payment methods" in sepa
    [cards] = lines_about(result.stdout, "Stripe Checkout, Cards")
    assert cards.startswith("OK")
    # The HubSpot side is fine, so its deal properties are still set up.
    [properties] = lines_about(result.stdout, "HubSpot deal properties")
    assert "created" in properties


def test_a_missing_scope_is_named_and_another_api_version_is_reported(private_sandbox, airflow_for):
    sandbox = private_sandbox(
        hubspot_token_missing_scopes=("crm.objects.contacts.write", "files"), stripe_api_version="2024-06-20"
    )
    stripe_client(sandbox).v1.customers.create(params={"email": "premier@exemple.fr"})  # the account's first event

    result = run_setup(airflow_for(sandbox))

    assert result.returncode == 1
    [scopes] = lines_about(result.stdout, "HubSpot private app")
    assert scopes.startswith("ERROR")
    assert "lacks the scopes crm.objects.contacts.write, files" in scopes
    assert "HubSpot › Settings › Integrations › Private apps" in scopes
    [properties] = lines_about(result.stdout, "HubSpot deal properties")
    assert "not checked" in properties
    [version] = lines_about(result.stdout, "Stripe API version")
    assert version.startswith("WARNING")
    assert "the account's default is 2024-06-20" in version and PINNED in version


def test_stripe_down_is_a_warning_not_a_reason_to_fail(sandbox, sandbox_config, airflow_for):
    with sandbox.admin("stripe") as admin:
        admin.set_faults(error_rate=1)  # every Stripe call answers 5xx

    result = run_setup(airflow_for(sandbox))

    assert result.returncode == 0, result.stdout + result.stderr
    [version] = lines_about(result.stdout, "Stripe API version")
    assert version.startswith("WARNING") and "not checked: Stripe answered HTTP 5" in version
    assert "run `propale setup` again later" in version
    assert lines_about(result.stdout, "HubSpot deal properties")


def test_an_unknown_token_gets_hubspots_error_body(sandbox_config):
    response = httpx.post(
        f"{sandbox_config.hubspot_url}/oauth/v2/private-apps/get/access-token-info",
        json={"tokenKey": "pat-eu1-not-this-one"},
        headers={"Authorization": f"Bearer {sandbox_config.hubspot_token}"},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION" and body["correlationId"]
    known = httpx.post(
        f"{sandbox_config.hubspot_url}/oauth/v2/private-apps/get/access-token-info",
        json={"tokenKey": sandbox_config.hubspot_token},
        headers={"Authorization": f"Bearer {sandbox_config.hubspot_token}"},
    ).json()
    assert set(known) == {"userId", "hubId", "appId", "scopes"} and set(known["scopes"]) == set(HUBSPOT_SCOPES)


def test_payment_method_configurations_answer_as_stripes(sandbox):
    client = stripe_client(sandbox)
    listed = client.v1.payment_method_configurations.list(params={"active": True})
    [default] = [c for c in listed.data if c.is_default]
    assert isinstance(default, stripe.PaymentMethodConfiguration) and default.id.startswith("pmc_")
    assert default.card.available and default.sepa_debit.available
    assert default.ideal.display_preference.value == "off" and not default.ideal.available
    assert client.v1.payment_method_configurations.retrieve(default.id).name == "Default"
    # Turning on a method the account has no capability for leaves it unavailable, as on Stripe.
    turned_on = client.v1.payment_method_configurations.update(
        default.id, params={"ideal": {"display_preference": {"preference": "on"}}}
    )
    assert turned_on.ideal.display_preference.value == "on" and not turned_on.ideal.available
    client.v1.payment_method_configurations.update(
        default.id, params={"ideal": {"display_preference": {"preference": "off"}}}
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_method_configurations.update(
            default.id, params={"card": {"display_preference": {"preference": "maybe"}}}
        )
    assert raised.value.param == "card[display_preference][preference]"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_method_configurations.retrieve("pmc_unknown")
    assert missing.value.http_status == 404


def test_the_configuration_doc_lists_the_scopes_the_check_requires():
    text = CONFIGURATION_DOC.read_text(encoding="utf-8")
    section = text.split("### `hubspot_default`: a HubSpot private app", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, flags=re.MULTILINE)
    assert dict(rows) == HUBSPOT_SCOPES

"""The `customer-page` service of docker-compose.yaml gets what the public page needs and nothing else,
however compose would hand it more (`env_file`, `<<:` merges, `environment` lists); and its database
role, made by deploy/propale-page-role, reaches Propale's ledger only, for what the page does."""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import yaml

from propale.ledger import PROPOSAL_EMAIL, Ledger, NewDelivery, delivery_key, new_token
from support.factories import sample_snapshot
from support.postgres import POSTGRES_URL, postgres_unavailable

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"

# What only Airflow and the DAGs may hold, by variable name and by the .env variables it comes from.
FORBIDDEN_NAMES = {
    "AIRFLOW__API_AUTH__JWT_SECRET": "the Airflow JWT secret",
    "AIRFLOW__API__SECRET_KEY": "Airflow's API secret key",
    "AIRFLOW__CORE__FERNET_KEY": "the Fernet key",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "the metadata database URL",
    "AIRFLOW__CELERY__RESULT_BACKEND": "the metadata database URL",
    "AIRFLOW__CELERY__BROKER_URL": "Celery's broker",
    "AIRFLOW_CONN_HUBSPOT_DEFAULT": "HubSpot credentials",
    "AIRFLOW_CONN_SMTP_DEFAULT": "SMTP credentials",
    "AIRFLOW_CONN_SLACK_DEFAULT": "Slack credentials",
    "AIRFLOW_VAR_PROPALE_SECRET_KEY": "the DAGs' link key",
}
FORBIDDEN_SOURCES = {
    "AIRFLOW_JWT_SECRET": "the Airflow JWT secret",
    "AIRFLOW_API_SECRET_KEY": "Airflow's API secret key",
    "AIRFLOW_FERNET_KEY": "the Fernet key",
    "AIRFLOW_ADMIN_PASSWORD": "the Airflow admin password",
    "POSTGRES_PASSWORD": "the database owner's password (metadata and ledger)",
    "AIRFLOW_VAR_PROPALE_SECRET_KEY": "the DAGs' link key",
    "AIRFLOW_CONN_STRIPE_DEFAULT": "the DAGs' unrestricted Stripe key",
    "AIRFLOW_CONN_HUBSPOT_DEFAULT": "HubSpot credentials",
    "AIRFLOW_CONN_SMTP_DEFAULT": "SMTP credentials",
    "AIRFLOW_CONN_SLACK_DEFAULT": "Slack credentials",
}
# What the page needs; anything else that looks secret is a leak too.
NEEDED = {
    "AIRFLOW_VAR_PROPALE_PUBLIC_URL",
    "AIRFLOW_VAR_PROPALE_SELLER",
    "AIRFLOW_VAR_PROPALE_FORM_KEY",
    "AIRFLOW_VAR_PROPALE_DB_URL",
    "AIRFLOW_CONN_STRIPE_DEFAULT",
}
NOT_SECRET = {
    "AIRFLOW_VAR_PROPALE_PAYMENT_METHODS",
    "AIRFLOW_VAR_PROPALE_VALIDITY_DAYS",
    "AIRFLOW_VAR_PROPALE_PAYMENT_WINDOW_DAYS",
    "AIRFLOW_VAR_PROPALE_CURRENCY",
    "PROPALE_WEB_TRUSTED_PROXIES",
    "PROPALE_WEB_RATE_LIMIT",
    "PROPALE_WEB_CSRF_MAX_AGE",
}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # resolves `<<:` merges and anchors


def _environment(service: dict[str, Any], base: Path = REPO) -> dict[str, str]:
    """Every variable compose hands the service: its env files (as .env.example has them for .env),
    then its `environment`, a mapping or a list."""
    env: dict[str, str] = {}
    env_files = service.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, str | dict) else env_files:
        path = entry["path"] if isinstance(entry, dict) else entry
        source = base / (".env.example" if path == ".env" else path)
        for line in source.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                name, _, value = line.partition("=")
                env[name.strip()] = value
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    env.update({name: str(value) for name, value in environment.items()})
    return env


def leaks(service: dict[str, Any]) -> list[str]:
    """What the service gets that the customer page must not hold."""
    found = []
    for name, value in _environment(service).items():
        if name in FORBIDDEN_NAMES:
            found.append(f"{name}: {FORBIDDEN_NAMES[name]}")
        elif name not in NEEDED | NOT_SECRET:
            found.append(f"{name}: not something the page needs")
        for source in re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", value):
            if source in FORBIDDEN_SOURCES:
                found.append(f"{name} from ${{{source}}}: {FORBIDDEN_SOURCES[source]}")
    return found


def test_the_customer_page_gets_nothing_it_does_not_need():
    page = _compose()["services"]["customer-page"]
    assert leaks(page) == []
    assert set(_environment(page)) >= NEEDED
    assert "env_file" not in page, "the .env file holds every secret"


def test_its_stripe_key_and_ledger_role_are_its_own():
    env = _environment(_compose()["services"]["customer-page"])
    assert re.fullmatch(
        r'\{"conn_type": "http", "password": "\$\{PROPALE_PAGE_STRIPE_KEY:\?[^}]*\}"\}',
        env["AIRFLOW_CONN_STRIPE_DEFAULT"],
    )
    ledger = sqlalchemy.engine.make_url(re.sub(r"\$\{[^}]*\}", "secret", env["AIRFLOW_VAR_PROPALE_DB_URL"]))
    common = _environment(_compose()["x-airflow-common"])
    dags_ledger = sqlalchemy.engine.make_url(re.sub(r"\$\{[^}]*\}", "secret", common["AIRFLOW_VAR_PROPALE_DB_URL"]))
    assert ledger.username == "propale_page" != dags_ledger.username
    assert ledger.database == dags_ledger.database == "propale"
    assert "${PROPALE_PAGE_DB_PASSWORD" in env["AIRFLOW_VAR_PROPALE_DB_URL"]


def test_the_proxy_it_trusts_is_named_never_everyone():
    page = _compose()["services"]["customer-page"]
    trusted = _environment(page)["PROPALE_WEB_TRUSTED_PROXIES"]
    assert trusted and "*" not in trusted
    assert "--forwarded-allow-ips" not in page["command"] and "--no-proxy-headers" in page["command"]
    subnet = _compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert all(ipaddress.ip_address(proxy) in ipaddress.ip_network(subnet) for proxy in trusted.split(","))


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda page, doc: page.update(env_file=".env"), id="env_file"),
        pytest.param(lambda page, doc: page.update(env_file=[{"path": ".env", "required": True}]), id="env_file-long"),
        pytest.param(
            lambda page, doc: page["environment"].update(doc["x-airflow-common"]["environment"]), id="merge-anchor"
        ),
        pytest.param(
            lambda page, doc: page.update(
                environment=[f"{k}={v}" for k, v in page["environment"].items()] + ["SMTP=${AIRFLOW_CONN_SMTP_DEFAULT}"]
            ),
            id="environment-list",
        ),
        pytest.param(
            lambda page, doc: page["environment"].update(AIRFLOW_CONN_STRIPE_DEFAULT="${AIRFLOW_CONN_STRIPE_DEFAULT}"),
            id="the-dags-stripe-key",
        ),
        pytest.param(
            lambda page, doc: page["environment"].update(
                AIRFLOW_VAR_PROPALE_DB_URL="postgresql+psycopg2://airflow:${POSTGRES_PASSWORD}@postgres/propale"
            ),
            id="the-owner-role",
        ),
    ],
)
def test_a_leak_through_any_route_is_caught(mutate):
    doc = _compose()
    page = copy.deepcopy(doc["services"]["customer-page"])
    mutate(page, doc)
    assert leaks(page), "this test would let it through"


def test_a_merge_anchor_is_read_as_compose_reads_it():
    doc = yaml.safe_load(
        COMPOSE.read_text().replace("  customer-page:\n", "  customer-page:\n    <<: *airflow-common\n", 1)
    )
    # A YAML merge is shallow: the page's own `environment` wins, but the anchor's env_file comes along.
    assert any("the DAGs' link key" in leak for leak in leaks(doc["services"]["customer-page"]))


# --- the page's database role --------------------------------------------------------------------


@pytest.fixture
def ledger_database():
    """A throwaway database on the test PostgreSQL, at the ledger's latest revision."""
    if reason := postgres_unavailable():
        pytest.skip(reason)
    name = f"propale_page_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sqlalchemy.engine.make_url(POSTGRES_URL).set(database=name)
    Ledger(url.render_as_string(hide_password=False)).close()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


def test_the_page_role_reaches_what_the_page_does_and_nothing_else(ledger_database):
    owner = ledger_database.render_as_string(hide_password=False)
    password = new_token()
    env = {
        **os.environ,
        # The script's `python` is the image's, with Propale's dependencies: this one's here.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PROPALE_PAGE_DB_PASSWORD": password,
        "AIRFLOW_VAR_PROPALE_DB_URL": owner,
    }
    for _ in range(2):  # idempotent
        run = subprocess.run([str(REPO / "deploy" / "propale-page-role")], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    page_url = ledger_database.set(username="propale_page", password=password).render_as_string(hide_password=False)
    # A proposal the DAGs sent, as the page then sees it: accepted, a session opened, paid.
    token, now = new_token(), datetime.now(UTC)
    with Ledger(owner) as dags:
        issued = dags.issue_proposal("9001", request_key="r", source_fingerprint="f", issued_at=now, validity_days=30)
        snapshot = sample_snapshot(number=issued.number)
        email = delivery_key(PROPOSAL_EMAIL, issued.number, issued.version)
        dags.attach_document(
            issued.id, snapshot=snapshot, pdf=b"%PDF", token=token, deliveries=[NewDelivery(email, PROPOSAL_EMAIL, b"")]
        )
        dags.start_delivery(email)
        dags.complete_delivery(email)
    with Ledger(page_url) as page:
        assert page.find_by_token(new_token()) is None
        proposal = page.find_by_token(token)
        assert proposal is not None
        page.record_acceptance(proposal.id, method="card", accepted_at=now, ip=None, user_agent=None)
        page.record_checkout_session(
            proposal.id, method="card", stripe_session_id="cs_1", url="https://x", expires_at=now + timedelta(days=1)
        )
        assert page.record_payment("cs_1") == "cs_1"
        assert page.count_request("client", now=datetime.now(UTC), window=timedelta(seconds=60))[0] == 1
        assert len(page.installation_id()) == 16
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied"):
            page.pending_deliveries()  # the outbox: emails, HubSpot and Slack payloads
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied"):
            page.get_cursor("stripe-events")

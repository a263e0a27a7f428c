"""The customer page served as in production (`uvicorn propale.web:app` in a subprocess) in front of a
seeded sandbox and a Propale ledger; shared by the web, plugin, browser, security and production tests."""

from __future__ import annotations

import re
import smtplib
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import stripe
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput

from propale.crm import HubSpotGateway, make_client
from propale.ledger import Ledger
from propale.sending import collect, deliver, proposal_link, write_back
from propale.settings import Settings
from propale_dev.sandbox import airflow_env
from propale_dev.sandbox.process import SandboxProcess, free_port

LUMEN = "Atelier Lumen — 3 postes nomades"
BOULANGERIE = "Boulangerie Numérique — bureau privé 4 places"
KAIROS = "Studio Kairos — 4 demi-journées de salle"
ONDE = "Onde Verte — 2 bureaux fixes au trimestre"
PAPRIKA = "Collectif Paprika — bureau privé 2 places"
LUMEN_BIS = "Atelier Lumen — bureau fixe supplémentaire"
ONDE_SUMMER = "Onde Verte — 5 postes nomades pour l'été"
KAIROS_OFFICE = "Studio Kairos — bureau privé 2 places et mise en service"
SEMINAR = "Boulangerie Numérique — séminaire d'équipe"


class Site:
    """A seeded sandbox, a Propale ledger, and the customer page served by uvicorn in a subprocess."""

    def __init__(self, sandbox: SandboxProcess, airflow, tmp: Path, rate_limit: str = "1000/60", prefix: str = ""):
        self.sandbox = sandbox
        self.airflow = airflow
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = self.origin + prefix
        airflow.public_url = self.url
        self.log_path = tmp / "server.log"
        self.rate_limit = rate_limit
        variables = airflow_env.variables(sandbox.config, self.url, airflow.ledger_url)
        self.settings = Settings.load(variables.get)  # the DAGs'
        self.form_key = Settings.load_for_page(variables.get).csrf_key  # the page's, for its forms
        self.ledger = Ledger(airflow.ledger_url)
        config = sandbox.config
        self.hubspot = make_client(config.hubspot_token, host=config.hubspot_url)
        self.gateway = HubSpotGateway(self.hubspot, app_url=config.hubspot_url, portal_id="sandbox")
        self.stripe = stripe.StripeClient(api_key=config.stripe_secret_key, base_addresses={"api": config.stripe_url})
        self.deal_ids: dict[str, str] = {}
        after = None
        while True:
            page = self.hubspot.crm.deals.basic_api.get_page(limit=100, after=after, properties=["dealname"])
            self.deal_ids.update({d.properties["dealname"]: d.id for d in page.results})
            if not page.paging:
                break
            after = page.paging.next.after
        self.process: subprocess.Popen[bytes] | None = None

    # --- the web app ---------------------------------------------------------------------------

    def start(self, argv: list[str] | None = None, timeout: float = 30) -> Site:
        """Serve the app with `argv` (default: uvicorn, as in production) and wait until it answers."""
        argv = argv or [
            sys.executable, "-m", "uvicorn", "propale.web:app", "--host", "127.0.0.1", "--port", str(self.port),
            "--no-proxy-headers",
        ]  # fmt: skip
        env = {
            **self.airflow.env,
            "PROPALE_WEB_RATE_LIMIT": self.rate_limit,
            # As behind the production proxy: X-Forwarded-For is believed from this address only.
            "PROPALE_WEB_TRUSTED_PROXIES": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                httpx.get(f"{self.url}/p/x", timeout=1)
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.ledger.close()

    def client(self, ip: str = "203.0.113.10") -> httpx.Client:
        """A browser-like client from `ip` (the page believes X-Forwarded-For from loopback, as from its proxy)."""
        return httpx.Client(
            headers={"X-Forwarded-For": ip, "User-Agent": f"Mozilla/5.0 (test {ip})"},
            timeout=30,
            follow_redirects=False,
        )

    # --- proposals -------------------------------------------------------------------------------

    def flag(self, *names: str) -> None:
        self.hubspot.crm.deals.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[{"id": self.deal_ids[n], "properties": {"propale_status": "to_propose"}} for n in names]
            )
        )

    def send_with_dag(self, *names: str) -> None:
        subprocess.run(self.airflow.argv("propale", "setup"), env=self.airflow.env, check=True, capture_output=True)
        self.flag(*names)
        self.airflow.dags_test("propale_send_proposals")

    def send_in_process(self, *names: str, now: datetime) -> None:
        """The DAG's steps, run here with a chosen clock (to issue proposals that are already expired)."""
        self.gateway.ensure_deal_properties()
        self.flag(*names)
        config = self.sandbox.config

        def send(message) -> None:
            with smtplib.SMTP(config.host, config.smtp_port) as smtp:
                smtp.send_message(message)

        ids = [self.deal_ids[n] for n in names]
        outcomes = collect(self.gateway, self.ledger, self.settings, now, ids)
        outcomes = [deliver(self.ledger, self.settings, o, send, airflow_env.DEMO_SELLER["email"]) for o in outcomes]
        write_back(self.gateway, self.ledger, self.settings, outcomes, now)

    def proposal(self, name: str):
        proposal = self.ledger.current_proposal(self.deal_ids[name])
        assert proposal is not None and proposal.has_document, name
        return proposal

    def token(self, proposal) -> str:
        return self.link_of(proposal).rsplit("/", 1)[1]

    def link_of(self, proposal) -> str:
        return proposal_link(self.ledger, self.settings, proposal)

    def link(self, name: str) -> str:
        return self.link_of(self.proposal(name))

    def page(self, link: str, client: httpx.Client) -> tuple[str, dict[str, str]]:
        """The page's HTML and the fields of its accept form for each method."""
        response = client.get(link)
        assert response.status_code == 200, response.text
        forms = {}
        for form in re.findall(r"<form method=\"post\".*?</form>", response.text, re.S):
            method = re.search(r'name="method" value="([^"]+)"', form).group(1)
            forms[method] = {
                "action": re.search(r'action="([^"]+)"', form).group(1),
                "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form).group(1),
            }
        return response.text, forms

    def click(self, link: str, method: str, client: httpx.Client, **extra: str) -> httpx.Response:
        _, forms = self.page(link, client)
        form = forms[method]
        return client.post(
            form["action"],
            data={"csrf_token": form["csrf_token"], "method": method, **extra},
            headers={"Origin": self.origin},
        )

    def session_id(self, response: httpx.Response) -> str:
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith(f"{self.sandbox.config.stripe_url}/c/pay/cs_test_"), location
        return location.rsplit("/", 1)[1]

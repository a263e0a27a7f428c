"""Airflow connections and variables that point Propale at a running sandbox.

They are ordinary `AIRFLOW_CONN_*` / `AIRFLOW_VAR_*` environment variables, exactly what a
production deployment sets with real hosts and keys: switching is a change of configuration only.
"""

from __future__ import annotations

import json
from pathlib import Path

from propale_dev.sandbox.config import SandboxConfig

# The fictional company that sells in the demo (the customers are in the HubSpot seed).
DEMO_SELLER = {
    "name": "La Fabrique Commune SAS",
    "address": "18 rue des Tanneurs\n69001 Lyon\nFrance",
    "siren": "912345675",
    "vat_number": "FR65912345675",
    "email": "bonjour@lafabrique-commune.example",
    "phone": "+33 4 78 00 00 00",
    "logo_url": "",
    # Invoices print the 40 € recovery indemnity themselves (propale.invoice_mentions).
    "legal_mentions": "SAS au capital de 20 000 €, RCS Lyon 912 345 675.",
    "late_payment_penalties": "trois fois le taux d’intérêt légal",
    "vat_exemption_mention": "Autoliquidation",
}


def connections(config: SandboxConfig) -> dict[str, dict[str, object]]:
    return {
        "hubspot_default": {
            "conn_type": "http",
            "host": config.hubspot_url,
            "password": config.hubspot_token,
            "extra": {"app_url": config.hubspot_url, "portal_id": "sandbox"},
        },
        "stripe_default": {"conn_type": "http", "host": config.stripe_url, "password": config.stripe_secret_key},
        "smtp_default": {
            "conn_type": "smtp",
            "host": config.host,
            "port": config.smtp_port,
            "extra": {
                "from_email": DEMO_SELLER["email"],
                "disable_ssl": True,
                "disable_tls": True,
                "timeout": 10,
            },
        },
        "slack_default": {
            "conn_type": "slackwebhook",
            "host": f"{config.slack_url}/services",
            "password": "T00000000/B00000000/sandbox",
        },
    }


def variables(config: SandboxConfig, public_url: str, db_url: str) -> dict[str, str]:
    # No propale_secret_key: with a loopback public URL Propale uses its sandbox-only key.
    return {
        "propale_public_url": public_url,
        "propale_db_url": db_url,
        "propale_seller": json.dumps(DEMO_SELLER, ensure_ascii=False),
    }


# The checkout this dev package is installed from (editable): its DAGs and plugin are the ones run.
REPOSITORY = Path(__file__).resolve().parents[3]


def environment(config: SandboxConfig, *, airflow_home: Path, public_url: str, db_url: str) -> dict[str, str]:
    """Environment variables for `airflow` commands (and Propale's own) against the sandbox."""
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPOSITORY / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPOSITORY / "plugins"),
    }
    for conn_id, conn in connections(config).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    for name, value in variables(config, public_url, db_url).items():
        env[f"AIRFLOW_VAR_{name.upper()}"] = value
    return env

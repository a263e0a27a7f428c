"""Mounts Propale's customer page on Airflow's API server, under `/propale`.

Plugin routes are public on the API server (no Airflow login): the app carries its own protection
(see `propale.web`). Set `propale_public_url` to `https://<airflow host>/propale`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from propale.web import app

URL_PREFIX = "/propale"


class PropalePlugin(AirflowPlugin):
    name = "propale"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "Propale customer page"}
    ]

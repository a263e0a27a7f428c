"""Propale's customer page: `propale.web:app` (ASGI).

Served alone (`uvicorn propale.web:app`, behind the proxy of `propale_public_url`) or mounted under
`/propale` on Airflow's API server by `plugins/propale_plugin.py`. Importing it reads no setting.
"""

# Airflow configures the process's logging when first imported; importing it now rather than on
# the first request lets `logs.install()` act on the final configuration.
import airflow  # noqa: F401

from propale.web import logs
from propale.web.app import create_app

logs.install()
app = create_app()

__all__ = ["app", "create_app"]

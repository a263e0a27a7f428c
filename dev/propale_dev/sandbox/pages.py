"""Jinja2 environment for the sandbox's own pages (mailbox, Slack, hosted Stripe pages)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("propale_dev.sandbox", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
    )


def render_page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(environment().get_template(template).render(**context), status_code=status_code)

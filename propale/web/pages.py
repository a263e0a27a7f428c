"""Rendering the customer pages, and the URLs they link to.

Every URL is built from `propale_public_url`, never from the request: the app may run behind a
proxy, alone at `/` or mounted under `/propale` in Airflow, and the public address is the one the
customer's email links to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from propale.rendering import environment
from propale.settings import Settings
from propale.web.security import NONCE_KEY


@dataclass(frozen=True)
class Links:
    page: str
    pdf: str
    accept: str
    success: str  # Stripe replaces {CHECKOUT_SESSION_ID}
    cancel: str

    @classmethod
    def of(cls, settings: Settings, token: str) -> Links:
        page = settings.proposal_url(token)
        return cls(
            page=page,
            pdf=f"{page}/pdf",
            accept=f"{page}/accept",
            success=f"{page}/merci?session_id={{CHECKOUT_SESSION_ID}}",
            cancel=f"{page}/annule",
        )


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nonce = request.scope.get("state", {}).get(NONCE_KEY, "")
    defaults: dict[str, Any] = {"seller": None, "proposal": None, "links": None}
    html = environment().get_template(template).render({**defaults, **context, "csp_nonce": nonce})
    return HTMLResponse(html, status_code=status_code)


# Which notice page answers which situation, and with what status code.
NOTICE_STATUS = {
    "not_found": 404,
    "expired": 410,
    "replaced": 410,
    "paid": 200,
    "unavailable": 409,
    "in_progress": 409,  # another request on the same proposal holds its checkout
    "forbidden": 403,
    "too_many": 429,
    "bad_request": 400,
    "confirming": 503,  # back from Checkout while Stripe cannot say whether the session was paid
    "error": 503,
}


def notice(request: Request, kind: str, **context: Any) -> HTMLResponse:
    return render(request, "customer_notice.html", NOTICE_STATUS[kind], kind=kind, **context)

"""The customer page's routes: the proposal, its PDF, accepting it, and the way back from Stripe."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import stripe
from fastapi import APIRouter, Form, Request
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from propale.ledger import Proposal
from propale.proposals import ProposalSnapshot
from propale.web.acceptance import Redirect, State, accept, offered_methods, paid_method, paid_session, state_of
from propale.web.pages import Links, notice, render
from propale.web.services import Services, origin

log = logging.getLogger(__name__)
router = APIRouter()


def _services(request: Request) -> Services:
    services: Services = request.app.state.services.get()
    return services


def _proposal(services: Services, token: str) -> tuple[Proposal, ProposalSnapshot]:
    """The proposal of a link and its snapshot; any link that does not lead to one is the same 404."""
    proposal = services.ledger.find_by_token(token)
    if proposal is None or proposal.snapshot is None:
        raise HTTPException(404)
    return proposal, proposal.snapshot


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/healthz")
def health() -> Response:
    """For the container's health check and the proxy: the process answers. It reads no setting and
    touches neither the ledger nor Stripe, so a slow dependency never gets a healthy page restarted."""
    return PlainTextResponse("ok")


@router.get("/p/{token}")
def proposal_page(request: Request, token: str) -> Response:
    return _proposal_page(request, token, message=None)


@router.get("/p/{token}/annule")
def payment_cancelled(request: Request, token: str) -> Response:
    """Stripe's `cancel_url`: the customer left Checkout without paying."""
    return _proposal_page(request, token, message="cancelled")


def _proposal_page(request: Request, token: str, message: str | None) -> Response:
    services = _services(request)
    proposal, snapshot = _proposal(services, token)
    state = state_of(services, proposal, _now())
    links = Links.of(services.settings, token)
    if state not in (State.OPEN, State.ACCEPTED):
        return _refusal(request, services, proposal, snapshot, state, links)
    acceptance = services.ledger.acceptance(proposal.id) if state == State.ACCEPTED else None
    return render(
        request,
        "customer_proposal.html",
        proposal=snapshot,
        seller=snapshot.seller,
        links=links,
        csrf_token=services.csrf.issue(token),
        methods=offered_methods(services.settings, snapshot),
        accepted_at=acceptance.accepted_at if acceptance else None,
        message=message,
    )


def _refusal(
    request: Request, services: Services, proposal: Proposal, snapshot: ProposalSnapshot, state: State, links: Links
) -> Response:
    # Paid, or expired after an acceptance (its payment window closed): the page says when it was accepted.
    acceptance = services.ledger.acceptance(proposal.id) if state in (State.PAID, State.EXPIRED) else None
    context = {
        "proposal": snapshot,
        "seller": snapshot.seller,
        "links": links,
        "accepted_at": acceptance.accepted_at if acceptance else None,
    }
    return notice(request, str(state), **context)


@router.get("/p/{token}/pdf")
def proposal_pdf(request: Request, token: str) -> Response:
    services = _services(request)
    proposal, snapshot = _proposal(services, token)
    state = state_of(services, proposal, _now())
    if state in (State.REPLACED, State.EXPIRED):
        # The same notice as the page: a document that can no longer be accepted is not handed out.
        return _refusal(request, services, proposal, snapshot, state, Links.of(services.settings, token))
    pdf = services.ledger.proposal_pdf(proposal.id)
    if pdf is None:
        raise HTTPException(404)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{proposal.number}.pdf"'},
    )


@router.post("/p/{token}/accept")
def accept_proposal(request: Request, token: str, method: str = Form(""), csrf_token: str = Form("")) -> Response:
    """A click on a payment method: accept, then go and pay. Only `method` is read from the form:
    every amount comes from the proposal's snapshot."""
    services = _services(request)
    proposal, snapshot = _proposal(services, token)
    links = Links.of(services.settings, token)
    sent_from = request.headers.get("origin")
    if sent_from not in (None, "null", origin(services.settings.public_url)) or not services.csrf.is_valid(
        token, csrf_token
    ):
        log.warning("Refused an acceptance of %s: missing, expired or forged CSRF token", proposal.number)
        return notice(request, "forbidden", proposal=snapshot, seller=snapshot.seller, links=links)
    if method not in offered_methods(services.settings, snapshot):
        return notice(request, "bad_request", proposal=snapshot, seller=snapshot.seller, links=links)
    client = request.client.host if request.client else None
    try:
        outcome = accept(
            services,
            proposal,
            method,
            success_url=links.success,
            cancel_url=links.cancel,
            ip=client,
            user_agent=request.headers.get("user-agent"),
        )
    except stripe.StripeError as error:
        log.error("Stripe refused the checkout of %s: %s (%s)", proposal.number, type(error).__name__, error.code)
        return notice(request, "error", proposal=snapshot, seller=snapshot.seller, links=links)
    if isinstance(outcome, Redirect):
        return RedirectResponse(outcome.url, status_code=303)
    return _refusal(request, services, proposal, snapshot, outcome.state, links)


@router.get("/p/{token}/merci")
def payment_done(request: Request, token: str, session_id: str = "") -> Response:
    """Stripe's `success_url`. The session id comes from the browser, so it is checked with Stripe."""
    services = _services(request)
    proposal, snapshot = _proposal(services, token)
    links = Links.of(services.settings, token)
    state = state_of(services, proposal, _now())
    method = None
    if state in (State.ACCEPTED, State.PAID) and session_id:
        try:
            method = paid_session(services, proposal, session_id)
        except stripe.StripeError as error:
            log.warning("Could not check the Checkout Session of %s: %s", proposal.number, type(error).__name__)
            if state == State.ACCEPTED:
                # One of this proposal's sessions, probably paid: never show the buttons to pay again.
                return notice(request, "confirming", proposal=snapshot, seller=snapshot.seller, links=links)
    if method is None and state == State.PAID:
        method = paid_method(services, proposal)
    if method is None:
        # Not paid (yet): the proposal page says what can be done.
        return RedirectResponse(links.page, status_code=303)
    return render(
        request, "customer_thanks.html", proposal=snapshot, seller=snapshot.seller, links=links, method=method
    )

"""The customer page's protections, unit by unit (the HTTP tests in test_web.py show them end to end)."""

from __future__ import annotations

import logging
from datetime import UTC

import pytest

from propale.web.logs import MaskProposalLinks, mask, mask_event
from propale.web.security import CsrfTokens, RateLimit, RateLimiter, content_security_policy

TOKEN = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_is_a_sliding_window_per_client():
    clock = Clock()
    limiter = RateLimiter(RateLimit(3, 60), clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") is None, "per client"
    clock.now += 30
    assert limiter.retry_after("a") == 30
    clock.now += 30.5
    assert limiter.retry_after("a") is None, "the oldest request left the window"


def test_the_rate_limiter_forgets_the_oldest_clients_first():
    limiter = RateLimiter(RateLimit(1, 60), max_clients=2, clock=Clock())
    for client in ("a", "b", "c"):
        assert limiter.retry_after(client) is None
    assert limiter.retry_after("a") is None, "a was forgotten to make room"
    assert limiter.retry_after("c") is not None


@pytest.mark.parametrize("text", ["10", "ten/60", "0/60", "5/0", "5/-1"])
def test_a_malformed_rate_limit_says_how_to_write_it(text):
    with pytest.raises(ValueError, match=r"REQUESTS/SECONDS|at least one request"):
        RateLimit.parse(text)


def test_csrf_tokens_are_bound_to_their_link_and_expire():
    tokens = CsrfTokens("k" * 40, max_age_s=3600)
    issued = tokens.issue(TOKEN)
    assert tokens.is_valid(TOKEN, issued)
    assert not tokens.is_valid(TOKEN[:-1] + "A", issued), "bound to the link"
    assert not tokens.is_valid(TOKEN, CsrfTokens("x" * 40, 3600).issue(TOKEN)), "signed with the secret key"
    assert not tokens.is_valid(TOKEN, None) and not tokens.is_valid(TOKEN, "")
    assert TOKEN not in issued, "the link is not readable in the form"
    assert not CsrfTokens("k" * 40, max_age_s=-1).is_valid(TOKEN, issued), "short-lived"


def test_the_policy_allows_no_script_and_only_the_nonced_styles():
    policy = content_security_policy("abc", ("https://checkout.stripe.com",))
    assert "default-src 'none'" in policy
    assert "style-src 'nonce-abc'" in policy
    assert "form-action 'self' https://checkout.stripe.com" in policy
    assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy


def test_links_are_masked_in_log_lines_and_events():
    assert mask(f"GET /propale/p/{TOKEN}/accept?x=1") == "GET /propale/p/***/accept?x=1"
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/p/{TOKEN}", "1.1", 200), None)  # fmt: skip
    MaskProposalLinks().filter(record)
    assert TOKEN not in record.getMessage()
    event = mask_event(None, "info", {"event": "request finished", "path": f"/propale/p/{TOKEN}/pdf"})
    assert event["path"] == "/propale/p/***/pdf"


def test_names_from_hubspot_are_escaped_on_every_customer_page():
    from datetime import datetime

    from propale.rendering import environment
    from support.factories import HOSTILE, hostile_deal, sample_snapshot

    snapshot = sample_snapshot(hostile_deal())
    links = {"page": "P", "pdf": "F", "accept": "A"}
    common = {"proposal": snapshot, "seller": snapshot.seller, "links": links, "csp_nonce": "n"}
    pages = [
        ("customer_proposal.html", {"csrf_token": "c", "methods": ["card"], "accepted_at": None, "message": None}),
        ("customer_thanks.html", {"method": "card"}),
        *[
            ("customer_notice.html", {"kind": kind, "accepted_at": datetime.now(UTC)})
            for kind in ("expired", "replaced", "paid")
        ],
    ]
    for template, context in pages:
        html = environment().get_template(template).render({**common, **context})
        assert HOSTILE not in html and "<img src=x" not in html, template

"""The customer page's own protection: it is public, even when mounted inside Airflow's API server.

- Security headers on every response, with a per-response CSP nonce for the page's inline styles
  (the pages have no script at all).
- CSRF tokens: signed with `propale_secret_key`, bound to the proposal link they were issued for,
  short-lived. There is no session cookie to steal; what they stop is another site making a
  customer's browser accept a proposal in their name.
- A sliding-window rate limit on POSTs per client address, in memory (per process).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_SALT = "propale-accept-csrf"
NONCE_KEY = "csp_nonce"
# Stripe's hosted Checkout: the accept form's redirect lands there, and browsers apply the
# form's `form-action` to that redirect too.
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"


def _link_id(token: str) -> str:
    """What a CSRF token is bound to: a hash of the proposal link, so the link never appears in it."""
    return hashlib.sha256(f"csrf:{token}".encode()).hexdigest()[:32]


class CsrfTokens:
    def __init__(self, secret_key: str, max_age_s: int):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=CSRF_SALT)
        self.max_age_s = max_age_s

    def issue(self, token: str) -> str:
        return self._serializer.dumps({"link": _link_id(token), "n": secrets.token_urlsafe(8)})

    def is_valid(self, token: str, value: str | None) -> bool:
        if not value or len(value) > 512:
            return False
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except BadSignature:  # also covers SignatureExpired
            return False
        return isinstance(data, dict) and secrets.compare_digest(str(data.get("link", "")), _link_id(token))


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` per `window_s` seconds from one client address."""

    requests: int = 10
    window_s: float = 60.0

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """ "10/60" means 10 requests per 60 seconds."""
        try:
            requests, window = text.split("/")
            limit = cls(int(requests), float(window))
        except ValueError:
            raise ValueError(f"a rate limit is written REQUESTS/SECONDS, e.g. 10/60, got {text!r}") from None
        if limit.requests < 1 or limit.window_s <= 0:
            raise ValueError(f"a rate limit needs at least one request over a positive window, got {text!r}")
        return limit


class RateLimiter:
    """Sliding-window counter per client; forgets the least recently seen clients beyond `max_clients`,
    so that a flood of spoofed addresses costs bounded memory."""

    def __init__(self, limit: RateLimit, max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self._max_clients = max_clients
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Record one request; None when allowed, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            hits = self._hits.pop(client, None) or deque()
            while hits and hits[0] <= now - self.limit.window_s:
                hits.popleft()
            self._hits[client] = hits
            while len(self._hits) > self._max_clients:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit.requests:
                return max(1, int(hits[0] + self.limit.window_s - now + 0.999))
            hits.append(now)
            return None


def content_security_policy(nonce: str, form_targets: tuple[str, ...]) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src 'nonce-{nonce}'",
            "img-src 'self' https: data:",
            f"form-action 'self' {' '.join(form_targets)}".rstrip(),
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every response of the app (pages, PDF, redirects, errors).

    `form_targets` gives the origins the accept forms may end up on (Stripe Checkout), and
    `https_only` whether the public URL is https (then HSTS); both are read once the app's
    settings are loaded, so this middleware needs nothing at import time.
    """

    def __init__(
        self,
        app: ASGIApp,
        form_targets: Callable[[], tuple[str, ...]],
        https_only: Callable[[], bool],
    ):
        self.app = app
        self.form_targets = form_targets
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE_KEY] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                headers += [
                    (b"content-security-policy", content_security_policy(nonce, self.form_targets()).encode()),
                    (b"x-frame-options", b"DENY"),
                    # Proposal links are capabilities: never leak them to another site.
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
                    # Pages hold personal data and one-time tokens: no shared or back-button cache.
                    (b"cache-control", b"no-store"),
                ]
                if scope.get("scheme") == "https" or self.https_only():
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = {
    b"content-security-policy",
    b"x-frame-options",
    b"referrer-policy",
    b"x-content-type-options",
    b"cross-origin-opener-policy",
    b"cross-origin-resource-policy",
    b"permissions-policy",
    b"cache-control",
    b"strict-transport-security",
}

"""The customer page's own protection: it is public, even when mounted inside Airflow's API server.

- Security headers on every response, with a per-response CSP nonce for the page's inline styles
  (the pages have no script at all).
- CSRF tokens: signed with `propale_form_key` (never the DAGs' link key), bound to the proposal
  link they were issued for, short-lived. There is no session cookie to steal; what they stop is
  another site making a customer's browser accept a proposal in their name.
- The client's address: `X-Forwarded-For` is believed only from the proxies the page is told to
  trust (`TrustedProxies`), so that nobody else can choose the address rate-limited and recorded
  with an acceptance.
- A rate limit on POSTs per client address: in memory first (a sliding window per process, which
  turns a flood away without touching the database), then in the ledger or in Redis, shared by
  every process that serves the page (`SharedRateLimiter`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from propale.ledger import Ledger

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


# Counts one request of a client (its hashed key) in its current window: the requests counted in the
# window, this one included, and the seconds until the window is over.
RequestCounter = Callable[[str, datetime, timedelta], tuple[int, float]]


def ledger_counter(ledger: Callable[[], Ledger]) -> RequestCounter:
    """Windows kept in the ledger's database (table `propale_rate_limits`): nothing more to run."""

    def count(key: str, now: datetime, window: timedelta) -> tuple[int, float]:
        requests, started = ledger().count_request(key, now=now, window=window)
        return requests, (started + window - now).total_seconds()

    return count


def redis_counter(url: str) -> RequestCounter:
    """Windows kept in Redis, when `PROPALE_WEB_RATE_LIMIT_REDIS_URL` names one: the database is
    then not written on every POST. A window is a key that expires with it (SET NX EX), counted
    with INCR: atomic, whatever process counts (https://redis.io/docs/latest/commands/incr/,
    "Pattern: Rate limiter 2")."""
    import redis  # only when configured

    client = redis.Redis.from_url(url)

    def count(key: str, now: datetime, window: timedelta) -> tuple[int, float]:
        name = f"propale:rate-limit:{key}"
        pipeline = client.pipeline()
        pipeline.set(name, 0, ex=max(1, math.ceil(window.total_seconds())), nx=True)
        pipeline.incr(name)
        pipeline.pttl(name)
        _, requests, ttl_ms = pipeline.execute()
        return int(requests), max(0, int(ttl_ms)) / 1000

    return count


class SharedRateLimiter:
    """The same limit counted where every process that serves the page sees it (the API server's
    plugin and the `customer-page` service, several workers of each): a window per client that
    starts with its first request. Addresses are counted hashed."""

    def __init__(self, limit: RateLimit, count: RequestCounter, clock: Callable[[], datetime] | None = None):
        self.limit = limit
        self._count = count
        self._clock = clock or (lambda: datetime.now(UTC))

    def retry_after(self, client: str) -> int | None:
        """Record one request; None when allowed, else the seconds to wait."""
        key = hashlib.sha256(f"rate-limit:{client}".encode()).hexdigest()
        requests, left_s = self._count(key, self._clock(), timedelta(seconds=self.limit.window_s))
        if requests <= self.limit.requests:
            return None
        return max(1, math.ceil(left_s))


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose `X-Forwarded-For` the page believes: addresses or networks, never everyone.

    A request from anywhere else keeps its own address whatever its headers say: the page is public,
    and a header is only as true as whoever set it.
    """

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """ "127.0.0.1, 172.28.0.1" or "10.0.0.0/8": comma-separated addresses or networks; "" for none."""
        networks = []
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted proxies are addresses or networks separated by commas, e.g. 127.0.0.1, 10.0.0.0/8, "
                    f"got {item!r} (trusting every address would let any client choose its own)"
                ) from None
        if any(network.prefixlen == 0 for network in networks):
            raise ValueError(f"trusting every address would let any client choose its own, got {text!r}")
        return cls(tuple(networks))

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_of(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer's, unless the peer is a trusted proxy. Then the last address
        of `X-Forwarded-For` that is not a trusted proxy: what the proxies added, read from the right,
        stops at the first address they did not vouch for, whatever the client wrote before it."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


class ProxyHeadersMiddleware:
    """Puts the client's address, as `TrustedProxies` reads it, in the request's scope: the rate
    limit counts it and an acceptance records it."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies):
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client"):
            peer = scope["client"][0]
            forwarded = [value.decode("latin-1") for key, value in scope["headers"] if key == b"x-forwarded-for"]
            client = self.trusted.client_of(peer, ",".join(forwarded) or None)
            if client != peer:
                scope = {**scope, "client": (client, 0)}
        await self.app(scope, receive, send)


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

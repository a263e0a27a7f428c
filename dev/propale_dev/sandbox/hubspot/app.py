"""The HubSpot stand-in's ASGI app: routes, the private-app token check and HubSpot's error bodies."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.hubspot import errors, limits
from propale_dev.sandbox.hubspot.errors import HubSpotError
from propale_dev.sandbox.hubspot.routes_access_tokens import AccessTokenRoutes
from propale_dev.sandbox.hubspot.routes_associations import AssociationRoutes
from propale_dev.sandbox.hubspot.routes_files import HOSTING_PREFIX, FileRoutes
from propale_dev.sandbox.hubspot.routes_objects import ObjectRoutes
from propale_dev.sandbox.hubspot.routes_owners import OwnerRoutes
from propale_dev.sandbox.hubspot.routes_properties import PropertyRoutes
from propale_dev.sandbox.hubspot.routes_search import SearchRoutes
from propale_dev.sandbox.hubspot.state import HubSpotAccount
from propale_dev.sandbox.service import COMMON_FAULTS, Faults, SandboxService
from propale_dev.sandbox.store import Store

# The rate limits are off by default, so that scripts and tests driving the sandbox with bare
# clients are not throttled; `--fault hubspot.rate_limit=190` and `hubspot.search_rate_limit=5`
# (limits.TEN_SECOND_REQUESTS, limits.SEARCH_REQUESTS_PER_SECOND) emulate the account's own.
HUBSPOT_FAULTS: dict[str, float] = {
    **COMMON_FAULTS,
    "rate_window_s": float(limits.TEN_SECOND_WINDOW_S.value),
    "search_lag_s": 0.0,  # seconds before a write is visible to search
    "search_rate_limit": 0,  # search requests allowed per second; 0 = unlimited
    "batch_error_rate": 0.0,  # fraction of batch inputs that fail (207 with `errors`)
    "refused_write_id": 0,  # a record id whose batch writes fail (207 with `errors`); 0 = none
}


class RequireToken:
    """Every API path needs `Authorization: Bearer <token>`; hosted files do not."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(HOSTING_PREFIX):
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization", b"").strip() != self.expected:
                await errors.unauthorized()(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _hubspot_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubSpotError)
    return exc.response()


def build_app(account: HubSpotAccount, config: SandboxConfig) -> Starlette:
    routes = [
        *SearchRoutes(account).routes(),
        *ObjectRoutes(account).routes(),
        *AssociationRoutes(account).routes(),
        *PropertyRoutes(account).routes(),
        *OwnerRoutes(account).routes(),
        *FileRoutes(account).routes(),
        *AccessTokenRoutes(config).routes(),
    ]
    return Starlette(routes=routes, exception_handlers={HubSpotError: _hubspot_error})


def create_service(store: Store, config: SandboxConfig) -> SandboxService:
    faults = Faults(HUBSPOT_FAULTS)
    account = HubSpotAccount(store, faults, config.hubspot_url)
    app = RequireToken(build_app(account, config), config.hubspot_token)
    return SandboxService(
        "hubspot",
        app,
        faults=faults,
        rate_limited=lambda request, retry_after: errors.rate_limited(
            request, retry_after, faults["rate_limit"], faults["rate_window_s"]
        ),
        server_error=errors.server_error,
        is_api=lambda path: not path.startswith(HOSTING_PREFIX),
    )

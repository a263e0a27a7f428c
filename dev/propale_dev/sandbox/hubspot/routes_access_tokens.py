"""`POST /oauth/v2/private-apps/get/access-token-info`: what a private app's access token may do.

HubSpot documents it at the end of its private apps guide
(https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview): the body is
`{"tokenKey": "<the private app's access token>"}` and the answer names the account, the app, the
user who created it and the token's scopes: `{"userId", "hubId", "appId", "scopes"}`. The official
`hubspot-api-client` 12.0.0 has no method for it (its `oauth.access_tokens_api` is
`GET /oauth/v1/access-tokens/{token}`, which is for OAuth tokens and refuses a `pat-…` one).

The sandbox's private app holds the scopes docs/configuration.md asks an admin to tick, less any named
in `SandboxConfig.hubspot_token_missing_scopes`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.hubspot.errors import HubSpotError, validation_error
from propale_dev.sandbox.hubspot.params import json_body

PATH = "/oauth/v2/private-apps/get/access-token-info"
# What an admin following docs/configuration.md grants the private app (its scope table).
PRIVATE_APP_SCOPES = (
    "crm.objects.companies.read",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.line_items.read",
    "crm.objects.owners.read",
    "crm.objects.products.read",
    "crm.schemas.deals.write",
    "files",
)
# The sandbox's account (hub), private app and the super admin who created it.
HUB_ID = 146_000_001
APP_ID = 3_100_001
CREATOR_USER_ID = 5_000_001


class AccessTokenRoutes:
    def __init__(self, config: SandboxConfig):
        self.token = config.hubspot_token
        self.scopes = [scope for scope in PRIVATE_APP_SCOPES if scope not in config.hubspot_token_missing_scopes]

    def routes(self) -> list[Route]:
        return [Route(PATH, self.info, methods=["POST"])]

    async def info(self, request: Request) -> Response:
        # No model in hubspot-api-client 12.0.0 for this call (see above): left unchecked.
        body = await json_body(request, None)
        token_key = body.get("tokenKey") if isinstance(body, dict) else None
        if not isinstance(token_key, str) or not token_key.strip():
            raise validation_error("tokenKey is required: the private app's access token")
        if token_key.strip() != self.token:
            # HubSpot does not document this answer; the sandbox gives its authentication error.
            raise HubSpotError(401, "The access token is not valid for any private app.", "INVALID_AUTHENTICATION")
        return JSONResponse({"userId": CREATOR_USER_ID, "hubId": HUB_ID, "appId": APP_ID, "scopes": self.scopes})

"""`POST /crm/v3/objects/{type}/search`, behind HubSpot's per-account search rate limit."""

from __future__ import annotations

from hubspot.crm.objects.models import PublicObjectSearchRequest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.hubspot.errors import search_rate_limited
from propale_dev.sandbox.hubspot.object_types import OBJECT_TYPES, ObjectType
from propale_dev.sandbox.hubspot.params import json_body
from propale_dev.sandbox.hubspot.routes_objects import typed
from propale_dev.sandbox.hubspot.search import search
from propale_dev.sandbox.hubspot.state import HubSpotAccount


class SearchRoutes:
    def __init__(self, account: HubSpotAccount):
        self.a = account

    def routes(self) -> list[Route]:
        return [
            Route(
                f"/crm/v3/objects/{object_type.name if object_type else '{object_type}'}/search",
                typed(self.search, object_type),
                methods=["POST"],
            )
            for object_type in [*OBJECT_TYPES, None]
        ]

    async def search(self, request: Request, object_type: ObjectType) -> Response:
        # Off by default (see app.HUBSPOT_FAULTS); HubSpot's own is limits.SEARCH_REQUESTS_PER_SECOND.
        retry_after = self.a.search_limiter.retry_after("search", self.a.faults["search_rate_limit"], 1.0)
        if retry_after is not None:
            return search_rate_limited(retry_after)
        body = await json_body(request, PublicObjectSearchRequest)
        return JSONResponse(search(object_type, body, self.a.records, self.a.catalog))

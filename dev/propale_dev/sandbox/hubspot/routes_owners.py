"""`/crm/v3/owners` (with and without the trailing slash) and `/settings/v3/users`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.hubspot.params import json_body, query_bool, query_int
from propale_dev.sandbox.hubspot.state import HubSpotAccount

OWNERS_PAGE_MAX = 500


class OwnerRoutes:
    def __init__(self, account: HubSpotAccount):
        self.owners = account.owners

    def routes(self) -> list[Route]:
        return [
            Route("/crm/v3/owners", self.page, methods=["GET"]),
            Route("/crm/v3/owners/", self.page, methods=["GET"]),
            Route("/crm/v3/owners/{owner_id}", self.get, methods=["GET"]),
            Route("/settings/v3/users", self.provision_user, methods=["POST"]),
            Route("/settings/v3/users/", self.provision_user, methods=["POST"]),
            Route("/settings/v3/users/{user_id}", self.get_user, methods=["GET"]),
            Route("/settings/v3/users/{user_id}", self.remove_user, methods=["DELETE"]),
        ]

    async def page(self, request: Request) -> Response:
        return JSONResponse(
            self.owners.page(
                email=request.query_params.get("email"),
                archived=query_bool(request, "archived"),
                after=request.query_params.get("after"),
                limit=query_int(request, "limit", 100, OWNERS_PAGE_MAX),
            )
        )

    async def get(self, request: Request) -> Response:
        return JSONResponse(
            self.owners.get(
                request.path_params["owner_id"],
                id_property=request.query_params.get("idProperty", "id"),
                archived=query_bool(request, "archived"),
            )
        )

    async def provision_user(self, request: Request) -> Response:
        # Left unchecked: hubspot-api-client 12.0.0's `UserProvisionRequest` lacks `firstName` and
        # `lastName`, which the API documents and accepts (the owner's name comes from them):
        # https://developers.hubspot.com/docs/api-reference/settings-user-provisioning-v3/guide
        return JSONResponse(self.owners.provision_user(await json_body(request, None)), status_code=201)

    async def get_user(self, request: Request) -> Response:
        return JSONResponse(self.owners.user(request.path_params["user_id"]))

    async def remove_user(self, request: Request) -> Response:
        self.owners.remove_user(request.path_params["user_id"])
        return Response(status_code=204)

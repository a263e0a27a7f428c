"""`/crm/v3/properties/{type}`: property definitions and property groups."""

from __future__ import annotations

import contextlib

from hubspot.crm.properties.models import (
    BatchInputPropertyCreate,
    BatchInputPropertyName,
    BatchReadInputPropertyName,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyGroupUpdate,
    PropertyUpdate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.hubspot.errors import HubSpotError, batch_error
from propale_dev.sandbox.hubspot.object_types import resolve_type
from propale_dev.sandbox.hubspot.params import batch_inputs, json_body, query_bool
from propale_dev.sandbox.hubspot.shapes import batch_json
from propale_dev.sandbox.hubspot.state import HubSpotAccount
from propale_dev.sandbox.hubspot.values import now_iso


def _type_name(request: Request) -> str:
    return resolve_type(request.path_params["object_type"]).name


class PropertyRoutes:
    def __init__(self, account: HubSpotAccount):
        self.catalog = account.catalog

    def routes(self) -> list[Route]:
        base = "/crm/v3/properties/{object_type}"
        return [
            Route(f"{base}/groups", self.list_groups, methods=["GET"]),
            Route(f"{base}/groups", self.create_group, methods=["POST"]),
            Route(base + "/groups/{group_name}", self.get_group, methods=["GET"]),
            Route(base + "/groups/{group_name}", self.update_group, methods=["PATCH"]),
            Route(base + "/groups/{group_name}", self.archive_group, methods=["DELETE"]),
            Route(f"{base}/batch/read", self.batch_read, methods=["POST"]),
            Route(f"{base}/batch/create", self.batch_create, methods=["POST"]),
            Route(f"{base}/batch/archive", self.batch_archive, methods=["POST"]),
            Route(base, self.list, methods=["GET"]),
            Route(base, self.create, methods=["POST"]),
            Route(base + "/{property_name}", self.get, methods=["GET"]),
            Route(base + "/{property_name}", self.update, methods=["PATCH"]),
            Route(base + "/{property_name}", self.archive, methods=["DELETE"]),
        ]

    async def list(self, request: Request) -> Response:
        found = self.catalog.list(_type_name(request), archived=query_bool(request, "archived"))
        return JSONResponse({"results": found})

    async def create(self, request: Request) -> Response:
        definition = self.catalog.create(_type_name(request), await json_body(request, PropertyCreate))
        return JSONResponse(definition, status_code=201)

    async def get(self, request: Request) -> Response:
        object_type, name = _type_name(request), request.path_params["property_name"]
        definition = self.catalog.get(object_type, name, archived=query_bool(request, "archived"))
        if definition is None:
            raise self.catalog.missing_error(object_type, name)
        return JSONResponse(definition)

    async def update(self, request: Request) -> Response:
        changes = await json_body(request, PropertyUpdate)
        return JSONResponse(self.catalog.update(_type_name(request), request.path_params["property_name"], changes))

    async def archive(self, request: Request) -> Response:
        self.catalog.archive(_type_name(request), request.path_params["property_name"])
        return Response(status_code=204)

    async def batch_read(self, request: Request) -> Response:
        started = now_iso()
        object_type = _type_name(request)
        body, inputs = await batch_inputs(request, BatchReadInputPropertyName)
        archived = bool(body.get("archived", False))
        results, missing = [], []
        for item in inputs:
            name = str((item or {}).get("name", ""))
            definition = self.catalog.get(object_type, name, archived=archived)
            if definition is None:
                missing.append(name)
            else:
                results.append(definition)
        errors = (
            [batch_error("OBJECT_NOT_FOUND", f"Unable to find properties {', '.join(missing)}.", {"names": missing})]
            if missing
            else []
        )
        return JSONResponse(batch_json(results, errors, started), status_code=207 if errors else 200)

    async def batch_create(self, request: Request) -> Response:
        started = now_iso()
        object_type = _type_name(request)
        _, inputs = await batch_inputs(request, BatchInputPropertyCreate)
        results, errors = [], []
        for item in inputs:
            try:
                results.append(self.catalog.create(object_type, item or {}))
            except HubSpotError as exc:
                errors.append(
                    batch_error(exc.category, exc.message, exc.context or {"name": [str((item or {}).get("name"))]})
                )
        return JSONResponse(batch_json(results, errors, started), status_code=207 if errors else 201)

    async def batch_archive(self, request: Request) -> Response:
        object_type = _type_name(request)
        _, inputs = await batch_inputs(request, BatchInputPropertyName)
        for item in inputs:
            # HubSpot answers 204 for the whole batch, names it does not know included.
            with contextlib.suppress(HubSpotError):
                self.catalog.archive(object_type, str((item or {}).get("name", "")))
        return Response(status_code=204)

    async def list_groups(self, request: Request) -> Response:
        return JSONResponse({"results": self.catalog.groups(_type_name(request))})

    async def create_group(self, request: Request) -> Response:
        group = self.catalog.create_group(_type_name(request), await json_body(request, PropertyGroupCreate))
        return JSONResponse(group, status_code=201)

    async def get_group(self, request: Request) -> Response:
        return JSONResponse(self.catalog.group(_type_name(request), request.path_params["group_name"]))

    async def update_group(self, request: Request) -> Response:
        changes = await json_body(request, PropertyGroupUpdate)
        return JSONResponse(self.catalog.update_group(_type_name(request), request.path_params["group_name"], changes))

    async def archive_group(self, request: Request) -> Response:
        self.catalog.archive_group(_type_name(request), request.path_params["group_name"])
        return Response(status_code=204)

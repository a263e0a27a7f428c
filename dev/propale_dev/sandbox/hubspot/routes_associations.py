"""Associations v4: `/crm/v4/associations/{from}/{to}/batch/...` and `/crm/v4/objects/.../associations`."""

from __future__ import annotations

from typing import Any

from hubspot.crm.associations.v4.models import (
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.hubspot.associations import (
    HUBSPOT_DEFINED,
    AssociationType,
    association_type,
    default_type,
    v4_spec,
)
from propale_dev.sandbox.hubspot.errors import HubSpotError, batch_error, validation_error
from propale_dev.sandbox.hubspot.limits import ASSOCIATIONS_BATCH_READ_INPUTS
from propale_dev.sandbox.hubspot.object_types import ObjectType, resolve_type
from propale_dev.sandbox.hubspot.params import batch_inputs, json_body, query_int
from propale_dev.sandbox.hubspot.shapes import batch_json
from propale_dev.sandbox.hubspot.state import HubSpotAccount
from propale_dev.sandbox.hubspot.values import now_iso

PAGE_MAX = 500


def _id_of(value: Any, where: str) -> str:
    if not isinstance(value, dict) or value.get("id") in (None, ""):
        raise validation_error(f"Invalid input JSON: {where} needs an id")
    return str(value["id"])


def _number(object_id: str) -> int | str:
    # HubSpot's v4 answers carry ids as JSON numbers.
    return int(object_id) if object_id.isdigit() else object_id


def _labels_between(
    from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str, kinds: list[AssociationType]
) -> dict[str, Any]:
    return {
        "fromObjectTypeId": from_type.type_id,
        "fromObjectId": _number(from_id),
        "toObjectTypeId": to_type.type_id,
        "toObjectId": _number(to_id),
        "labels": [k.label for k in kinds if k.label],
    }


def _default_result(from_id: str, to_id: str, kind: AssociationType) -> dict[str, Any]:
    return {
        "from": {"id": from_id},
        "to": {"id": to_id},
        "associationSpec": {"associationCategory": HUBSPOT_DEFINED, "associationTypeId": kind.type_id},
    }


class AssociationRoutes:
    def __init__(self, account: HubSpotAccount):
        self.a = account

    def routes(self) -> list[Route]:
        batch = "/crm/v4/associations/{from_type}/{to_type}/batch"
        single = "/crm/v4/objects/{from_type}/{from_id}/associations"
        return [
            Route(f"{batch}/read", self.batch_read, methods=["POST"]),
            Route(f"{batch}/create", self.batch_create, methods=["POST"]),
            Route(f"{batch}/associate/default", self.batch_create_default, methods=["POST"]),
            Route(f"{batch}/archive", self.batch_archive, methods=["POST"]),
            Route(f"{batch}/labels/archive", self.batch_archive_labels, methods=["POST"]),
            Route(single + "/default/{to_type}/{to_id}", self.create_default, methods=["PUT"]),
            Route(single + "/{to_type}/{to_id}", self.create, methods=["PUT"]),
            Route(single + "/{to_type}/{to_id}", self.archive, methods=["DELETE"]),
            Route(single + "/{to_type}", self.page, methods=["GET"]),
        ]

    @staticmethod
    def _types(request: Request) -> tuple[ObjectType, ObjectType]:
        return resolve_type(request.path_params["from_type"]), resolve_type(request.path_params["to_type"])

    def _kinds(self, from_type: ObjectType, to_type: ObjectType, specs: Any) -> list[AssociationType]:
        if not isinstance(specs, list) or not specs:
            raise validation_error("Invalid input JSON: give at least one association type")
        return [
            association_type(from_type, to_type, s.get("associationCategory"), s.get("associationTypeId"))
            for s in specs
            if isinstance(s, dict)
        ]

    # ---- batches -----------------------------------------------------------------------------

    async def batch_read(self, request: Request) -> Response:
        started = now_iso()
        from_type, to_type = self._types(request)
        _, inputs = await batch_inputs(
            request, BatchInputPublicFetchAssociationsBatchRequest, ASSOCIATIONS_BATCH_READ_INPUTS
        )
        results, errors = [], []
        for item in inputs:
            from_id = _id_of(item, "each input")
            targets = self.a.associations.targets(from_type, from_id, to_type)
            if not targets:
                errors.append(
                    batch_error(
                        "OBJECT_NOT_FOUND",
                        f"No {to_type.singular} is associated with {from_type.singular} {from_id}.",
                        {"fromObjectId": [from_id]},
                        subCategory="crm.associations.NO_ASSOCIATIONS_FOUND",
                    )
                )
                continue
            results.append(
                {
                    "from": {"id": from_id},
                    "to": [
                        {"toObjectId": _number(to_id), "associationTypes": [v4_spec(k) for k in kinds]}
                        for to_id, kinds in targets
                    ],
                }
            )
        return JSONResponse(batch_json(results, errors, started), status_code=207 if errors else 200)

    async def batch_create(self, request: Request) -> Response:
        started = now_iso()
        from_type, to_type = self._types(request)
        _, inputs = await batch_inputs(request, BatchInputPublicAssociationMultiPost)
        planned = [
            (_id_of(i.get("from"), "from"), _id_of(i.get("to"), "to"), self._kinds(from_type, to_type, i.get("types")))
            for i in inputs
        ]
        results, errors = [], []
        for from_id, to_id, kinds in planned:
            try:
                done = self.a.associations.associate(from_type, from_id, to_type, to_id, kinds)
            except HubSpotError as exc:
                errors.append(batch_error(exc.category, exc.message, exc.context or {}, subCategory=exc.sub_category))
                continue
            results.append(_labels_between(from_type, from_id, to_type, to_id, done))
        return JSONResponse(batch_json(results, errors, started), status_code=207 if errors else 201)

    async def batch_create_default(self, request: Request) -> Response:
        started = now_iso()
        from_type, to_type = self._types(request)
        _, inputs = await batch_inputs(request, BatchInputPublicDefaultAssociationMultiPost)
        kind = default_type(from_type, to_type)
        results, errors = [], []
        for item in inputs:
            from_id, to_id = _id_of(item.get("from"), "from"), _id_of(item.get("to"), "to")
            try:
                self.a.associations.associate(from_type, from_id, to_type, to_id, [kind])
            except HubSpotError as exc:
                errors.append(batch_error(exc.category, exc.message, exc.context or {}, subCategory=exc.sub_category))
                continue
            results.append(_default_result(from_id, to_id, kind))
        return JSONResponse(batch_json(results, errors, started), status_code=200)

    async def batch_archive(self, request: Request) -> Response:
        from_type, to_type = self._types(request)
        _, inputs = await batch_inputs(request, BatchInputPublicAssociationMultiArchive)
        for item in inputs:
            from_id = _id_of(item.get("from"), "from")
            for target in item.get("to") or []:
                self.a.associations.remove(from_type, from_id, to_type, _id_of(target, "to"))
        return Response(status_code=204)

    async def batch_archive_labels(self, request: Request) -> Response:
        from_type, to_type = self._types(request)
        _, inputs = await batch_inputs(request, BatchInputPublicAssociationMultiPost)
        for item in inputs:
            kinds = self._kinds(from_type, to_type, item.get("types"))
            self.a.associations.remove(
                from_type,
                _id_of(item.get("from"), "from"),
                to_type,
                _id_of(item.get("to"), "to"),
                {k.type_id for k in kinds},
            )
        return Response(status_code=204)

    # ---- one record --------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        from_type, to_type = self._types(request)
        from_id, to_id = request.path_params["from_id"], request.path_params["to_id"]
        kinds = self._kinds(from_type, to_type, await json_body(request, list[AssociationSpec]))
        done = self.a.associations.associate(from_type, from_id, to_type, to_id, kinds)
        return JSONResponse(_labels_between(from_type, from_id, to_type, to_id, done), status_code=201)

    async def create_default(self, request: Request) -> Response:
        started = now_iso()
        from_type, to_type = self._types(request)
        from_id, to_id = request.path_params["from_id"], request.path_params["to_id"]
        kind = default_type(from_type, to_type)
        self.a.associations.associate(from_type, from_id, to_type, to_id, [kind])
        reverse = default_type(to_type, from_type)
        results = [_default_result(from_id, to_id, kind), _default_result(to_id, from_id, reverse)]
        return JSONResponse(batch_json(results, [], started))

    async def archive(self, request: Request) -> Response:
        from_type, to_type = self._types(request)
        self.a.associations.remove(from_type, request.path_params["from_id"], to_type, request.path_params["to_id"])
        return Response(status_code=204)

    async def page(self, request: Request) -> Response:
        from_type, to_type = self._types(request)
        targets = self.a.associations.targets(from_type, request.path_params["from_id"], to_type)
        limit = query_int(request, "limit", PAGE_MAX, PAGE_MAX)
        after = request.query_params.get("after")
        start = int(after) if after and after.isdigit() else 0
        body: dict[str, Any] = {
            "results": [
                {"toObjectId": _number(to_id), "associationTypes": [v4_spec(k) for k in kinds]}
                for to_id, kinds in targets[start : start + limit]
            ]
        }
        if start + limit < len(targets):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return JSONResponse(body)

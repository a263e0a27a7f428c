"""`/crm/v3/objects/{type}`: get, list, create, update, archive, and their batch forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hubspot.crm.objects.models import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.hubspot.associations import association_type_by_id, v3_associations
from propale_dev.sandbox.hubspot.errors import batch_error, not_found, validation_error
from propale_dev.sandbox.hubspot.limits import HISTORY_BATCH_READ_INPUTS
from propale_dev.sandbox.hubspot.object_types import OBJECT_TYPES, ObjectType, find_type, resolve_type
from propale_dev.sandbox.hubspot.params import batch_inputs, input_id, json_body, query_bool, query_int, query_list
from propale_dev.sandbox.hubspot.shapes import batch_json, object_json
from propale_dev.sandbox.hubspot.state import HubSpotAccount
from propale_dev.sandbox.hubspot.values import now_iso

LIST_MAX = 100
Handler = Callable[[Request, ObjectType], Awaitable[Response]]


def typed(handler: Handler, object_type: ObjectType | None) -> Callable[[Request], Awaitable[Response]]:
    """Bind a handler to one object type, or to the type named in the path (`0-3`, `deal`…)."""

    async def endpoint(request: Request) -> Response:
        return await handler(request, object_type or resolve_type(request.path_params["object_type"]))

    return endpoint


def _not_found(object_type: ObjectType, object_id: str) -> Exception:
    return not_found("Object not found.  objectId are usually numeric.", context={"id": [object_id]})


class ObjectRoutes:
    def __init__(self, account: HubSpotAccount):
        self.a = account

    def routes(self) -> list[Route]:
        routes = []
        for object_type in [*OBJECT_TYPES, None]:
            base = f"/crm/v3/objects/{object_type.name if object_type else '{object_type}'}"
            routes += [
                Route(base, typed(self.list, object_type), methods=["GET"]),
                Route(base, typed(self.create, object_type), methods=["POST"]),
                Route(f"{base}/batch/read", typed(self.batch_read, object_type), methods=["POST"]),
                Route(f"{base}/batch/create", typed(self.batch_create, object_type), methods=["POST"]),
                Route(f"{base}/batch/update", typed(self.batch_update, object_type), methods=["POST"]),
                Route(f"{base}/batch/archive", typed(self.batch_archive, object_type), methods=["POST"]),
                Route(base + "/{object_id}", typed(self.get, object_type), methods=["GET"]),
                Route(base + "/{object_id}", typed(self.update, object_type), methods=["PATCH"]),
                Route(base + "/{object_id}", typed(self.archive, object_type), methods=["DELETE"]),
            ]
        return routes

    # ---- single objects ----------------------------------------------------------------------

    def _lookup(self, object_type: ObjectType, object_id: str, id_property: str | None, archived: bool = False):
        if id_property and id_property != "hs_object_id":
            return self.a.records.find_by(object_type, id_property, object_id, archived=archived)
        return self.a.records.get(object_type, object_id, archived=archived)

    async def get(self, request: Request, object_type: ObjectType) -> Response:
        object_id = request.path_params["object_id"]
        archived = query_bool(request, "archived")
        record = self._lookup(object_type, object_id, request.query_params.get("idProperty"), archived)
        if record is None:
            raise _not_found(object_type, object_id)
        body = object_json(
            object_type,
            record,
            self.a.catalog,
            requested=query_list(request, "properties"),
            with_history=query_list(request, "propertiesWithHistory"),
        )
        associations = self._v3_associations(object_type, record["id"], query_list(request, "associations"))
        if associations:
            body["associations"] = associations
        return JSONResponse(body)

    async def list(self, request: Request, object_type: ObjectType) -> Response:
        limit = query_int(request, "limit", 10, LIST_MAX)
        after = request.query_params.get("after")
        start = int(after) if after and after.isdigit() else 0
        records = [
            r
            for r in self.a.records.all(object_type, archived=query_bool(request, "archived"))
            if int(r["id"]) >= start
        ]
        page = records[:limit]
        requested = query_list(request, "properties")
        history = query_list(request, "propertiesWithHistory")
        wanted_associations = query_list(request, "associations")
        results = []
        for record in page:
            body = object_json(object_type, record, self.a.catalog, requested=requested, with_history=history)
            associations = self._v3_associations(object_type, record["id"], wanted_associations)
            if associations:
                body["associations"] = associations
            results.append(body)
        response: dict[str, Any] = {"results": results}
        if len(records) > limit:
            next_id = records[limit]["id"]
            response["paging"] = {"next": {"after": next_id, "link": f"{request.url.path}?after={next_id}"}}
        return JSONResponse(response)

    async def create(self, request: Request, object_type: ObjectType) -> Response:
        body = await json_body(request, SimplePublicObjectInputForCreate)
        record = self._create_one(object_type, body)
        return JSONResponse(object_json(object_type, record, self.a.catalog, everything=True), status_code=201)

    async def update(self, request: Request, object_type: ObjectType) -> Response:
        body = await json_body(request, SimplePublicObjectInput)
        object_id = request.path_params["object_id"]
        values = self.a.catalog.clean_values(object_type.name, _properties_of(body))
        found = self._lookup(object_type, object_id, request.query_params.get("idProperty"))
        record = self.a.records.update(object_type, found["id"], values) if found else None
        if record is None:
            raise _not_found(object_type, object_id)
        return JSONResponse(object_json(object_type, record, self.a.catalog, everything=True))

    async def archive(self, request: Request, object_type: ObjectType) -> Response:
        self._archive_one(object_type, request.path_params["object_id"])
        return Response(status_code=204)

    # ---- batches -----------------------------------------------------------------------------

    async def batch_read(self, request: Request, object_type: ObjectType) -> Response:
        started = now_iso()
        body, inputs = await batch_inputs(request, BatchReadInputSimplePublicObjectId)
        if body.get("propertiesWithHistory") and len(inputs) > HISTORY_BATCH_READ_INPUTS.value:
            # HubSpot's words and category (see limits.HISTORY_BATCH_READ_INPUTS).
            raise validation_error(
                "The maximum number of inputs supported in a batch request for property histories is "
                f"{HISTORY_BATCH_READ_INPUTS.value}. Please reduce the number of items and try again.",
                context={"inputs": [str(len(inputs))]},
            )
        id_property = body.get("idProperty")
        archived = bool(body.get("archived", False))
        results, missing, failed = [], [], []
        seen: set[str] = set()
        for item in inputs:
            object_id = input_id(item)
            if object_id in seen:
                continue
            seen.add(object_id)
            if self.a.batch_input_fails():
                failed.append(object_id)
                continue
            record = self._lookup(object_type, object_id, id_property, archived)
            if record is None:
                missing.append(object_id)
                continue
            results.append(
                object_json(
                    object_type,
                    record,
                    self.a.catalog,
                    requested=body.get("properties") or None,
                    with_history=body.get("propertiesWithHistory") or None,
                )
            )
        errors = []
        if missing:
            errors.append(
                batch_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {object_type.error_label} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    {"ids": missing},
                )
            )
        if failed:
            errors.append(_injected_failure(object_type, "read", {"ids": failed}))
        return JSONResponse(batch_json(results, errors, started), status_code=207 if errors else 200)

    async def batch_create(self, request: Request, object_type: ObjectType) -> Response:
        started = now_iso()
        _, inputs = await batch_inputs(request, BatchInputSimplePublicObjectBatchInputForCreate)
        # HubSpot validates the whole batch first: one bad property fails every input with a 400.
        prepared = [
            (
                item,
                self.a.catalog.clean_values(object_type.name, _properties_of(item)),
                self._association_plan(object_type, item),
            )
            for item in inputs
        ]
        results, errors = [], []
        for item, values, plan in prepared:
            if self.a.batch_input_fails() or any(self.a.refuses_writes(to_id) for _, to_id, _ in plan):
                trace = item.get("objectWriteTraceId")
                errors.append(
                    _injected_failure(object_type, "create", {"objectWriteTraceId": [str(trace)]} if trace else {})
                )
                continue
            record = self.a.records.create(object_type, values)
            self._apply_associations(object_type, record["id"], plan)
            results.append(object_json(object_type, record, self.a.catalog, everything=True))
        return JSONResponse(batch_json(results, errors, started), status_code=207 if errors else 201)

    async def batch_update(self, request: Request, object_type: ObjectType) -> Response:
        started = now_iso()
        _, inputs = await batch_inputs(request, BatchInputSimplePublicObjectBatchInput)
        prepared = [
            (item, input_id(item), self.a.catalog.clean_values(object_type.name, _properties_of(item)))
            for item in inputs
        ]
        results, missing, failed = [], [], []
        for item, object_id, values in prepared:
            if self.a.batch_input_fails() or self.a.refuses_writes(object_id):
                failed.append(object_id)
                continue
            found = self._lookup(object_type, object_id, item.get("idProperty"))
            record = self.a.records.update(object_type, found["id"], values) if found else None
            if record is None:
                missing.append(object_id)
                continue
            results.append(object_json(object_type, record, self.a.catalog, everything=True))
        errors = []
        if missing:
            errors.append(
                batch_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not update some {object_type.error_label} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    {"ids": missing},
                )
            )
        if failed:
            errors.append(_injected_failure(object_type, "update", {"ids": failed}))
        return JSONResponse(batch_json(results, errors, started), status_code=207 if errors else 200)

    async def batch_archive(self, request: Request, object_type: ObjectType) -> Response:
        _, inputs = await batch_inputs(request, BatchInputSimplePublicObjectId)
        for item in inputs:
            self._archive_one(object_type, input_id(item))
        return Response(status_code=204)

    # ---- helpers -----------------------------------------------------------------------------

    def _create_one(self, object_type: ObjectType, body: Any) -> dict[str, Any]:
        values = self.a.catalog.clean_values(object_type.name, _properties_of(body))
        plan = self._association_plan(object_type, body)
        record = self.a.records.create(object_type, values)
        self._apply_associations(object_type, record["id"], plan)
        return record

    def _association_plan(self, object_type: ObjectType, body: Any) -> list[tuple[ObjectType, str, list[Any]]]:
        """Check `associations` of a create before anything is written (HubSpot refuses the lot)."""
        plan = []
        for association in (body or {}).get("associations") or []:
            try:
                to_id = str(association["to"]["id"])
                specs = association["types"]
            except (KeyError, TypeError):
                raise validation_error("Invalid input JSON: each association needs to.id and types") from None
            kinds = [
                association_type_by_id(object_type, s.get("associationCategory"), s.get("associationTypeId"))
                for s in specs
            ]
            to_type = find_type(kinds[0].to_type) if kinds else None
            if to_type is None:
                raise validation_error("Each association needs at least one type.")
            if not self.a.records.exists(to_type, to_id):
                raise validation_error(
                    f"{to_type.singular} {to_id} does not exist; it can't be associated.",
                    sub_category="crm.associations.OBJECT_NOT_FOUND",
                    context={"toObjectId": [to_id]},
                )
            plan.append((to_type, to_id, kinds))
        return plan

    def _apply_associations(
        self, object_type: ObjectType, object_id: str, plan: list[tuple[ObjectType, str, list[Any]]]
    ) -> None:
        for to_type, to_id, kinds in plan:
            self.a.associations.associate(object_type, object_id, to_type, to_id, kinds)

    def _archive_one(self, object_type: ObjectType, object_id: str) -> None:
        if self.a.records.archive(object_type, object_id):
            self.a.associations.drop_record(object_type, object_id, resolve_type)

    def _v3_associations(self, object_type: ObjectType, object_id: str, wanted: list[str] | None) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in wanted or []:
            to_type = find_type(name)
            if to_type is None:
                continue
            results = v3_associations(self.a.associations.targets(object_type, object_id, to_type))
            if results:
                found[to_type.association_key] = {"results": results}
        return found


def _properties_of(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object with properties")
    properties = body.get("properties")
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise validation_error("Invalid input JSON: properties must be an object")
    return properties


def _injected_failure(object_type: ObjectType, action: str, context: dict[str, list[str]]) -> dict[str, Any]:
    """The `batch_error_rate` and `refused_write_id` faults: a transient per-input failure, as HubSpot
    reports it in a 207 (`context.ids` for updates, `context.objectWriteTraceId` for creates:
    https://developers.hubspot.com/docs/api-reference/error-handling, "Multi-status errors")."""
    return batch_error(
        "INTERNAL_ERROR",
        f"Could not {action} some {object_type.error_label} objects because of a temporary error. Try again.",
        context,
        subCategory="sandbox.INJECTED_BATCH_ERROR",
    )

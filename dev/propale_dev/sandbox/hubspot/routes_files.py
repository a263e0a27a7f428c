"""`/files/v3/files` (multipart upload, metadata, signed URL) and `/hubfs/...`, where files' `url`s
point and which serves their bytes without a token, like HubSpot's file hosting."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.hubspot.errors import validation_error
from propale_dev.sandbox.hubspot.state import HubSpotAccount

HOSTING_PREFIX = "/hubfs/"


class FileRoutes:
    def __init__(self, account: HubSpotAccount):
        self.files = account.files

    def routes(self) -> list[Route]:
        return [
            Route("/files/v3/files", self.upload, methods=["POST"]),
            Route("/files/v3/files/{file_id}", self.get, methods=["GET"]),
            Route("/files/v3/files/{file_id}", self.archive, methods=["DELETE"]),
            Route("/files/v3/files/{file_id}/signed-url", self.signed_url, methods=["GET"]),
            Route(HOSTING_PREFIX + "{file_id}/{file_name:path}", self.download, methods=["GET"]),
        ]

    async def upload(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise validation_error("Upload a file as multipart/form-data")
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise validation_error("The multipart field `file` is required", context={"file": ["missing"]})
            content = await upload.read()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            created = self.files.upload(content, upload.filename or "", fields)
        return JSONResponse(created, status_code=201)

    async def get(self, request: Request) -> Response:
        return JSONResponse(self.files.get(request.path_params["file_id"]))

    async def archive(self, request: Request) -> Response:
        self.files.archive(request.path_params["file_id"])
        return Response(status_code=204)

    async def signed_url(self, request: Request) -> Response:
        return JSONResponse(self.files.signed_url(request.path_params["file_id"]))

    async def download(self, request: Request) -> Response:
        content, mime_type, name = self.files.content(request.path_params["file_id"])
        return Response(
            content,
            media_type=mime_type,
            headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"},
        )

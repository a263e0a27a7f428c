"""File Manager uploads (`/files/v3/files`): metadata and bytes, kept in the Store."""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import posixpath
from typing import Any

from propale_dev.sandbox.hubspot.errors import not_found, validation_error
from propale_dev.sandbox.hubspot.values import now_iso
from propale_dev.sandbox.store import Store

FILE_KIND = "hubspot.files"
FOLDER_KIND = "hubspot.folders"
FIRST_FILE_ID = 190_000_000_001
FIRST_FOLDER_ID = 180_000_000_001
ACCESS_LEVELS = {
    "PUBLIC_INDEXABLE", "PUBLIC_NOT_INDEXABLE", "HIDDEN_INDEXABLE", "HIDDEN_NOT_INDEXABLE",
    "HIDDEN_PRIVATE", "PRIVATE", "HIDDEN_SENSITIVE", "SENSITIVE",
}  # fmt: skip


def _type_of(extension: str) -> str:
    mime = mimetypes.types_map.get("." + extension, "")
    if mime.startswith("image/"):
        return "IMG"
    if mime.startswith("video/"):
        return "MOVIE"
    if mime.startswith("audio/"):
        return "AUDIO"
    if extension in {"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "csv", "odt"}:
        return "DOCUMENT"
    return "OTHER"


class FileStore:
    def __init__(self, store: Store, base_url: str):
        self._store = store
        self._base_url = base_url.rstrip("/")

    def upload(self, content: bytes, filename: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            options = json.loads(form.get("options") or "{}")
        except json.JSONDecodeError:
            raise validation_error("options must be a JSON object") from None
        access = options.get("access")
        if access not in ACCESS_LEVELS:
            raise validation_error(
                f"options.access is required and must be one of {', '.join(sorted(ACCESS_LEVELS))}",
                context={"access": [str(access)]},
            )
        if not form.get("folderPath") and not form.get("folderId"):
            raise validation_error("Either folderPath or folderId is required")
        name_with_extension = form.get("fileName") or filename or "file"
        base, dot, extension = name_with_extension.rpartition(".")
        name = base if dot else name_with_extension
        extension = extension.lower() if dot else ""
        folder_id, folder_path = self._folder(form.get("folderId"), form.get("folderPath"))
        with self._store.transaction():
            file_id = str(self._store.next_value("hubspot.file_id", start=FIRST_FILE_ID))
            stamp = now_iso()
            path = posixpath.join(folder_path, name_with_extension)
            record = {
                "id": file_id,
                "name": name,
                "extension": extension,
                "type": _type_of(extension),
                "size": len(content),
                "access": access,
                "path": path,
                "parentFolderId": folder_id,
                "url": f"{self._base_url}/hubfs/{file_id}/{name_with_extension}",
                "defaultHostingUrl": f"{self._base_url}/hubfs/{file_id}/{name_with_extension}",
                "fileMd5": hashlib.md5(content).hexdigest(),
                "encoding": extension,
                "isUsableInContent": access.startswith("PUBLIC"),
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
                "_content": base64.b64encode(content).decode("ascii"),
                "_mimeType": mimetypes.guess_type(name_with_extension)[0] or "application/octet-stream",
            }
            self._store.put(FILE_KIND, file_id, record)
        return public_file(record)

    def get(self, file_id: str) -> dict[str, Any]:
        return public_file(self._record(file_id))

    def content(self, file_id: str) -> tuple[bytes, str, str]:
        """The bytes, MIME type and file name behind a file's url."""
        record = self._record(file_id)
        name = f"{record['name']}.{record['extension']}" if record["extension"] else record["name"]
        return base64.b64decode(record["_content"]), record["_mimeType"], name

    def signed_url(self, file_id: str) -> dict[str, Any]:
        record = self._record(file_id)
        return {
            "url": record["url"],
            "name": record["name"],
            "extension": record["extension"],
            "type": record["type"],
            "size": record["size"],
            "expiresAt": now_iso(),
        }

    def archive(self, file_id: str) -> None:
        with self._store.transaction():
            record = self._record(file_id)
            record["archived"] = True
            record["archivedAt"] = now_iso()
            self._store.put(FILE_KIND, file_id, record)

    def _record(self, file_id: str) -> dict[str, Any]:
        record = self._store.get(FILE_KIND, file_id)
        if record is None or record["archived"]:
            raise not_found(f"File {file_id} does not exist")
        return record

    def _folder(self, folder_id: str | None, folder_path: str | None) -> tuple[str, str]:
        """Folders named by path are created on first use, as HubSpot does on upload."""
        if folder_id:
            folder = self._store.get(FOLDER_KIND, folder_id)
            if folder is None:
                raise validation_error(f"Folder {folder_id} does not exist")
            return folder_id, folder["path"]
        path = "/" + (folder_path or "").strip("/")
        with self._store.transaction():
            for folder in self._store.all(FOLDER_KIND):
                if folder["path"] == path:
                    return folder["id"], path
            new_id = str(self._store.next_value("hubspot.folder_id", start=FIRST_FOLDER_ID))
            stamp = now_iso()
            self._store.put(
                FOLDER_KIND,
                new_id,
                {
                    "id": new_id,
                    "name": posixpath.basename(path),
                    "path": path,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "archived": False,
                },
            )
            return new_id, path


def public_file(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}

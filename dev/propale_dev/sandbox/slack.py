"""The sandbox Slack: an incoming-webhook receiver that keeps every post, and a page to read them.

Webhook:             POST /services/{T…}/{B…}/{secret}  JSON {text, blocks, attachments, …};
                     answers `ok` like Slack, or Slack's plain-text errors (invalid_payload, no_text,
                     invalid_blocks: over 50 blocks, 3,000 characters in a section, 150 in a header)
Page (for people):   GET /                      every post, newest first
API (for scripts):   GET /api/messages          every post, newest first; DELETE empties it
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.pages import render_page
from propale_dev.sandbox.service import COMMON_FAULTS, Faults, SandboxService
from propale_dev.sandbox.store import Store

KIND = "slack_message"


def block_texts(blocks: list[Any]) -> list[str]:
    """The visible text of Block Kit blocks (sections, headers, context, fields), in order."""
    texts: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in {"plain_text", "mrkdwn"} and isinstance(node.get("text"), str):
                texts.append(node["text"])
                return
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(blocks)
    return texts


# Block Kit limits Slack enforces on a message: past any of them the whole post is refused.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10


def blocks_within_limits(blocks: list[Any]) -> bool:
    if len(blocks) > MAX_BLOCKS:
        return False
    for block in blocks:
        if not isinstance(block, dict):
            return False
        text = (block.get("text") or {}).get("text", "") if isinstance(block.get("text"), dict) else ""
        if block.get("type") == "section" and len(text) > MAX_SECTION_TEXT:
            return False
        if block.get("type") == "header" and len(text) > MAX_HEADER_TEXT:
            return False
        if block.get("type") == "context" and len(block.get("elements") or []) > MAX_CONTEXT_ELEMENTS:
            return False
    return True


def create_app(store: Store) -> Starlette:
    async def webhook(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(payload, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        blocks = payload.get("blocks") or []
        if not isinstance(blocks, list) or not blocks_within_limits(blocks):
            return PlainTextResponse("invalid_blocks", status_code=400)
        if not payload.get("text") and not blocks and not payload.get("attachments"):
            return PlainTextResponse("no_text", status_code=400)
        message = {
            "id": uuid.uuid4().hex[:16],
            "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "webhook": request.url.path,
            "text": payload.get("text") or "",
            "blocks": blocks,
            "block_texts": block_texts(blocks),
            "attachments": payload.get("attachments") or [],
            "payload": payload,
        }
        store.put(KIND, message["id"], message)
        return PlainTextResponse("ok")

    def newest_first() -> list[dict[str, Any]]:
        return list(reversed(store.all(KIND)))

    async def index(request: Request) -> Response:
        return render_page("slack_index.html", messages=newest_first())

    async def api_messages(request: Request) -> Response:
        if request.method == "DELETE":
            for message_id in store.iter_ids(KIND):
                store.delete(KIND, message_id)
            return Response(status_code=204)
        return JSONResponse(newest_first())

    return Starlette(
        routes=[
            Route("/", index),
            Route("/services/{team}/{bot}/{secret}", webhook, methods=["POST"]),
            Route("/api/messages", api_messages, methods=["GET", "DELETE"]),
        ]
    )


def create_service(store: Store, config: SandboxConfig) -> SandboxService:
    return SandboxService(
        "slack",
        create_app(store),
        faults=Faults(COMMON_FAULTS),
        # Slack answers webhook errors in plain text.
        rate_limited=lambda request, retry_after: PlainTextResponse(
            "rate_limited", status_code=429, headers={"Retry-After": str(max(1, round(retry_after)))}
        ),
        server_error=lambda request: PlainTextResponse("service_unavailable", status_code=503),
        is_api=lambda path: path.startswith("/services/"),
    )

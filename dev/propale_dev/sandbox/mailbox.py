"""The sandbox mailbox: a real SMTP server that keeps every message, and pages to read them.

Pages (for people):   GET /                      every message, newest first
                      GET /messages/{id}         headers, text, HTML and attachments of one
API (for scripts):    GET /api/messages          [{id, from, to, subject, ...}], newest first;
                                                 ?to=address filters on a recipient
                      GET /api/messages/{id}     one, with text, html and attachment list
                      GET /messages/{id}/raw     the message as received (RFC 5322)
                      GET /messages/{id}/html    its HTML part alone
                      GET /messages/{id}/attachments/{index}
                      DELETE /api/messages       empty the mailbox
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.pages import render_page
from propale_dev.sandbox.service import Faults, SandboxService
from propale_dev.sandbox.store import Store

KIND = "mailbox_message"


def parse_message(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> dict[str, Any]:
    """What the pages and the API show of a received message; the raw bytes are kept too."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            {
                "filename": part.get_filename() or "attachment",
                "content_type": part.get_content_type(),
                "size": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        )
    return {
        "id": uuid.uuid4().hex[:16],
        "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "envelope_from": mail_from,
        "envelope_to": rcpt_tos,
        "message_id": str(message.get("Message-ID", "")),
        "from": str(message.get("From", "")),
        "to": [address for _, address in getaddresses(message.get_all("To", []))],
        "cc": [address for _, address in getaddresses(message.get_all("Cc", []))],
        "reply_to": str(message.get("Reply-To", "")),
        "subject": str(message.get("Subject", "")),
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
        "attachments": attachments,
        "raw": base64.b64encode(raw).decode(),
    }


SMTP_FAULTS = {
    "smtp_latency_ms": 0,  # before answering DATA
    "smtp_error_rate": 0.0,  # fraction of messages refused with a temporary 451 (the sender retries)
}


class _StoringHandler:
    def __init__(self, store: Store, faults: Faults):
        self.store = store
        self.faults = faults

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.faults["smtp_latency_ms"]:
            await asyncio.sleep(self.faults["smtp_latency_ms"] / 1000)
        if random.random() < self.faults["smtp_error_rate"]:
            return "451 4.3.0 Temporary failure injected by the sandbox, try again later"
        raw = envelope.original_content or b""
        message = parse_message(raw, envelope.mail_from or "", list(envelope.rcpt_tos))
        self.store.put(KIND, message["id"], message)
        return "250 Message accepted for delivery"


def start_smtp_server(store: Store, config: SandboxConfig, faults: Faults) -> Controller:
    """Start the SMTP listener in its own thread; `stop()` it on the way out."""
    controller = Controller(
        _StoringHandler(store, faults),
        hostname=config.host,
        port=config.smtp_port,
        # Accept AUTH without TLS so that an SMTP connection with a login works as-is on loopback.
        auth_require_tls=False,
        auth_exclude_mechanism=["CRAM-MD5"],
        authenticator=lambda *args: _AcceptAnyLogin(),
    )
    controller.start()
    return controller


class _AcceptAnyLogin:
    success = True
    auth_data = None


def _summary(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in {"raw", "text", "html"}}


def _detail(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "raw"}


def _messages(store: Store, recipient: str | None = None) -> list[dict[str, Any]]:
    messages = list(reversed(store.all(KIND)))
    if recipient:
        recipient = recipient.lower()
        messages = [m for m in messages if recipient in (a.lower() for a in m["envelope_to"])]
    return messages


def create_app(store: Store) -> Starlette:
    def get_message(request: Request) -> dict[str, Any] | None:
        return store.get(KIND, request.path_params["message_id"])

    def not_found() -> Response:
        return JSONResponse({"error": "no such message"}, status_code=404)

    async def index(request: Request) -> Response:
        return render_page("mailbox_index.html", messages=_messages(store, request.query_params.get("to")))

    async def page(request: Request) -> Response:
        message = get_message(request)
        if message is None:
            return render_page("sandbox_not_found.html", status_code=404, what="ce message")
        return render_page("mailbox_message.html", message=message)

    async def html_part(request: Request) -> Response:
        message = get_message(request)
        if message is None:
            return not_found()
        # The HTML is someone else's content: shown inside a sandboxed iframe, scripts blocked.
        return Response(
            message["html"],
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": "sandbox; script-src 'none'"},
        )

    async def raw(request: Request) -> Response:
        message = get_message(request)
        if message is None:
            return not_found()
        return Response(base64.b64decode(message["raw"]), media_type="message/rfc822")

    async def attachment(request: Request) -> Response:
        message = get_message(request)
        index = request.path_params["index"]
        if message is None or index >= len(message["attachments"]):
            return not_found()
        parsed = message_from_bytes(base64.b64decode(message["raw"]), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        part = list(parsed.iter_attachments())[index]
        meta = message["attachments"][index]
        return Response(
            part.get_payload(decode=True),
            media_type=meta["content_type"],
            headers={"Content-Disposition": f'inline; filename="{meta["filename"]}"'},
        )

    async def api_list(request: Request) -> Response:
        if request.method == "DELETE":
            for message_id in store.iter_ids(KIND):
                store.delete(KIND, message_id)
            return Response(status_code=204)
        messages = _messages(store, request.query_params.get("to"))
        return JSONResponse([_summary(m) for m in messages])

    async def api_detail(request: Request) -> Response:
        message = get_message(request)
        return JSONResponse(_detail(message)) if message else not_found()

    return Starlette(
        routes=[
            Route("/", index),
            Route("/messages/{message_id}", page),
            Route("/messages/{message_id}/html", html_part),
            Route("/messages/{message_id}/raw", raw),
            Route("/messages/{message_id}/attachments/{index:int}", attachment),
            Route("/api/messages", api_list, methods=["GET", "DELETE"]),
            Route("/api/messages/{message_id}", api_detail),
        ]
    )


def create_service(store: Store, config: SandboxConfig) -> SandboxService:
    return SandboxService(
        "mailbox",
        create_app(store),
        faults=Faults(SMTP_FAULTS),
        rate_limited=lambda request, retry_after: JSONResponse({"error": "slow down"}, status_code=429),
        server_error=lambda request: JSONResponse({"error": "mailbox unavailable"}, status_code=503),
        # Faults apply to SMTP, not to the pages people read.
        is_api=lambda path: False,
    )

"""Mailbox (placeholder until the stand-in lands)."""

from starlette.applications import Starlette
from starlette.responses import JSONResponse

from propale.sandbox.config import SandboxConfig
from propale.sandbox.service import COMMON_FAULTS, Faults, SandboxService
from propale.sandbox.store import Store


def create_service(store: Store, config: SandboxConfig) -> SandboxService:
    return SandboxService(
        "mailbox",
        Starlette(),
        faults=Faults(COMMON_FAULTS),
        rate_limited=lambda request, retry_after: JSONResponse({}, status_code=429),
        server_error=lambda request: JSONResponse({}, status_code=502),
    )




class _NoSmtp:
    def stop(self) -> None:
        pass


def start_smtp_server(store: Store, config: SandboxConfig) -> _NoSmtp:
    return _NoSmtp()

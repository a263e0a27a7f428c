"""HubSpot CRM API stand-in (placeholder until the stand-in lands)."""

from starlette.applications import Starlette
from starlette.responses import JSONResponse

from propale.sandbox.config import SandboxConfig
from propale.sandbox.service import COMMON_FAULTS, Faults, SandboxService
from propale.sandbox.store import Store


def create_service(store: Store, config: SandboxConfig) -> SandboxService:
    return SandboxService(
        "hubspot",
        Starlette(),
        faults=Faults(COMMON_FAULTS),
        rate_limited=lambda request, retry_after: JSONResponse({}, status_code=429),
        server_error=lambda request: JSONResponse({}, status_code=502),
    )


def seed_demo(store: Store) -> None:
    pass

"""Client for a stand-in's `/_sandbox` admin API, for scripts, tests and benchmarks."""

from __future__ import annotations

from typing import Any

import httpx


class SandboxAdmin:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/_sandbox", timeout=timeout)

    def health(self) -> dict[str, Any]:
        return self._json(self._http.get("/health"))

    def stats(self) -> dict[str, Any]:
        """{"total": n, "endpoints": {"GET /path/{template}": {"count": n, "statuses": {...}}}, ...}"""
        return self._json(self._http.get("/stats"))

    def reset_stats(self) -> None:
        self._json(self._http.delete("/stats"))

    def faults(self) -> dict[str, float]:
        return self._json(self._http.get("/faults"))

    def set_faults(self, **settings: float) -> dict[str, float]:
        return self._json(self._http.patch("/faults", json=settings))

    def reset_faults(self) -> dict[str, float]:
        return self._json(self._http.delete("/faults"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox admin call failed ({response.status_code}): {response.text}")
        return response.json()

"""`Idempotency-Key` as Stripe honours it.

A key first used with some parameters replays the stored response (status and body, with
`Idempotent-Replayed: true`) for 24 hours; reused with other parameters or on another endpoint it
is an `idempotency_error`. Only results of requests that ran are kept: a 5xx (injected or not)
leaves nothing behind, so a retry with the same key runs again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from propale_dev.sandbox.store import Store
from propale_dev.sandbox.stripe.core import internal
from propale_dev.sandbox.stripe.errors import StripeError

KIND = internal("idempotency")
TTL_S = 24 * 3600


@dataclass
class Replay:
    status: int
    body: Any
    request_id: str


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    text = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def lookup(store: Store, key: str, print_: str) -> Replay | None:
    record = store.get(KIND, key)
    if record is None or record["stored_at"] < time.time() - TTL_S:
        return None
    if record["fingerprint"] != print_:
        raise StripeError(
            "Keys for idempotent requests can only be used with the same parameters they were first "
            f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            type="idempotency_error",
        )
    return Replay(record["status"], record["body"], record["request_id"])


def remember(store: Store, key: str, print_: str, status: int, body: Any, request_id: str) -> None:
    store.put(
        KIND,
        key,
        {"fingerprint": print_, "status": status, "body": body, "request_id": request_id, "stored_at": time.time()},
    )


def purge_expired(store: Store) -> None:
    cutoff = time.time() - TTL_S
    for key in list(store.iter_ids(KIND)):
        record = store.get(KIND, key)
        if record and record["stored_at"] < cutoff:
            store.delete(KIND, key)

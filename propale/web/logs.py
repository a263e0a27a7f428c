"""Keep proposal links and customers' emails out of logs.

A proposal link is the customer's only credential, and it sits in the URL path (`/p/<token>`), so
any access log would record it. Two loggers write paths: uvicorn's access log (a standalone
`uvicorn propale.web:app`) and, inside Airflow's API server, Airflow's own structlog access log.
`install()` masks the token in both. It must run once Airflow has configured the process's logging
(importing Airflow does it), which `propale.web` ensures.

The `stripe` library logs every request URL at INFO, and finding a customer lists by email: its
logger is kept at WARNING.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

_TOKEN_IN_PATH = re.compile(r"(/p/)[A-Za-z0-9_-]{8,}")
MASK = r"\1***"


def mask(text: str) -> str:
    return _TOKEN_IN_PATH.sub(MASK, text)


class MaskProposalLinks(logging.Filter):
    """Masks tokens in a record's message and arguments (uvicorn passes the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def mask_event(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: masks tokens in every string value of an event (Airflow's access log)."""
    for key, value in event_dict.items():
        if isinstance(value, str) and "/p/" in value:
            event_dict[key] = mask(value)
    return event_dict


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskProposalLinks) for f in logger.filters):
            logger.addFilter(MaskProposalLinks())
    access = logging.getLogger("uvicorn.access")
    if not access.handlers:
        # Airflow's logging configuration removed uvicorn's own handler: without this, a standalone
        # server would log no request at all.
        access.propagate = True
    logging.getLogger("stripe").setLevel(logging.WARNING)
    _install_structlog()


def _install_structlog() -> None:
    try:
        import structlog
    except ImportError:  # only Airflow brings structlog; without it there is nothing to mask
        return
    processors = list(structlog.get_config().get("processors", []))
    if mask_event not in processors:
        structlog.configure(processors=[mask_event, *processors])

"""Invoice and receipt PDFs rendered by WeasyPrint from the same templates as the pages."""

from __future__ import annotations

import hashlib
import logging
import threading

logging.getLogger("fontTools").setLevel(logging.WARNING)
logging.getLogger("weasyprint").setLevel(logging.WARNING)

_cache: dict[str, bytes] = {}
_lock = threading.Lock()
MAX_CACHED = 64


def render(html: str) -> bytes:
    """Rendering takes a fraction of a second; the same document is rendered once."""
    key = hashlib.sha256(html.encode()).hexdigest()
    with _lock:
        if key in _cache:
            return _cache[key]
    from weasyprint import HTML  # imported lazily: loading it costs about a second

    data = HTML(string=html).write_pdf()
    with _lock:
        if len(_cache) >= MAX_CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = data
    return data

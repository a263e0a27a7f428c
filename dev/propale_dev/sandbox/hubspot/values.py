"""How HubSpot writes values: every property value is a string, timestamps are ISO 8601 in UTC."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime
from typing import Any


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_from_ms(ms: int | float) -> str:
    """`2026-03-01T09:30:00.123Z`: the form HubSpot uses for createdAt and datetime properties."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso_from_ms(now_ms())


def as_property_string(value: Any) -> str | None:
    """Clients send numbers and booleans too; HubSpot stores and returns their text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_number(text: str) -> float | None:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parse_timestamp_ms(text: str) -> int | None:
    """Epoch milliseconds, an ISO datetime or a bare date, as HubSpot accepts for date filters."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def normalize_datetime(text: str) -> str | None:
    """HubSpot returns datetime properties as ISO whatever form (epoch ms, date) was written."""
    ms = parse_timestamp_ms(text)
    if ms is None:
        return None
    iso = iso_from_ms(ms)
    return iso.replace(".000Z", "Z")


def normalize_date(text: str) -> str | None:
    ms = parse_timestamp_ms(text)
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def truthy(text: str | None) -> bool:
    return str(text).lower() in {"true", "1", "yes"}

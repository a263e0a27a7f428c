"""The subset of Stripe's search query language that integrations use.

    email:'jane@example.com'        exact match (case-insensitive for email)
    name~'jan'                      substring
    metadata['deal_id']:'42'        metadata
    -status:'canceled'              negation
    created>1700000000              numeric comparison (>, >=, <, <=)
Clauses are joined by AND or by OR (not both in one query, as on Stripe).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.lists import limit_of

_CLAUSE = re.compile(
    r"""\s*(?P<neg>-)?(?P<field>[a-z_]+(?:\[['"][^'"]+['"]\])?)\s*(?P<op>:|~|>=|<=|>|<)\s*
        (?:'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|(?P<num>-?\d+))\s*""",
    re.X,
)

Predicate = Callable[[dict[str, Any]], bool]


def parse(query: str, fields: set[str]) -> Predicate:
    if not query or not query.strip():
        raise StripeError("Missing required param: query.", param="query", code="parameter_missing")
    predicates: list[Predicate] = []
    joiners: set[str] = set()
    pos = 0
    while True:
        match = _CLAUSE.match(query, pos)
        if not match:
            raise _invalid(query)
        predicates.append(_clause(match, fields, query))
        pos = match.end()
        if pos >= len(query):
            break
        joiner = re.match(r"(AND|OR)\s+", query[pos:])
        if not joiner:
            raise _invalid(query)
        joiners.add(joiner.group(1))
        pos += joiner.end()
    if len(joiners) > 1:
        raise StripeError("Search queries cannot mix AND and OR.", param="query")
    if joiners == {"OR"}:
        return lambda obj: any(p(obj) for p in predicates)
    return lambda obj: all(p(obj) for p in predicates)


def _invalid(query: str) -> StripeError:
    return StripeError(f"Invalid query: {query!r} is not a valid search query.", param="query")


def _clause(match: re.Match[str], fields: set[str], query: str) -> Predicate:
    field, op = match.group("field"), match.group("op")
    raw = match.group("sq") if match.group("sq") is not None else match.group("dq")
    value = raw.replace("\\'", "'").replace('\\"', '"') if raw is not None else match.group("num")
    meta = re.match(r"metadata\[['\"]([^'\"]+)['\"]\]", field)
    if meta:
        key = meta.group(1)

        def read(obj: dict[str, Any]) -> Any:
            return (obj.get("metadata") or {}).get(key)

    elif field in fields:

        def read(obj: dict[str, Any]) -> Any:
            return obj.get(field)

    else:
        raise StripeError(f"Field '{field}' is an unsupported search field for this resource.", param="query")

    def test(obj: dict[str, Any]) -> bool:
        actual = read(obj)
        if op in (">", ">=", "<", "<="):
            if actual is None:
                return False
            number = int(value)
            return {">": actual > number, ">=": actual >= number, "<": actual < number, "<=": actual <= number}[op]
        if actual is None:
            return False
        if op == "~":
            return value.lower() in str(actual).lower()
        if field == "email":
            return str(actual).lower() == value.lower()
        return str(actual) == value

    if match.group("neg"):
        return lambda obj: not test(obj)
    return test


def search_result(items: list[dict[str, Any]], params: dict[str, Any], url: str, fields: set[str]) -> dict[str, Any]:
    """Newest first; `page` is the opaque cursor Stripe returns as `next_page`."""
    predicate = parse(str(params.get("query", "")), fields)
    matched = [item for item in items if predicate(item)]
    limit = limit_of(params)
    page = params.get("page")
    start = 0
    if page:
        try:
            start = int(str(page).removeprefix("page_"))
        except ValueError:
            raise StripeError("Invalid page.", param="page") from None
    data = matched[start : start + limit]
    has_more = start + limit < len(matched)
    return {
        "object": "search_result",
        "data": data,
        "has_more": has_more,
        "next_page": f"page_{start + limit}" if has_more else None,
        "url": url,
    }

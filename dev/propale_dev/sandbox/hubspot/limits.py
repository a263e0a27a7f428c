"""HubSpot's documented limits, in one table: what the stand-in enforces, each with its source.

Each value is what HubSpot's own pages say today; the stand-in refuses one over it with HubSpot's
error body. Propale keeps its own constants (in `propale.crm`, since runtime code never imports the
sandbox); tests/propale_dev/sandbox/test_sandbox_hubspot_limits.py checks that each of them stays within these.

The account the stand-in emulates is a Professional one using a private app.
"""

from __future__ import annotations

from dataclasses import dataclass

SEARCH_GUIDE = "https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm"
OBJECTS_GUIDE = "https://developers.hubspot.com/docs/guides/crm/using-object-apis"
USAGE_GUIDELINES = "https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines"


@dataclass(frozen=True)
class Limit:
    name: str
    value: int
    what: str
    source: str


# Batch read, create, update and archive of CRM objects: 100 inputs per request.
BATCH_INPUTS = Limit("batch_inputs", 100, "inputs of an objects batch read/create/update/archive", OBJECTS_GUIDE)
# A batch read asking for `propertiesWithHistory` takes at most 50 inputs; HubSpot answers more
# with a 400 VALIDATION_ERROR, "The maximum number of inputs supported in a batch request for
# property histories is 50" (quoted in https://github.com/PipedreamHQ/pipedream/pull/8462, which
# fixed an integration that met it; HubSpot's reference does not print the number).
HISTORY_BATCH_READ_INPUTS = Limit(
    "history_batch_read_inputs",
    50,
    "inputs of a batch read with propertiesWithHistory",
    "https://github.com/PipedreamHQ/pipedream/pull/8462",
)
# Associations batch reads (v3 and v4) take at most 1,000 ids since February 10, 2025.
ASSOCIATIONS_BATCH_READ_INPUTS = Limit(
    "associations_batch_read_inputs",
    1000,
    "inputs of an associations batch read",
    "https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api",
)
# The search guide's "Limits" section (last modified March 30, 2026). The changelog of August 2024
# (https://developers.hubspot.com/changelog/breaking-change-expanded-filtering-capabilities-and-error-messaging-in-hubspots-search-api)
# announced 25 filters and 10 per group; the guide still states 18 and 6, so those are enforced.
SEARCH_PAGE_SIZE = Limit("search_page_size", 200, "objects per search page (`limit`)", SEARCH_GUIDE)
SEARCH_RESULTS = Limit("search_results", 10_000, "results a search can page through", SEARCH_GUIDE)
SEARCH_FILTER_GROUPS = Limit("search_filter_groups", 5, "filterGroups of a search", SEARCH_GUIDE)
SEARCH_FILTERS_PER_GROUP = Limit("search_filters_per_group", 6, "filters in one filter group", SEARCH_GUIDE)
SEARCH_FILTERS = Limit("search_filters", 18, "filters of a search, all groups together", SEARCH_GUIDE)
# "A query can contain a maximum of 3,000 characters" (the guide then speaks of the request body;
# the stand-in holds the `query` text to it, which is what a caller controls).
SEARCH_QUERY_CHARACTERS = Limit("search_query_characters", 3000, "characters of a search `query`", SEARCH_GUIDE)
# "The search endpoints are rate limited to five requests per second per account."
SEARCH_REQUESTS_PER_SECOND = Limit(
    "search_requests_per_second", 5, "search requests per second, per account", SEARCH_GUIDE
)
# A private app on a Professional account: 190 requests per rolling 10 seconds, 650,000 a day.
TEN_SECOND_WINDOW_S = Limit("ten_second_window_s", 10, "length of the rolling burst window", USAGE_GUIDELINES)
TEN_SECOND_REQUESTS = Limit(
    "ten_second_requests",
    190,
    "requests per 10 seconds for a private app (Professional)",
    "https://developers.hubspot.com/changelog/increasing-our-api-limits",
)
DAILY_REQUESTS = Limit(
    "daily_requests",
    650_000,
    "requests per day for a private app (Professional)",
    "https://developers.hubspot.com/changelog/increasing-our-api-limits",
)

LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        BATCH_INPUTS,
        HISTORY_BATCH_READ_INPUTS,
        ASSOCIATIONS_BATCH_READ_INPUTS,
        SEARCH_PAGE_SIZE,
        SEARCH_RESULTS,
        SEARCH_FILTER_GROUPS,
        SEARCH_FILTERS_PER_GROUP,
        SEARCH_FILTERS,
        SEARCH_QUERY_CHARACTERS,
        SEARCH_REQUESTS_PER_SECOND,
        TEN_SECOND_WINDOW_S,
        TEN_SECOND_REQUESTS,
        DAILY_REQUESTS,
    )
}

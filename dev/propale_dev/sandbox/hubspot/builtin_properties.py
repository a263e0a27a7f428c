"""The properties and property groups a fresh HubSpot account already has, per object type.

Only what Propale and its demo touch is listed, with HubSpot's own names, types and options.
`siren` and `vat_number` are custom company properties (HubSpot has none for them) that the
coworking account has created: they exist from the start so any test can use them.
"""

from __future__ import annotations

from typing import Any

GROUPS: dict[str, tuple[str, str]] = {
    "contacts": ("contactinformation", "Contact information"),
    "companies": ("companyinformation", "Company information"),
    "deals": ("dealinformation", "Deal information"),
    "products": ("productinformation", "Product information"),
    "line_items": ("lineiteminformation", "Line item information"),
    "notes": ("engagement", "Engagement"),
}

# Values whose write HubSpot refuses (the server keeps them).
READ_ONLY = frozenset({"hs_object_id", "hs_lastmodifieddate", "lastmodifieddate"})

DEAL_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
]
# The sandbox account's currencies (an admin adds them in HubSpot's Settings > Account defaults >
# Currencies; `deal_currency_code` and `hs_line_item_currency_code` offer exactly these). Besides
# the usual ones, those whose amounts Stripe writes differently from ISO 4217, for the bad-input proofs.
CURRENCIES = [
    ("EUR", "Euro"),
    ("USD", "US Dollar"),
    ("GBP", "British Pound"),
    ("CHF", "Swiss Franc"),
    ("JPY", "Japanese Yen"),
    ("HUF", "Hungarian Forint"),
    ("ISK", "Icelandic Króna"),
    ("TWD", "New Taiwan Dollar"),
    ("UGX", "Ugandan Shilling"),
]
BILLING_FREQUENCIES = [
    ("weekly", "Weekly"),
    ("biweekly", "Biweekly"),
    ("monthly", "Monthly"),
    ("quarterly", "Quarterly"),
    ("per_six_months", "Every six months"),
    ("annually", "Annually"),
    ("per_two_years", "Every two years"),
    ("per_three_years", "Every three years"),
    ("per_four_years", "Every four years"),
    ("per_five_years", "Every five years"),
]
LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]
PRODUCT_TYPES = [("inventory", "Inventory"), ("non_inventory", "Non-inventory"), ("service", "Service")]


def _p(
    name: str,
    label: str,
    type_: str = "string",
    field: str = "text",
    options: list[tuple[str, str]] | None = None,
    *,
    external_options: bool = False,
    calculated: bool = False,
    hubspot_defined: bool = True,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field,
        "options": options or [],
        "externalOptions": external_options,
        "calculated": calculated or name in READ_ONLY,
        "hubspotDefined": hubspot_defined,
    }


def _common(modified: str = "hs_lastmodifieddate") -> list[dict[str, Any]]:
    return [
        _p("createdate", "Create Date", "datetime", "date"),
        _p(modified, "Last Modified Date", "datetime", "date"),
        _p("hs_object_id", "Record ID", "number", "number"),
    ]


_OWNER = _p("hubspot_owner_id", "Owner", "enumeration", "select", external_options=True)

BUILTIN_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        _p("email", "Email"),
        _p("firstname", "First Name"),
        _p("lastname", "Last Name"),
        _p("phone", "Phone Number", field="phonenumber"),
        _p("mobilephone", "Mobile Phone Number", field="phonenumber"),
        _p("company", "Company Name"),
        _p("jobtitle", "Job Title"),
        _p("address", "Street Address"),
        _p("city", "City"),
        _p("zip", "Postal Code"),
        _p("country", "Country/Region"),
        _p("website", "Website URL"),
        _p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", LIFECYCLE_STAGES),
        _OWNER,
        *_common("lastmodifieddate"),
    ],
    "companies": [
        _p("name", "Company name"),
        _p("domain", "Company Domain Name"),
        _p("website", "Website URL"),
        _p("address", "Street Address"),
        _p("address2", "Street Address 2"),
        _p("city", "City"),
        _p("zip", "Postal Code"),
        _p("state", "State/Region"),
        _p("country", "Country/Region"),
        _p("phone", "Phone Number", field="phonenumber"),
        _p("industry", "Industry"),
        _p("description", "Description", field="textarea"),
        _p("numberofemployees", "Number of Employees", "number", "number"),
        _OWNER,
        _p("siren", "SIREN", hubspot_defined=False),
        _p("vat_number", "Numéro de TVA intracommunautaire", hubspot_defined=False),
        *_common(),
    ],
    "deals": [
        _p("dealname", "Deal Name"),
        _p("amount", "Amount", "number", "number"),
        _p("dealstage", "Deal Stage", "enumeration", "radio", DEAL_STAGES),
        _p("pipeline", "Pipeline", "enumeration", "select", [("default", "Sales Pipeline")]),
        _p("closedate", "Close Date", "datetime", "date"),
        _p("dealtype", "Deal Type", "enumeration", "radio",
           [("newbusiness", "New Business"), ("existingbusiness", "Existing Business")]),
        _p("deal_currency_code", "Currency", "enumeration", "select", CURRENCIES),
        _p("description", "Deal Description", field="textarea"),
        _OWNER,
        *_common(),
    ],
    "products": [
        _p("name", "Name"),
        _p("description", "Description", field="textarea"),
        _p("price", "Unit price", "number", "number"),
        _p("hs_sku", "SKU"),
        _p("hs_cost_of_goods_sold", "Unit cost", "number", "number"),
        _p("hs_product_type", "Product type", "enumeration", "select", PRODUCT_TYPES),
        _p("recurringbillingfrequency", "Billing frequency", "enumeration", "select", BILLING_FREQUENCIES),
        _p("hs_recurring_billing_period", "Term"),
        *_common(),
    ],
    "line_items": [
        _p("name", "Name"),
        _p("description", "Description", field="textarea"),
        _p("quantity", "Quantity", "number", "number"),
        _p("price", "Unit price", "number", "number"),
        _p("amount", "Net price", "number", "number", calculated=True),
        _p("hs_sku", "SKU"),
        _p("hs_product_id", "Product ID", "number", "number"),
        _p("recurringbillingfrequency", "Billing frequency", "enumeration", "select", BILLING_FREQUENCIES),
        _p("hs_recurring_billing_period", "Term"),
        _p("hs_recurring_billing_start_date", "Billing start date", "date", "date"),
        _p("hs_discount_percentage", "Discount percentage", "number", "number"),
        _p("discount", "Unit discount", "number", "number"),
        _p("hs_tax_rate_group_id", "Tax rate group"),
        _p("hs_tax_rate", "Tax rate", "number", "number"),
        _p("hs_line_item_currency_code", "Currency", "enumeration", "select", CURRENCIES),
        _p("hs_position_on_quote", "Position on quote", "number", "number"),
        *_common(),
    ],
    "notes": [
        _p("hs_note_body", "Note body", field="html"),
        _p("hs_timestamp", "Activity date", "datetime", "date"),
        _p("hs_attachment_ids", "Attachments", field="file"),
        _OWNER,
        *_common(),
    ],
}  # fmt: skip

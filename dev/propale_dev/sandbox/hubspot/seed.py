"""`propale sandbox --seed demo`: loads the demo account of `demo_data` into the Store.

`--generated-deals N` adds N more customers, each with a company, a contact and a deal built from
the demo's products, for load tests and benchmarks (`generated_deal` says what deal `i` holds).

It writes through the same classes the API uses, so the data is exactly what the API would have
made; a marker makes seeding twice a no-op.
"""

from __future__ import annotations

from datetime import date, timedelta

from propale_dev.sandbox.hubspot import demo_data as demo
from propale_dev.sandbox.hubspot.associations import association_type_by_id
from propale_dev.sandbox.hubspot.object_types import find_type
from propale_dev.sandbox.hubspot.records import ObjectRecords
from propale_dev.sandbox.hubspot.state import HubSpotAccount
from propale_dev.sandbox.service import Faults
from propale_dev.sandbox.store import Store

SEED_KIND = "hubspot.seeds"
CONTACTS, COMPANIES, DEALS = find_type("contacts"), find_type("companies"), find_type("deals")
PRODUCTS, LINE_ITEMS = find_type("products"), find_type("line_items")


def seed_demo(store: Store, generated_deals: int = 0) -> None:
    from propale_dev.sandbox.hubspot.app import HUBSPOT_FAULTS

    with store.transaction():
        if store.get(SEED_KIND, "demo") is not None:
            return
        account = HubSpotAccount(store, Faults(HUBSPOT_FAULTS), base_url="")
        _Seeder(account).run(generated_deals)
        store.put(SEED_KIND, "demo", {"seeded": True, "generated_deals": generated_deals})


class _Seeder:
    def __init__(self, account: HubSpotAccount):
        self.a = account
        self.records: ObjectRecords = account.records

    def _create(self, object_type, properties: dict[str, str]) -> str:
        values = self.a.catalog.clean_values(object_type.name, properties)
        return self.records.create(object_type, values)["id"]

    def _link(self, from_type, from_id: str, to_type, to_id: str, *type_ids: int) -> None:
        kinds = [association_type_by_id(from_type, "HUBSPOT_DEFINED", t) for t in type_ids]
        self.a.associations.associate(from_type, from_id, to_type, to_id, kinds)

    def run(self, generated_deals: int) -> None:
        owner_ids = [self.a.owners.add(**o)["id"] for o in demo.OWNERS]
        self.a.owners.add(**demo.ARCHIVED_OWNER, archived=True)

        products = {}
        for key, (name, sku, price, frequency, description) in demo.PRODUCTS.items():
            properties = {"name": name, "hs_sku": sku, "price": price, "description": description,
                          "hs_product_type": "service"}  # fmt: skip
            if frequency:
                properties["recurringbillingfrequency"] = frequency
            products[key] = self._create(PRODUCTS, properties)

        companies = {key: self._create(COMPANIES, props) for key, props in demo.COMPANIES.items()}
        contacts = {}
        for key, (company_key, props) in demo.CONTACTS.items():
            contact_id = self._create(CONTACTS, {**props, "company": demo.COMPANIES[company_key]["name"]})
            contacts[key] = contact_id
            # The first contact of a company is its primary contact (type 1, and 2 the other way).
            primary = not any(
                c == company_key for c, _ in list(demo.CONTACTS.values())[: list(demo.CONTACTS).index(key)]
            )
            self._link(CONTACTS, contact_id, COMPANIES, companies[company_key], *((1,) if primary else (279,)))

        for deal in demo.DEALS:
            self._seed_deal(deal, owner_ids, products, companies, contacts)
        for i in range(1, generated_deals + 1):
            key = f"client{i:05d}"
            company, contact, deal = demo.generated_deal(i)
            companies[key] = self._create(COMPANIES, company)
            contacts[key] = self._create(CONTACTS, {**contact, "company": company["name"]})
            self._link(CONTACTS, contacts[key], COMPANIES, companies[key], 1)
            self._seed_deal({**deal, "company": key, "contact": key}, owner_ids, products, companies, contacts)

    def _seed_deal(self, deal, owner_ids, products, companies, contacts) -> None:
        line_ids, total = [], 0.0
        for product_key, overrides in deal["items"]:
            properties = {"hs_line_item_currency_code": "EUR", "hs_tax_rate": "20"}
            if product_key:
                properties["hs_product_id"] = products[product_key]
                if demo.PRODUCTS[product_key][3]:
                    properties.setdefault("hs_recurring_billing_period", "P12M")
            properties.update(overrides)
            line = self.records.create(LINE_ITEMS, self.a.catalog.clean_values(LINE_ITEMS.name, properties))
            line_ids.append(line["id"])
            total += float(line["properties"].get("amount", "0"))
        deal_id = self._create(
            DEALS,
            {
                "dealname": deal["name"],
                "amount": f"{total:.2f}".removesuffix(".00"),
                "dealstage": deal["stage"],
                "pipeline": "default",
                "closedate": (date.today() + timedelta(days=deal["close_in_days"])).isoformat(),
                "deal_currency_code": "EUR",
                "hubspot_owner_id": owner_ids[deal["owner"]],
                "dealtype": "newbusiness",
            },
        )
        self._link(DEALS, deal_id, COMPANIES, companies[deal["company"]], 5)
        self._link(DEALS, deal_id, CONTACTS, contacts[deal["contact"]], 3)
        for line_id in line_ids:
            self._link(DEALS, deal_id, LINE_ITEMS, line_id, 19)

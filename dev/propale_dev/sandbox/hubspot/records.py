"""CRM object records: create, update, archive, read, and the state the search index has of them.

Every record is written through to the Store and mirrored in memory, so reads and searches over a
thousand deals never copy the whole store. The search index lags writes by `search_lag_s`: each
record keeps the last version the index had (`indexed`) and when it was last written, which is
enough to answer a search as HubSpot's eventually-consistent index would, even across restarts.
A write becomes searchable `search_lag_s` seconds after it (the lag in force when it was made).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from propale_dev.sandbox.hubspot.object_types import OBJECT_TYPES, ObjectType
from propale_dev.sandbox.hubspot.values import now_iso, parse_number
from propale_dev.sandbox.store import Store

FIRST_OBJECT_ID = 40_000_001
HISTORY_DEPTH = 20
# Properties a new line item takes from its product when the request leaves them out.
FROM_PRODUCT = ("name", "price", "hs_sku", "description", "recurringbillingfrequency", "hs_recurring_billing_period")

Record = dict[str, Any]


def _kind(object_type: ObjectType) -> str:
    return f"hubspot.objects.{object_type.name}"


class ObjectRecords:
    def __init__(self, store: Store, search_lag_s: Callable[[], float]):
        self._store = store
        self._lag = search_lag_s
        self._records: dict[str, dict[str, Record]] = {
            t.name: {r["id"]: r for r in store.all(_kind(t))} for t in OBJECT_TYPES
        }

    # ---- reads (callers must not mutate what they get) ----------------------------------------

    def get(self, object_type: ObjectType, object_id: str, *, archived: bool = False) -> Record | None:
        record = self._records[object_type.name].get(str(object_id))
        if record is None or record["archived"] != archived:
            return None
        return record

    def find_by(self, object_type: ObjectType, prop: str, value: str, *, archived: bool = False) -> Record | None:
        for record in self._records[object_type.name].values():
            if record["archived"] == archived and record["properties"].get(prop) == value:
                return record
        return None

    def all(self, object_type: ObjectType, *, archived: bool = False) -> list[Record]:
        return [r for r in self._records[object_type.name].values() if r["archived"] == archived]

    def exists(self, object_type: ObjectType, object_id: str) -> bool:
        return self.get(object_type, object_id) is not None

    def search_view(self, record: Record, now: float) -> Record | None:
        """The record as the search index has it now: the current version once indexed."""
        if now >= record["indexAt"]:
            return None if record["archived"] else record
        indexed = record["indexed"]
        return None if indexed is None or indexed["archived"] else indexed

    def searchable(self, object_type: ObjectType) -> Iterable[Record]:
        now = time.time()
        for record in self._records[object_type.name].values():
            view = self.search_view(record, now)
            if view is not None:
                yield {"id": record["id"], "createdAt": record["createdAt"], **view}

    # ---- writes ------------------------------------------------------------------------------

    def create(self, object_type: ObjectType, values: dict[str, str | None]) -> Record:
        with self._store.transaction():
            object_id = str(self._store.next_value("hubspot.object_id", start=FIRST_OBJECT_ID))
            stamp = now_iso()
            properties = {k: v for k, v in values.items() if v is not None}
            if object_type.name == "line_items":
                self._fill_from_product(properties)
            properties.setdefault("createdate", stamp)
            properties[object_type.modified_property] = stamp
            properties["hs_object_id"] = object_id
            record: Record = {
                "id": object_id,
                "properties": properties,
                "history": {},
                "createdAt": properties["createdate"] if "createdate" in values else stamp,
                "updatedAt": stamp,
                "archived": False,
                "indexed": None,
                "indexAt": time.time() + self._lag(),
            }
            self._derive(object_type, record)
            self._note_history(record, properties, stamp)
            self._save(object_type, record)
            return record

    def update(self, object_type: ObjectType, object_id: str, values: dict[str, str | None]) -> Record | None:
        with self._store.transaction():
            record = self.get(object_type, object_id)
            if record is None:
                return None
            self._remember_indexed(record)
            stamp = now_iso()
            for name, value in values.items():
                if value is None:
                    record["properties"].pop(name, None)
                else:
                    record["properties"][name] = value
            record["properties"][object_type.modified_property] = stamp
            record["updatedAt"] = stamp
            self._derive(object_type, record)
            self._note_history(record, {**values, object_type.modified_property: stamp}, stamp)
            self._save(object_type, record)
            return record

    def archive(self, object_type: ObjectType, object_id: str) -> bool:
        with self._store.transaction():
            record = self.get(object_type, object_id)
            if record is None:
                return False
            self._remember_indexed(record)
            stamp = now_iso()
            record["archived"] = True
            record["archivedAt"] = stamp
            record["updatedAt"] = stamp
            self._save(object_type, record)
            return True

    def _remember_indexed(self, record: Record) -> None:
        """Before a write: if the index has caught up, it now holds the current version and keeps
        it until the new write is indexed; otherwise it still holds the older one it had."""
        now = time.time()
        if now >= record["indexAt"]:
            record["indexed"] = {
                "properties": dict(record["properties"]),
                "updatedAt": record["updatedAt"],
                "archived": record["archived"],
            }
        record["indexAt"] = now + self._lag()

    def _fill_from_product(self, properties: dict[str, str]) -> None:
        product_id = properties.get("hs_product_id")
        if not product_id:
            return
        product = self._records["products"].get(product_id)
        if product is None or product["archived"]:
            return
        for name in FROM_PRODUCT:
            if name not in properties and product["properties"].get(name) is not None:
                properties[name] = product["properties"][name]

    @staticmethod
    def _derive(object_type: ObjectType, record: Record) -> None:
        """Line items' `amount` is calculated by HubSpot: quantity × unit price, less discounts."""
        if object_type.name != "line_items":
            return
        props = record["properties"]
        price = parse_number(props.get("price", ""))
        quantity = parse_number(props.get("quantity", "1"))
        if price is None or quantity is None:
            props.pop("amount", None)
            return
        unit = price - (parse_number(props.get("discount", "")) or 0)
        percentage = parse_number(props.get("hs_discount_percentage", "")) or 0
        amount = round(quantity * unit * (1 - percentage / 100), 2)
        props["amount"] = f"{amount:.2f}".rstrip("0").rstrip(".") if amount % 1 else str(int(amount))

    @staticmethod
    def _note_history(record: Record, values: dict[str, str | None], stamp: str) -> None:
        for name, value in values.items():
            versions = record["history"].setdefault(name, [])
            versions.insert(0, {"value": value or "", "timestamp": stamp, "sourceType": "API", "sourceId": "sandbox"})
            del versions[HISTORY_DEPTH:]

    def _save(self, object_type: ObjectType, record: Record) -> None:
        self._records[object_type.name][record["id"]] = record
        self._store.put(_kind(object_type), record["id"], record)

"""Everything the HubSpot routes share: one account's records, definitions, owners and files."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from propale_dev.sandbox.hubspot.associations import AssociationGraph
from propale_dev.sandbox.hubspot.files import FileStore
from propale_dev.sandbox.hubspot.owners import OwnerDirectory
from propale_dev.sandbox.hubspot.properties import PropertyCatalog
from propale_dev.sandbox.hubspot.records import ObjectRecords
from propale_dev.sandbox.service import Faults, RateLimiter
from propale_dev.sandbox.store import Store


@dataclass
class HubSpotAccount:
    store: Store
    faults: Faults
    base_url: str
    owners: OwnerDirectory = field(init=False)
    catalog: PropertyCatalog = field(init=False)
    records: ObjectRecords = field(init=False)
    associations: AssociationGraph = field(init=False)
    files: FileStore = field(init=False)
    search_limiter: RateLimiter = field(default_factory=RateLimiter)

    def __post_init__(self) -> None:
        self.owners = OwnerDirectory(self.store)
        self.catalog = PropertyCatalog(self.store, self.owners.active_ids)
        self.records = ObjectRecords(self.store, lambda: self.faults["search_lag_s"])
        self.associations = AssociationGraph(self.store, self.records.exists)
        self.files = FileStore(self.store, self.base_url)

    def refuses_writes(self, object_id: str) -> bool:
        """The `refused_write_id` fault: batch writes to this record (an update of it, a note or any
        object created associated to it) fail in a 207 while the rest of the batch goes through."""
        refused = int(self.faults["refused_write_id"])
        return bool(refused) and str(object_id) == str(refused)

    def batch_input_fails(self) -> bool:
        """The `batch_error_rate` fault: this batch input fails while the others go through."""
        rate = self.faults["batch_error_rate"]
        return bool(rate) and random.random() < rate

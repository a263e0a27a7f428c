"""What a Propale task takes from Airflow at run time: its settings (Variables) and its ledger.

Imported by tasks only, never at DAG parse time, so parsing a DAG file reads no Variable and
opens no connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk import Variable

from propale.ledger import Ledger
from propale.settings import Settings


def load_settings() -> Settings:
    return Settings.load(lambda name: Variable.get(name, default=None))


@contextmanager
def open_ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger.from_settings(settings)
    try:
        yield ledger
    finally:
        ledger.close()

"""The DAG files as Airflow's DAG processor parses them, in seconds: no import error, the contract's
DAG ids, and what every task of a production DAG needs (an owner, tags, retries with backoff)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
# The DAG ids are part of the product contract (docs/contract.md): operators trigger and monitor them by name.
CONTRACT_DAG_IDS = {"propale_send_proposals", "propale_sync_stripe"}


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS_FOLDER))


def test_every_dag_file_imports_without_error(bag):
    assert bag.import_errors == {}


def test_the_dag_ids_are_the_contracts(bag):
    assert set(bag.dag_ids) == CONTRACT_DAG_IDS


def test_each_dag_is_tagged_propale(bag):
    for dag in bag.dags.values():
        assert "propale" in dag.tags, dag.dag_id


def test_each_task_has_an_owner_and_retries_with_exponential_backoff(bag):
    for dag in bag.dags.values():
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.owner == "propale", where
            assert task.retries >= 1, where
            assert task.retry_delay > timedelta(0), where
            assert task.retry_exponential_backoff, where
            assert task.max_retry_delay is not None and task.max_retry_delay >= task.retry_delay, where

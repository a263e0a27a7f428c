"""The ledger's Alembic migrations (env.py, versions/), run by `propale.ledger.schema`.

There is no alembic.ini: `propale.ledger.schema.alembic_config` configures Alembic in code.
`propale db upgrade` runs them in production; a `Ledger` runs them when it opens (dev, tests,
demo). `propale db revision -m "…"` drafts a new revision from the changes made to
propale/ledger/tables.py; tests/propale/ledger/test_migrations.py fails while the two disagree.
"""

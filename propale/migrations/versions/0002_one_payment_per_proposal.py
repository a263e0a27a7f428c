"""One payment per proposal: the payment of record, and SQLite's per-proposal checkout claims.

- `propale_proposals.paid_session_id`: the Checkout Session recorded first as paid;
- `propale_checkout_claims`: the lock the customer page and the DAGs hold on a proposal across the
  Stripe calls that open or close its Checkout Sessions, on SQLite (PostgreSQL takes an advisory
  lock and leaves this table empty).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("propale_proposals", sa.Column("paid_session_id", sa.String(length=255), nullable=True))
    op.create_table(
        "propale_checkout_claims",
        sa.Column("proposal_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["propale_proposals.id"]),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    # A proposal already paid keeps its first completed session as its payment.
    op.execute(
        "UPDATE propale_proposals SET paid_session_id = ("
        " SELECT s.stripe_session_id FROM propale_checkout_sessions s"
        " WHERE s.proposal_id = propale_proposals.id AND s.status = 'complete' ORDER BY s.id LIMIT 1)"
    )


def downgrade() -> None:
    op.drop_table("propale_checkout_claims")
    with op.batch_alter_table("propale_proposals") as batch:
        batch.drop_column("paid_session_id")

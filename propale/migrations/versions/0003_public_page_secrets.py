"""The public page holds only what it needs: sealed links, the installation id, a shared rate limit.

- `propale_proposals.token_sealed`: each link's random token, encrypted with `propale_secret_key`
  (the DAGs' key), so that the DAGs can write the link again; proposals sent before it keep their
  token's hash, and their link is derived from the same key as before;
- `propale_installation`: the id that Propale's Stripe idempotency keys carry (made by the ledger
  on first use, not here, so that an operator can have a new one made: see docs/deployment.md);
- `propale_rate_limits`: the customer page's POST counters, shared by all its processes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("propale_proposals", sa.Column("token_sealed", sa.Text(), nullable=True))
    op.create_table(
        "propale_installation",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("installation_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("singleton"),
    )
    op.create_table(
        "propale_rate_limits",
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client"),
    )
    op.create_index(
        op.f("ix_propale_rate_limits_window_started_at"), "propale_rate_limits", ["window_started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_propale_rate_limits_window_started_at"), table_name="propale_rate_limits")
    op.drop_table("propale_rate_limits")
    op.drop_table("propale_installation")
    with op.batch_alter_table("propale_proposals") as batch:
        batch.drop_column("token_sealed")

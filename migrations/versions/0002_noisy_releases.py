"""Noisy weekly releases: one row per released period, one per cell of its fixed key space.

Also deletes what the older rules stored and the new ones forbid: search-gap words typed by
any single chat (the words could be names) and raw deep-link sources (they could be phone
numbers). On SQLite the deleted bytes are overwritten (secure_delete), not left in free pages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete = ON")
    op.execute("DELETE FROM counters WHERE event = 'gap' OR source <> ''")
    op.create_table(
        "releases",
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("cap", sa.BigInteger(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("mechanism", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("period_start", name=op.f("pk_releases")),
    )
    op.create_table(
        "released_cells",
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("noisy", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period_start", "event", "key", "lang",
                                name=op.f("pk_released_cells")),
    )


def downgrade() -> None:
    op.drop_table("released_cells")
    op.drop_table("releases")

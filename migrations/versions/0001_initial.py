"""Initial schema: daily counters and HMAC-keyed chat languages.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_counters_count_not_negative")),
        sa.PrimaryKeyConstraint("day", "event", "key", "lang", "source", name=op.f("pk_counters")),
    )
    op.create_table(
        "chat_languages",
        sa.Column("chat_key", sa.CHAR(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("updated_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("chat_key", name=op.f("pk_chat_languages")),
    )


def downgrade() -> None:
    op.drop_table("chat_languages")
    op.drop_table("counters")

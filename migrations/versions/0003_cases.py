"""Cases for the handoff to caseworkers, and the block list (bot/db/models.py).

The chat id is never stored in clear: `chat_sealed` is a Fernet token under JOL_CASE_KEY and
`chat_lookup` / `chat_block` are keyed HMACs; both chat columns are cleared when a case closes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("code", sa.CHAR(length=6), nullable=False),
        sa.Column("topic_id", sa.BigInteger(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("active_on", sa.Date(), nullable=False),
        sa.Column("chat_lookup", sa.CHAR(length=64), nullable=True),
        sa.Column("chat_sealed", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_cases")),
        sa.UniqueConstraint("topic_id", name=op.f("uq_cases_topic_id")),
        sa.UniqueConstraint("chat_lookup", name=op.f("uq_cases_chat_lookup")),
    )
    op.create_table(
        "case_blocks",
        sa.Column("chat_block", sa.CHAR(length=64), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("chat_block", name=op.f("pk_case_blocks")),
    )


def downgrade() -> None:
    op.drop_table("case_blocks")
    op.drop_table("cases")

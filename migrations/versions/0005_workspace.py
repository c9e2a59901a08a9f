"""The editors' workspace: used sign-in links, sessions, drafts and the audit log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0003"  # TODO: "0004" after merging h-versions
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def upgrade() -> None:
    op.create_table(
        "workspace_nonces",
        sa.Column("nonce_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_workspace_nonces")),
    )
    op.create_table(
        "workspace_sessions",
        sa.Column("token_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("editor_id", sa.BigInteger(), nullable=False),
        sa.Column("editor_name", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_workspace_sessions")),
    )
    op.create_table(
        "workspace_drafts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("editor_id", sa.BigInteger(), nullable=False),
        sa.Column("editor_name", sa.String(length=64), nullable=False),
        sa.Column("base_version", sa.String(length=64), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_drafts")),
    )
    op.create_table(
        "workspace_audit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("editor_id", sa.BigInteger(), nullable=False),
        sa.Column("editor_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_audit")),
    )


def downgrade() -> None:
    op.drop_table("workspace_audit")
    op.drop_table("workspace_drafts")
    op.drop_table("workspace_sessions")
    op.drop_table("workspace_nonces")

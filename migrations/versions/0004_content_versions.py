"""Content versions: blobs by SHA-256, versions (author, time, parent, note), their files
(bot/db/models.py, bot/content/versions.py). Editors are staff; no user data here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_blobs",
        sa.Column("sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_content_blobs")),
    )
    op.create_table(
        "content_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("author_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["content_versions.id"],
                                name=op.f("fk_content_versions_parent_id_content_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_versions")),
    )
    op.create_table(
        "content_version_files",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.CHAR(length=64), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["content_blobs.sha256"],
                                name=op.f("fk_content_version_files_sha256_content_blobs")),
        sa.ForeignKeyConstraint(["version_id"], ["content_versions.id"],
                                name=op.f("fk_content_version_files_version_id_content_versions")),
        sa.PrimaryKeyConstraint("version_id", "name", name=op.f("pk_content_version_files")),
    )
    op.create_index(op.f("ix_content_version_files_sha256"), "content_version_files",
                    ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_content_version_files_sha256"), table_name="content_version_files")
    op.drop_table("content_version_files")
    op.drop_table("content_versions")
    op.drop_table("content_blobs")

"""The workspace's rows: used link nonces, sessions, drafts and the audit log (bot/db/models.py).

Every statement is a single one, so several replicas share the same state through the database:
a link used on one is refused on all (the nonce's primary key), a session opened on one works
on all (its hash is the key).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import (
    EDITOR_NAME_LEN,
    WorkspaceAudit,
    WorkspaceDraft,
    WorkspaceNonce,
    WorkspaceSession,
)
from bot.workspace.auth import SESSION_SECONDS, new_session_token, token_hash

DRAFT, REVIEW, RETURNED, PUBLISHED, DISCARDED = (
    "draft", "review", "returned", "published", "discarded")
OPEN_STATUSES = (DRAFT, REVIEW, RETURNED)


@dataclass(frozen=True)
class Editor:
    id: int
    name: str


@dataclass(frozen=True)
class Draft:
    id: int
    editor: Editor
    base_version: str
    files: Mapping[str, str]  # tree name -> the whole new text of the file
    status: str
    note: str
    comment: str
    updated_at: int


@dataclass(frozen=True)
class AuditEntry:
    at: int
    editor: Editor
    action: str
    target: str


def _draft(row: Any) -> Draft:
    return Draft(row.id, Editor(row.editor_id, row.editor_name), row.base_version,
                 json.loads(row.files), row.status, row.note, row.comment, row.updated_at)


class WorkspaceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @staticmethod
    def now() -> int:
        return int(time.time())

    async def use_nonce(self, nonce: str, expires: int) -> bool:
        """Record a link's nonce as used; False when it already was (on any replica)."""
        key = hashlib.sha256(nonce.encode()).hexdigest()
        async with self.engine.begin() as connection:
            await connection.execute(delete(WorkspaceNonce).where(
                WorkspaceNonce.expires_at < self.now()))
        try:
            async with self.engine.begin() as connection:
                await connection.execute(insert(WorkspaceNonce).values(
                    nonce_hash=key, expires_at=expires))
        except IntegrityError:
            return False
        return True

    async def open_session(self, editor: Editor) -> str:
        token = new_session_token()
        async with self.engine.begin() as connection:
            await connection.execute(delete(WorkspaceSession).where(
                WorkspaceSession.expires_at < self.now()))
            await connection.execute(insert(WorkspaceSession).values(
                token_hash=token_hash(token), editor_id=editor.id,
                editor_name=editor.name[:EDITOR_NAME_LEN],
                expires_at=self.now() + SESSION_SECONDS))
        return token

    async def session(self, token: str) -> Editor | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(WorkspaceSession.editor_id, WorkspaceSession.editor_name).where(
                    WorkspaceSession.token_hash == token_hash(token),
                    WorkspaceSession.expires_at >= self.now()))).first()
        return Editor(row[0], row[1]) if row else None

    async def close_session(self, token: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(delete(WorkspaceSession).where(
                WorkspaceSession.token_hash == token_hash(token)))

    async def audit(self, editor: Editor, action: str, target: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(insert(WorkspaceAudit).values(
                at=self.now(), editor_id=editor.id, editor_name=editor.name[:EDITOR_NAME_LEN],
                action=action, target=target[:200]))

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(
                    WorkspaceAudit.at, WorkspaceAudit.editor_id, WorkspaceAudit.editor_name,
                    WorkspaceAudit.action, WorkspaceAudit.target).order_by(
                    WorkspaceAudit.id.desc()).limit(limit))).all()
        return [AuditEntry(r[0], Editor(r[1], r[2]), r[3], r[4]) for r in rows]

    async def create_draft(self, editor: Editor, base_version: str) -> int:
        async with self.engine.begin() as connection:
            result = await connection.execute(insert(WorkspaceDraft).values(
                editor_id=editor.id, editor_name=editor.name[:EDITOR_NAME_LEN],
                base_version=base_version, files="{}", status=DRAFT, note="", comment="",
                updated_at=self.now()).returning(WorkspaceDraft.id))
            return int(result.scalar_one())

    async def draft(self, draft_id: int) -> Draft | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(WorkspaceDraft).where(
                WorkspaceDraft.id == draft_id))).first()
        return _draft(row) if row else None

    async def drafts(self, statuses: tuple[str, ...] = OPEN_STATUSES) -> list[Draft]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(WorkspaceDraft).where(
                WorkspaceDraft.status.in_(statuses)).order_by(
                WorkspaceDraft.id.desc()))).all()
        return [_draft(row) for row in rows]

    async def update_draft(self, draft_id: int, **values: object) -> None:
        """Change a draft's files (a mapping), base_version, status, note or comment."""
        if "files" in values:
            values["files"] = json.dumps(values["files"], ensure_ascii=False, sort_keys=True)
        async with self.engine.begin() as connection:
            await connection.execute(update(WorkspaceDraft).where(
                WorkspaceDraft.id == draft_id).values(updated_at=self.now(), **values))

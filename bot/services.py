"""Opening and closing what the bot needs to serve: content, database, counters, memory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.content.published import PublishedContent, open_published
from bot.content.store import ContentStore
from bot.context import Services
from bot.db.language_memory import LanguageMemory
from bot.db.notify import Listener
from bot.settings import Settings
from bot.stats.recorder import StatsRecorder
from bot.workspace.auth import workspace_key

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_services(settings: Settings, *, migrate_in_child: bool = False,
                        content: ContentStore | None = None,
                        engine: AsyncEngine | None = None) -> AsyncIterator[Services]:
    """The database, upgraded to the latest migration (in a child process for a long-running
    bot, see bot.db), and the content: the published version (JOL_CONTENT_SOURCE=database,
    bot/content/published.py: seeded from the folder when the database has none, then kept on
    the newest), or the folder; content that does not load stops the start with the exact
    problems. Counters and languages are flushed when the block ends.

    Parts built beforehand are used as they are (tests share one parsed content): `content`
    (then served as it is, never from the database), and an `engine` on
    `settings.database_url` that is already migrated; the caller keeps it and disposes of it.
    Without `content`, it is loaded in a worker thread."""
    from_database = content is None and settings.content_source == "database"
    if content is None and not from_database:
        content = await ContentStore.open(settings.content_dir, settings.stale_after_days)
    own_engine = engine is None
    if engine is None:
        if migrate_in_child:
            await db.upgrade_in_child(settings.database_url)
        else:
            await db.upgrade(settings.database_url)
        engine = db.create_engine(settings.database_url)
    listener = Listener(settings.database_url)
    versions = published = None
    try:
        if from_database:
            content, versions = await open_published(engine, settings.content_dir,
                                                     settings.stale_after_days)
            published = PublishedContent(content, versions, listener=listener,
                                         poll_seconds=settings.content_poll_seconds)
    except BaseException:
        if own_engine:
            await engine.dispose()
        raise
    assert content is not None
    secret, notices = db.load_or_create_secret(settings.secret, settings.secret_file,
                                               settings.database_url)
    for notice in notices:
        log.warning(notice)
    stats = StatsRecorder(engine, flush_seconds=settings.stats_flush_seconds,
                          cap=settings.stats_cap, gap_threshold=settings.min_report_count)
    memory = LanguageMemory(engine, secret, flush_seconds=settings.stats_flush_seconds)
    memory.listen(listener)
    handoff = None
    if settings.casework is not None:
        from bot.handoff.relay import Handoff  # cryptography is loaded only with the handoff

        handoff = Handoff(settings.casework, engine, settings.case_retention_days)
    await stats.start()
    await memory.start()
    if published is not None:
        await published.start()
    await listener.start()
    try:
        yield Services(settings=settings, content=content, engine=engine, stats=stats,
                       memory=memory, handoff=handoff, listener=listener, versions=versions,
                       workspace_key=workspace_key(secret))
    finally:
        try:
            await listener.stop()
            if published is not None:
                await published.stop()
            await memory.close()
        finally:
            await stats.close()
            if own_engine:
                await engine.dispose()

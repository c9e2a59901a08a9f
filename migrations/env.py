"""Alembic environment: runs on the connection bot.db hands over, or on its own async engine."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

import bot.handoff.models  # noqa: F401  (the cases tables join Base.metadata)
from bot.db import create_engine, lock_for_migrations
from bot.settings import Settings
from bot.stats.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """-x url=… wins, then sqlalchemy.url, then JOL_DATABASE_URL like the bot itself."""
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    return x_url or config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_on_connection(connection: Connection) -> None:
    """Batch mode on SQLite only: it rebuilds tables because ALTER there is limited."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine() -> None:
    engine = create_engine(_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lock_for_migrations)
            await connection.run_sync(run_on_connection)
    finally:
        await engine.dispose()


def run_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL for an operator to review."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (handed_over := config.attributes.get("connection")) is not None:
    # Called from bot.db.upgrade(): the app owns the logging setup and the transaction.
    run_on_connection(handed_over)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    asyncio.run(run_with_own_engine())

"""Database code in one place: engines (engine.py), the schema and its migrations (schema.py),
the chat-language key (secret.py), the tables (models.py) and the language memory
(language_memory.py). migrations/ itself stays at the repository's top level.

The names most callers need are re-exported here, so `from bot import db` reads `db.upgrade(url)`.
"""

from bot.db.engine import (
    DatabaseUnusable,
    create_engine,
    database_problem,
    parse_database_url,
    shown_url,
    sqlite_file,
    sqlite_path,
)
from bot.db.schema import (
    alembic_config,
    downgrade,
    lock_for_migrations,
    migrations_dir,
    schema_head,
    schema_is_current,
    schema_version,
    upgrade,
    upgrade_in_child,
)
from bot.db.secret import SecretUnusable, load_or_create_secret, secret_location

__all__ = [
    "DatabaseUnusable", "SecretUnusable", "alembic_config", "create_engine", "database_problem",
    "downgrade", "load_or_create_secret", "lock_for_migrations", "migrations_dir",
    "parse_database_url", "schema_head", "schema_is_current", "schema_version",
    "secret_location", "shown_url", "sqlite_file", "sqlite_path", "upgrade", "upgrade_in_child",
]

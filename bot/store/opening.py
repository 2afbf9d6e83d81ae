"""Which database a process uses: PostgreSQL when ``DATABASE_URL`` is set, else SQLite.

The one place that chooses, so the runtime, ``check``, ``audit`` and ``review`` agree.
"""

from __future__ import annotations

from typing import Any

from bot.store.database import Database


def open_database(settings: Any) -> Any:
    """A :class:`~bot.store.database.Database` or a
    :class:`~bot.store.postgres.PostgresDatabase` for ``settings``."""
    url = getattr(settings, "database_url", None)
    if url is not None:
        from bot.store.postgres import PostgresDatabase

        return PostgresDatabase(url.get_secret_value())
    return Database(settings.database_path)


def describe_database(settings: Any) -> str:
    """Where the data is, safe to log."""
    url = getattr(settings, "database_url", None)
    if url is not None:
        from bot.store.postgres import describe

        return describe(url.get_secret_value())
    return f"sqlite:{settings.database_path}"

"""Persistence: SQLite through sqlite-utils, one connection per thread, versioned migrations."""

from bot.store.database import Database
from bot.store.repository import Store

__all__ = ["Database", "Store"]

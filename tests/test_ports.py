"""The core's store port (``bot.access.ports.Store``) is what the engine calls, and the SQLite
store provides it: a method the engine starts to call without declaring it, or a signature
that drifts apart, fails here rather than in production."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import bot.access
from bot.access import ports
from bot.store.repository import Store as SQLiteStore

CORE = Path(bot.access.__file__).parent


def declared() -> dict[str, object]:
    return {
        name: member
        for name, member in vars(ports.Store).items()
        if not name.startswith("_") and callable(member)
    }


def test_the_sqlite_store_has_every_method_of_the_port_with_the_same_parameters():
    for name, member in declared().items():
        implemented = getattr(SQLiteStore, name, None)
        assert implemented is not None, f"bot.store.Store has no {name}"
        want = inspect.signature(member).parameters
        have = inspect.signature(implemented).parameters
        assert [(p.name, p.kind, p.default) for p in want.values()] == [
            (p.name, p.kind, p.default) for p in have.values()
        ], name


def test_the_core_calls_nothing_of_the_store_beyond_the_port():
    allowed = set(declared())
    called: set[tuple[str, str]] = set()
    for path in [CORE / "service.py", *sorted((CORE / "engine").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and (
                (isinstance(node.value, ast.Attribute) and node.value.attr == "store")
                or (isinstance(node.value, ast.Name) and node.value.id == "store")
            ):
                called.add((path.name, node.attr))
    assert called, "the scan found no store calls: it no longer reads the core"
    assert {(f, name) for f, name in called if name not in allowed} == set()


#: What the core must not import: the edges (store, Slack, Elastic) and their libraries.
FORBIDDEN = ("bot.store", "bot.slack", "bot.elastic", "sqlite3", "httpx", "slack_sdk")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports inside functions included)."""
    package = ".".join(path.relative_to(CORE.parent.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the module's own package
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_core_imports_nothing_from_the_edges():
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 10, "the scan found too few modules: it no longer reads the core"
    bad = {
        (str(path.relative_to(CORE)), name)
        for path in modules
        for name in _imports(path)
        if any(name == edge or name.startswith(edge + ".") for edge in FORBIDDEN)
    }
    assert bad == set()


def test_the_core_never_touches_the_database_handle():
    touched = {
        str(path.relative_to(CORE))
        for path in sorted(CORE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "db"
    }
    assert touched == set()


def test_the_sqlite_store_satisfies_the_port():
    missing = [name for name in declared() if not callable(getattr(SQLiteStore, name, None))]
    assert missing == []
    assert "write" in declared(), "transactions go through the port"

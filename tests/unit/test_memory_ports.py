"""The in-memory stand-ins are the ports the core declares: each has every method of its
Protocol in ``bot.access.ports`` with compatible parameters (same names, kinds and defaults;
anything extra optional), and every attribute the Protocol names. A Protocol that grows a
method fails here until the stand-in has it too."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import bot.access
from bot.access import ports
from tests.unit.memory import (
    MemoryCatalogue,
    MemoryDirectory,
    MemoryElastic,
    RecordingNotifier,
)

PAIRS = [
    (ports.ElasticPort, MemoryElastic),
    (ports.Directory, MemoryDirectory),
    (ports.Notifier, RecordingNotifier),
    (ports.Catalogue, MemoryCatalogue),
]
IDS = [protocol.__name__ for protocol, _ in PAIRS]


def methods(protocol: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(protocol).items()
        if not name.startswith("_") and callable(member)
    }


@pytest.mark.parametrize("protocol,stand_in", PAIRS, ids=IDS)
def test_each_stand_in_has_every_method_of_its_protocol_with_compatible_parameters(
    protocol, stand_in
):
    assert methods(protocol), f"{protocol.__name__} declares no methods: the scan is broken"
    for name, declared in methods(protocol).items():
        implemented = getattr(stand_in, name, None)
        assert callable(implemented), f"{stand_in.__name__} has no {name}"
        want = list(inspect.signature(declared).parameters.values())
        have = list(inspect.signature(implemented).parameters.values())
        shape = [(p.name, p.kind, p.default) for p in want]
        assert [(p.name, p.kind, p.default) for p in have[: len(want)]] == shape, name
        extra = [p.name for p in have[len(want) :] if p.default is inspect.Parameter.empty]
        assert extra == [], f"{stand_in.__name__}.{name} needs more than the port gives"


@pytest.mark.parametrize("protocol,stand_in", PAIRS, ids=IDS)
def test_each_stand_in_has_the_attributes_its_protocol_names(protocol, stand_in):
    instance = stand_in()
    for name in getattr(protocol, "__annotations__", {}):
        assert hasattr(instance, name), f"{stand_in.__name__} has no attribute {name}"


def test_what_the_engine_calls_on_each_port_is_declared_by_its_protocol():
    """The other half: a method the engine starts to call on a port without declaring it
    would pass with these stand-ins and fail on the real edge (or the other way round)."""
    core = Path(bot.access.__file__).parent
    by_port = {
        "elastic": ports.ElasticPort,
        "directory": ports.Directory,
        "notifier": ports.Notifier,
        "catalogue": ports.Catalogue,
    }
    called: set[tuple[str, str, str]] = set()
    for path in [core / "service.py", *sorted((core / "engine").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr in by_port
            ):
                called.add((path.name, node.value.attr, node.attr))
    assert len(called) > 20, "the scan found too few port calls: it no longer reads the core"
    undeclared = {
        (f, port, name)
        for f, port, name in called
        if name not in methods(by_port[port])
        and name not in getattr(by_port[port], "__annotations__", {})
    }
    assert undeclared == set()


def test_the_keywords_the_engine_passes_to_a_port_are_declared_by_its_protocol():
    core = Path(bot.access.__file__).parent
    by_port = {
        "elastic": ports.ElasticPort,
        "directory": ports.Directory,
        "notifier": ports.Notifier,
        "catalogue": ports.Catalogue,
        "store": ports.Store,
    }
    undeclared: set[tuple[str, str, str, str]] = set()
    for path in [core / "service.py", *sorted((core / "engine").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            port = owner.attr if isinstance(owner, ast.Attribute) else None
            declared = getattr(by_port.get(port or ""), node.func.attr, None)
            if port is None or declared is None:
                continue
            params = inspect.signature(declared).parameters
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                continue
            undeclared |= {
                (path.name, port, node.func.attr, k.arg)
                for k in node.keywords
                if k.arg and k.arg not in params
            }
    assert undeclared == set()

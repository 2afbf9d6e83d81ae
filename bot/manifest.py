"""The Slack app manifest: render it for an installation, and say what the code needs from it.

``python -m bot manifest --url https://access.example.com`` prints ``manifest.yml`` with every
request URL pointing at ``https://access.example.com/slack/events``.

The manifest must ask for exactly what the code uses: the slash commands it registers, the
events it listens for, and the bot scopes of the Web API methods it calls
(:data:`METHOD_SCOPES`). :func:`code_requirements` reads those from the source with ``ast``;
the tests and ``python -m bot check`` compare them with the manifest.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

MANIFEST_NAME = "manifest.yml"
PLACEHOLDER = "https://example.com"
SLACK_PATH = "/slack/events"
#: Keys holding request URLs; Socket Mode apps have none.
URL_KEYS = ("url", "request_url", "message_menu_options_url")

#: Bot scopes each Web API method the code may call needs (all of them: a method listed with
#: two scopes needs both). ``()`` means no scope. A call to a method missing here fails the
#: manifest tests: add it with the scopes from its page on docs.slack.dev.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth_test": (),
    # Called with the app-level token (Socket Mode), whose scope connections:write is set on
    # the app's Basic Information page, not in the manifest's bot scopes.
    "apps_connections_open": (),
    "chat_postMessage": ("chat:write",),
    "chat_update": ("chat:write",),
    "chat_postEphemeral": ("chat:write",),
    "users_info": ("users:read",),
    # users:read.email only works together with users:read.
    "users_lookupByEmail": ("users:read.email", "users:read"),
    "usergroups_list": ("usergroups:read",),
    "usergroups_users_list": ("usergroups:read",),
    "conversations_open": ("im:write",),
    "views_open": (),
    "views_update": (),
    "views_publish": (),
    "files_upload_v2": ("files:write",),
    "files_getUploadURLExternal": ("files:write",),
    "files_completeUploadExternal": ("files:write",),
}
#: Needed by any app that registers a slash command.
COMMANDS_SCOPE = "commands"


# -- reading the manifest ---------------------------------------------------------------------
def manifest_resource() -> Any:
    """manifest.yml: inside the installed package if it is there, else the checkout's root.

    ``importlib.resources`` finds package data in a wheel install (and a zip); a source
    checkout or an editable install falls back to ``<repo>/manifest.yml``.
    """
    packaged = resources.files("bot").joinpath(MANIFEST_NAME)
    if packaged.is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[1] / MANIFEST_NAME
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(
        f"{MANIFEST_NAME} is neither in the installed package nor at {checkout}; "
        "reinstall elastic-access-bot"
    )


def manifest_path() -> Path:
    """A file system path to manifest.yml (for messages and tests)."""
    return Path(str(manifest_resource()))


def manifest_text() -> str:
    return manifest_resource().read_text(encoding="utf-8")


def load_manifest() -> dict[str, Any]:
    return yaml.safe_load(manifest_text())


def slash_commands(manifest: dict[str, Any] | None = None) -> list[str]:
    manifest = load_manifest() if manifest is None else manifest
    return [c["command"] for c in (manifest.get("features") or {}).get("slash_commands") or []]


def bot_events(manifest: dict[str, Any] | None = None) -> list[str]:
    manifest = load_manifest() if manifest is None else manifest
    events = ((manifest.get("settings") or {}).get("event_subscriptions") or {}).get("bot_events")
    return list(events or [])


def bot_scopes(manifest: dict[str, Any] | None = None) -> list[str]:
    manifest = load_manifest() if manifest is None else manifest
    return list(((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])


def urls(node: Any) -> list[str]:
    """Every request URL in a (part of a) manifest."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in URL_KEYS and isinstance(value, str):
                found.append(value)
            else:
                found.extend(urls(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(urls(item))
    return found


# -- rendering --------------------------------------------------------------------------------
def base_url(url: str) -> str:
    """``https://host[/prefix]`` from what an operator typed (a trailing /slack/events is fine)."""
    value = url.strip().rstrip("/")
    value = value.removesuffix(SLACK_PATH).rstrip("/")
    if not re.match(r"^https://[^\s/?#]+(/[^\s?#]*)?$", value):
        raise ValueError(
            f"--url must be the public https:// base URL of this bot, e.g. "
            f"https://access.example.com (got {url!r})"
        )
    return value


def render_manifest(url: str | None = None, socket_mode: bool = False) -> str:
    """manifest.yml with the request URLs under ``url``; for Socket Mode, without URLs.

    The HTTP rendering is a text substitution so the file's comments survive.
    """
    text = manifest_text()
    if url:
        text = text.replace(PLACEHOLDER, base_url(url))
    if not socket_mode:
        return text
    manifest = yaml.safe_load(text)
    _drop_urls(manifest)
    manifest.setdefault("settings", {})["socket_mode_enabled"] = True
    header = "# Slack app manifest for elastic-access-bot, Socket Mode (no request URLs).\n"
    return header + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100)


def _drop_urls(node: Any) -> None:
    if isinstance(node, dict):
        for key in [k for k in node if k in URL_KEYS]:
            del node[key]
        for value in node.values():
            _drop_urls(value)
    elif isinstance(node, list):
        for item in node:
            _drop_urls(item)


# -- what the code needs ----------------------------------------------------------------------
@dataclass
class CodeRequirements:
    commands: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    #: Web API method (WebClient attribute name) → where it is called ("bot/x.py:12").
    methods: dict[str, list[str]] = field(default_factory=dict)
    #: Listener registrations ``ast`` could not resolve to a name (a test should fail on them).
    unresolved: list[str] = field(default_factory=list)

    def scopes(self) -> set[str]:
        """The bot scopes the code needs; raises KeyError naming a method with no entry."""
        needed = {COMMANDS_SCOPE} if self.commands else set()
        unknown = sorted(m for m in self.methods if m not in METHOD_SCOPES)
        if unknown:
            raise KeyError(f"no METHOD_SCOPES entry for {', '.join(unknown)}")
        for method in self.methods:
            needed.update(METHOD_SCOPES[method])
        return needed


def _web_api_methods() -> frozenset[str]:
    """WebClient's Web API method names (``chat_postMessage``…), not its plumbing."""
    from slack_sdk import WebClient
    from slack_sdk.web.base_client import BaseClient

    return frozenset(
        name
        for name in dir(WebClient)
        if not name.startswith("_") and not hasattr(BaseClient, name) and "_" in name
    )


def _constants(tree: ast.Module) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
        ):
            values[node.target.id] = node.value.value
    return values


def _listener_name(arg: ast.expr, constants: dict[str, Any]) -> str | None:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name) and isinstance(constants.get(arg.id), str):
        return constants[arg.id]
    if isinstance(arg, ast.Dict):  # app.event({"type": "message", "subtype": ...})
        for key, value in zip(arg.keys, arg.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "type":
                return _listener_name(value, constants)
    return None


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def code_requirements(package_dir: Path | None = None) -> CodeRequirements:
    """Slash commands, events and Web API methods the code under ``package_dir`` uses.

    Listeners are the ``<app>.command(X)`` and ``<app>.event(X)`` calls (decorators) with a
    literal or a module constant; methods are calls of an attribute named like a WebClient
    method (``client.chat_postMessage(...)``), plus ``say`` (Bolt's chat.postMessage).
    """
    root = package_dir or _package_dir()
    api = _web_api_methods()
    found = CodeRequirements()
    for path in sorted(root.rglob("*.py")):
        where_file = f"{root.name}/{path.relative_to(root).as_posix()}"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        constants = _constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                attr = node.func.attr
                where = f"{where_file}:{node.lineno}"
                if attr in ("command", "event") and _is_app(node.func.value):
                    name = _listener_name(node.args[0], constants) if node.args else None
                    if name is None:
                        found.unresolved.append(f"{where}: {ast.unparse(node)}")
                    else:
                        (found.commands if attr == "command" else found.events).add(name)
                elif attr in api:
                    found.methods.setdefault(attr, []).append(where)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                params = node.args.args + node.args.kwonlyargs
                if any(p.arg == "say" for p in params):
                    found.methods.setdefault("chat_postMessage", []).append(
                        f"{where_file}:{node.lineno} (say)"
                    )
    return found


def _is_app(node: ast.expr) -> bool:
    """``app.command`` / ``self.app.event``: the receiver is named ``app`` (Bolt's convention)."""
    if isinstance(node, ast.Name):
        return node.id == "app"
    return isinstance(node, ast.Attribute) and node.attr == "app"


def differences(manifest: dict[str, Any] | None = None) -> list[str]:
    """Every mismatch between the manifest and the code, one line each ([] when consistent)."""
    manifest = load_manifest() if manifest is None else manifest
    code = code_requirements()
    problems = [f"unresolved listener registration: {u}" for u in code.unresolved]

    def compare(what: str, in_code: Iterable[str], in_manifest: Iterable[str]) -> None:
        in_code, in_manifest = set(in_code), set(in_manifest)
        for item in sorted(in_code - in_manifest):
            problems.append(f"{what} {item} is used by the code but missing from the manifest")
        for item in sorted(in_manifest - in_code):
            problems.append(f"{what} {item} is in the manifest but the code does not use it")

    compare("slash command", code.commands, slash_commands(manifest))
    compare("bot event", code.events, bot_events(manifest))
    try:
        compare("bot scope", code.scopes(), bot_scopes(manifest))
    except KeyError as exc:
        problems.append(f"{exc.args[0]} (bot/manifest.py METHOD_SCOPES)")
    return problems

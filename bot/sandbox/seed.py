"""What exists in the sandbox: the Slack workspace's people and the Elastic Cloud organization.

A seed is a TOML or JSON file (``--seed FILE``; the demo is ``demo/seed.toml``) read into
the models below and checked as a whole before anything starts, so a typo is one clear line
(``seed.toml: members #2.roles #1.on: no deployment or project named 'prod-serch'``) and
never a traceback from inside a stand-in.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.standins.elastic.state import VALID_ROLE_IDS

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_SEED = DEMO_DIR / "seed.toml"
DEMO_POLICY = DEMO_DIR / "policy.toml"

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_PROJECT_ID = re.compile(r"^[a-z0-9]{32}$")
ALL_DEPLOYMENTS = "*"


class SeedError(Exception):
    """A seed file that cannot be used; ``lines`` says every problem found, one per line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organization(_Strict):
    id: str = Field(default="4180000000", pattern=r"^[0-9]{1,20}$")
    name: str = "Acme"


class SlackUser(_Strict):
    """A person in the Slack workspace; ``guest`` makes them a guest (who may not request)."""

    id: str
    name: str = Field(min_length=1)
    real_name: str = ""
    email: str | None = None
    guest: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _SLACK_USER_ID.fullmatch(value):
            raise ValueError("a Slack user ID is U or W then capital letters and digits")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class UserGroup(_Strict):
    id: str
    handle: str = Field(min_length=1)
    users: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _USERGROUP_ID.fullmatch(value):
            raise ValueError("a user group ID is S then capital letters and digits")
        return value


class StandingRole(_Strict):
    """A role a member holds already: on the organization (no ``on``), on a deployment or
    project by name, or on every deployment (``on = "*"``)."""

    role: str
    on: str | None = None


class Member(_Strict):
    """A member of the Elastic Cloud organization (matched to Slack people by email)."""

    email: str
    name: str = ""
    roles: list[StandingRole] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class Deployment(_Strict):
    name: str = Field(min_length=1)
    id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    #: A stopped (hidden) deployment: Elastic refuses role changes on it.
    stopped: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not _HEX32.fullmatch(value):
            raise ValueError("deployment IDs are 32 lowercase hex characters")
        return value


class Project(_Strict):
    type: Literal["elasticsearch", "observability", "security"]
    name: str = Field(min_length=1)
    id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not _PROJECT_ID.fullmatch(value):
            raise ValueError("project IDs are 32 characters of a-z and 0-9")
        return value


class Seed(_Strict):
    """Everything the stand-ins start with."""

    organization: Organization = Field(default_factory=Organization)
    slack_users: list[SlackUser] = Field(min_length=1)
    usergroups: list[UserGroup] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)
    deployments: list[Deployment] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)

    def user(self, user_id: str) -> SlackUser | None:
        return next((u for u in self.slack_users if u.id == user_id), None)


def load_seed(path: Path | str) -> Seed:
    """Read and check a seed file (``.toml`` or ``.json``), or raise :class:`SeedError`."""
    path = Path(path)
    where = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError([f"{path}: cannot read it ({exc.strerror or exc})"]) from None
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(text)
        elif path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            raise SeedError([f"{where}: a seed file is .toml or .json"])
    except json.JSONDecodeError as exc:
        raise SeedError([f"{where}: not valid JSON (line {exc.lineno}: {exc.msg})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SeedError([f"{where}: not valid TOML ({exc})"]) from None
    return parse_seed(data, where)


def parse_seed(data: Any, where: str = "seed") -> Seed:
    """Check already-parsed seed data; every problem is reported, not only the first."""
    if not isinstance(data, dict):
        raise SeedError([f"{where}: the top level must be a table (an object)"])
    try:
        seed = Seed.model_validate(data)
    except ValidationError as exc:
        raise SeedError([f"{where}: {line}" for line in _lines(exc)]) from None
    problems = _cross_checks(seed)
    if problems:
        raise SeedError([f"{where}: {line}" for line in problems])
    return seed


def demo_seed() -> Seed:
    return load_seed(DEMO_SEED)


def _lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        name = ""
        for part in error.get("loc", ()):
            name += f" #{part + 1}" if isinstance(part, int) else (f".{part}" if name else part)
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown key (check the spelling)"
        elif error.get("type") == "missing":
            message = "required"
        lines.append(f"{name or 'seed'}: {message}")
    return lines


def _cross_checks(seed: Seed) -> list[str]:
    """What one entry cannot see alone: duplicates, names that name nothing, roles that do
    not exist for the resource they are on."""
    problems: list[str] = []
    users = {u.id for u in seed.slack_users}
    problems += _duplicates("slack_users", [u.id for u in seed.slack_users], "ID")
    problems += _duplicates(
        "slack_users", [u.email.lower() for u in seed.slack_users if u.email], "email"
    )
    problems += _duplicates("members", [m.email.lower() for m in seed.members], "email")
    problems += _duplicates("usergroups", [g.handle for g in seed.usergroups], "handle")
    problems += _duplicates("deployments", [d.name for d in seed.deployments], "name")
    problems += _duplicates("projects", [p.name for p in seed.projects], "name")
    for i, group in enumerate(seed.usergroups, 1):
        for user in group.users:
            if user not in users:
                problems.append(f"usergroups #{i}.users: {user!r} is not among slack_users")
    deployments = {d.name for d in seed.deployments}
    projects = {p.name: p.type for p in seed.projects}
    for i, member in enumerate(seed.members, 1):
        for j, held in enumerate(member.roles, 1):
            where = f"members #{i}.roles #{j}"
            if held.on is None:
                kind = "organization"
            elif held.on == ALL_DEPLOYMENTS or held.on in deployments:
                kind = "deployment"
            elif held.on in projects:
                kind = projects[held.on]
            else:
                problems.append(f"{where}.on: no deployment or project named {held.on!r}")
                continue
            if held.role not in VALID_ROLE_IDS[kind]:
                valid = ", ".join(sorted(VALID_ROLE_IDS[kind]))
                problems.append(f"{where}.role: {held.role!r} is not a {kind} role ({valid})")
    return problems


def _duplicates(table: str, values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return [f"{table}: the {what} {value!r} appears twice" for value in repeated]

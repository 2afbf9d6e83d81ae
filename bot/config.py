"""Settings: environment variables plus an optional TOML file (``ELASTIC_ACCESS_CONFIG``).

The environment wins over the file. Every problem is reported at start, one line per bad
setting, naming it, and the process stops; a bot that starts half-configured would fail
later, in front of a user, with an Organization-owner key in hand.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.access.durations import DurationError, parse_duration
from bot.access.policy import AccessPolicy
from bot.access.routing import OwnerAttribute, ResourceOwnerSetting
from bot.access.rules import (
    Rule,
    Rules,
    validate_pattern,
    validate_requester,
    validate_stack_role,
)

CONFIG_ENV = "ELASTIC_ACCESS_CONFIG"
ACCESS_DETAILS_LIMIT = 400
_NAME = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_OWNER = re.compile(r"^(?:[UW][A-Z0-9]{2,}|[^@\s]+@[^@\s]+\.[^@\s]+|@[\w.\-]+)$")


def _loopback(url: str) -> bool:
    """True when ``url`` names this machine (127.0.0.0/8, ::1 or localhost): a local proxy or a
    test fake, where cleartext never leaves the host."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConfigError(Exception):
    """The configuration is not usable; ``lines`` holds one message per bad setting."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _duration(value: Any, name: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(str(value))
    except DurationError as exc:
        raise ValueError(str(exc)) from exc


class ResourceOwnerConfig(BaseModel):
    """``[resource_owner]``: the tag on a resource whose value names its owners."""

    model_config = ConfigDict(extra="forbid")
    tag_key: str = Field(min_length=1)
    attribute: OwnerAttribute


class PolicyRuleConfig(BaseModel):
    """One ``[[policy]]`` table; the first rule matching a request decides."""

    model_config = ConfigDict(extra="forbid")
    name: str = ""
    resources: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    roles: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    max_duration: timedelta | None = None
    approvals: int = Field(default=1, ge=1, le=10)
    auto_approve: bool = False
    require_justification: bool = True
    justification_pattern: str = ""
    extend_without_approval: bool = False
    break_glass: bool = False
    #: Who may use the rule (user IDs, emails, @usergroups, domain:…); unset: everyone.
    requesters: list[str] | None = None
    #: Stack roles the rule covers (#14 §1): projects' custom roles by name or glob, and
    #: for deployments the names to offer (granted as deployment-viewer with that role).
    stack_roles: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _stack_roles(self) -> PolicyRuleConfig:
        """Each entry a name (or glob) the bot would offer, on a rule whose resources can
        hold a stack role; the message names the rule."""
        if not self.stack_roles:
            return self
        rule = f"rule '{self.name}'" if self.name else "this rule"
        problems = [p for p in (validate_stack_role(v) for v in self.stack_roles) if p]
        if problems:
            raise ValueError(f"stack_roles of {rule}: " + "; ".join(problems))
        kinds = {r.strip().partition(":")[0] for r in self.resources}
        if not kinds & {"*", "deployment", "deployment-tag", "project"}:
            raise ValueError(
                f"stack_roles of {rule}: its resources ({', '.join(self.resources)}) hold no "
                "stack roles; they are granted on a deployment or a serverless project (the "
                "organization's role assignments have no application_roles, and the bot does "
                "not grant them on all deployments at once)"
            )
        return self

    @field_validator("requesters")
    @classmethod
    def _requesters(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("empty: leave requesters out to let everyone use the rule")
        value = [v.strip() for v in value]
        problems = [p for p in (validate_requester(v) for v in value) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("max_duration", mode="before")
    @classmethod
    def _max(cls, value: Any) -> timedelta | None:
        return None if value is None else _duration(value, "max_duration")

    @field_validator("resources")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        problems = [p for p in (validate_pattern(v) for v in value) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("justification_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc})") from None
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="forbid", validate_default=True, env_ignore_empty=True
    )

    # -- Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    # -- Elastic Cloud
    elastic_cloud_api_key: SecretStr | None = None
    elastic_cloud_api_key_file: Path | None = None
    elastic_cloud_organization_id: str | None = None
    elastic_cloud_api_url: str = "https://api.elastic-cloud.com"
    #: The API key's ID (not the key): when set, the bot warns before the key expires.
    elastic_cloud_api_key_id: str | None = None

    # -- storage and serving
    database_path: Path = Path("./elastic-access.db")
    #: ``postgresql://user:password@host:port/db`` selects PostgreSQL (several replicas on
    #: one database); unset, the embedded SQLite file at ``database_path`` is used.
    database_url: SecretStr | None = None
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"  # noqa: S104 - a server must listen beyond loopback
    log_format: str = "text"
    log_level: str = "INFO"

    # -- integration settings (the product this replaces)
    integration_name: str = "elastic-cloud"
    access_details: str = ""
    integration_owners: Annotated[list[str], NoDecode] = Field(default_factory=list)
    auditors: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_duration: timedelta = timedelta(hours=12)
    default_duration: timedelta = timedelta(hours=1)
    resource_owner: ResourceOwnerConfig | None = None
    policy: list[PolicyRuleConfig] = Field(default_factory=list)
    pending_timeout: timedelta = timedelta(hours=24)
    reminder_after: timedelta = timedelta(hours=1)
    max_reminders: int = Field(default=3, ge=0, le=20)
    escalate_after: timedelta | None = None
    notify_channel: str | None = None
    expiry_notice: timedelta = timedelta(minutes=10)

    # -- who may act, and how much
    #: Requesters (and so invitation emails) must have an address in one of these domains.
    allowed_email_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Open (pending) requests one person may have at once.
    max_pending_per_requester: int = Field(default=5, ge=1, le=10000)
    #: After a break-glass grant, the same person must wait this long for the next one.
    break_glass_cooldown: timedelta = timedelta(hours=1)
    #: Break-glass grants live at once, across everyone.
    break_glass_max_active: int = Field(default=2, ge=1, le=50)
    #: How often the sweep re-checks the requesters of live grants against Slack (leavers
    #: whose ``user_change`` event never arrived).
    requester_recheck: timedelta = timedelta(minutes=5)

    # -- operations
    sweep_interval: timedelta = timedelta(seconds=15)
    #: How often each process looks in the database for work that fell due (grants to make,
    #: revocations, retries), besides its own timers: what a dead replica left is taken over
    #: this soon after its lease runs out. Empty: only the sweep looks.
    claim_interval: timedelta | None = timedelta(seconds=2)
    #: How long a claim on a row lasts without being renewed (each process renews its own
    #: every quarter of it): a killed process's work is taken over after at most this long.
    work_lease: timedelta = timedelta(seconds=20)
    #: Threads for the work that follows an ack (filing, deciding, revoking). Fewer threads
    #: keep acknowledgements fast under load; more help when Slack and Elastic are slow.
    work_threads: int = Field(default=4, ge=1, le=64)
    overdue_alert_after: timedelta = timedelta(minutes=5)
    catalogue_refresh: timedelta = timedelta(minutes=10)
    #: How often what the bot owns and removed is compared with what Elastic shows (drift).
    reconcile_interval: timedelta = timedelta(hours=24)
    #: Access reviews: weekly, daily or an interval (14d); each resource owner and the
    #: integration owners get a digest of their resources once per period. Unset: off.
    access_review: timedelta | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(CONFIG_ENV)
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)

    @field_validator(
        "max_duration",
        "default_duration",
        "sweep_interval",
        "work_lease",
        "overdue_alert_after",
        "catalogue_refresh",
        "reconcile_interval",
        "pending_timeout",
        "reminder_after",
        "expiry_notice",
        "break_glass_cooldown",
        "requester_recheck",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: Any, info: Any) -> timedelta:
        return _duration(value, info.field_name)

    @field_validator("escalate_after", "claim_interval", mode="before")
    @classmethod
    def _optional_duration(cls, value: Any, info: Any) -> timedelta | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _duration(value, info.field_name)

    @field_validator("allowed_email_domains", mode="before")
    @classmethod
    def _domain_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: comma-separated
            value = value.split(",")
        if isinstance(value, list):
            return [str(v).strip().lower().lstrip("@") for v in value if str(v).strip()]
        return value

    @field_validator("allowed_email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _DOMAIN.match(v)]
        if bad:
            raise ValueError(f"{', '.join(bad)} is not a domain name (example.com)")
        return value

    @field_validator("integration_owners", "auditors", mode="before")
    @classmethod
    def _owner_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: comma-separated
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("integration_owners", "auditors")
    @classmethod
    def _owner_forms(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _OWNER.match(v.strip())]
        if bad:
            raise ValueError(
                f"{', '.join(bad)} is not a Slack user ID (U…), an email or an @usergroup handle"
            )
        return [v.strip() for v in value]

    @field_validator("integration_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be letters, digits and single dashes, e.g. elastic-cloud")
        return value

    @field_validator("access_details")
    @classmethod
    def _details(cls, value: str) -> str:
        if len(value) > ACCESS_DETAILS_LIMIT:
            raise ValueError(f"is {len(value)} characters; at most {ACCESS_DETAILS_LIMIT} allowed")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError("must be text or json")
        return value.lower()

    @field_validator("slack_api_url", "elastic_cloud_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        if not value.lower().startswith("https://") and not _loopback(value):
            # Tokens and the Organization-owner key would cross the network in clear.
            raise ValueError(
                "must be https:// (plain http:// only to a loopback host: 127.0.0.1, ::1, localhost)"
            )
        return value

    @field_validator("access_review", mode="before")
    @classmethod
    def _review_interval(cls, value: Any) -> timedelta | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, timedelta):
            return value
        from bot.access.review import parse_interval

        return parse_interval(str(value))

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.default_duration > self.max_duration:
            raise ValueError("default_duration is longer than max_duration")
        if self.escalate_after is not None and self.escalate_after >= self.pending_timeout:
            raise ValueError(
                "escalate_after is not shorter than pending_timeout, so requests would time out "
                "before they escalate"
            )
        if self.database_url is not None and not self.database_url.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError(
                "DATABASE_URL must be a postgresql:// URL (leave it unset to use SQLite at "
                "DATABASE_PATH)"
            )
        if self.resource_owner is not None and not self.integration_owners:
            raise ValueError(
                "resource_owner is set, so integration_owners must be set too (the fallback approvers)"
            )
        return self

    # -- derived -----------------------------------------------------------------------------
    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def api_key(self) -> str:
        if self.elastic_cloud_api_key is not None:
            return self.elastic_cloud_api_key.get_secret_value()
        assert self.elastic_cloud_api_key_file is not None
        return self.elastic_cloud_api_key_file.read_text().strip()

    def secrets(self) -> list[str]:
        """Every secret value this process holds (for the log redactor and the tests)."""
        values = [
            s.get_secret_value()
            for s in (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token)
            if s is not None
        ]
        if self.database_url is not None:
            with contextlib.suppress(Exception):
                from urllib.parse import urlsplit

                password = urlsplit(self.database_url.get_secret_value()).password
                if password:
                    values.append(password)
            values.append(self.database_url.get_secret_value())
        with contextlib.suppress(OSError, AssertionError):
            values.append(self.api_key())
        return [v for v in values if v]

    def access_policy(self) -> AccessPolicy:
        owner = (
            ResourceOwnerSetting(self.resource_owner.tag_key, self.resource_owner.attribute)
            if self.resource_owner
            else None
        )
        rules = Rules(
            tuple(
                Rule(
                    resources=tuple(r.resources),
                    roles=tuple(r.roles),
                    max_duration=r.max_duration,
                    approvals=r.approvals,
                    auto_approve=r.auto_approve,
                    require_justification=r.require_justification,
                    justification_pattern=r.justification_pattern,
                    extend_without_approval=r.extend_without_approval,
                    break_glass=r.break_glass,
                    name=r.name,
                    requesters=tuple(r.requesters or ()),
                    stack_roles=tuple(r.stack_roles),
                )
                for r in self.policy
            )
        )
        return AccessPolicy(
            resource_owner=owner,
            rules=rules,
            pending_timeout=self.pending_timeout,
            reminder_after=self.reminder_after,
            max_reminders=self.max_reminders,
            escalate_after=self.escalate_after,
            notify_channel=self.notify_channel,
            expiry_notice=self.expiry_notice,
            organization_id=self.elastic_cloud_organization_id or "",
            integration_name=self.integration_name,
            integration_owners=tuple(self.integration_owners),
            auditors=tuple(self.auditors),
            access_details=self.access_details,
            max_duration=self.max_duration,
            default_duration=self.default_duration,
            overdue_alert_after=self.overdue_alert_after,
            allowed_email_domains=tuple(self.allowed_email_domains),
            max_pending_per_requester=self.max_pending_per_requester,
            break_glass_cooldown=self.break_glass_cooldown,
            break_glass_max_active=self.break_glass_max_active,
            requester_recheck=self.requester_recheck,
            lease=self.work_lease,
            access_review=self.access_review,
        )


_ENV_STYLE = ("slack_", "elastic_", "database_", "port", "host", "log_")


def _display_name(field: str) -> str:
    """Environment-style settings are named as variables; integration settings as TOML keys."""
    return field.upper() if field.startswith(_ENV_STYLE) else field


def _requirements(settings: Settings, *, need_slack: bool) -> list[str]:
    """Checks that depend on the run mode (which a field validator cannot see alone)."""
    lines = []
    if need_slack and settings.slack_bot_token is None:
        lines.append("SLACK_BOT_TOKEN: required (the bot token, xoxb-…)")
    if need_slack and not settings.socket_mode and settings.slack_signing_secret is None:
        lines.append(
            "SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    if settings.elastic_cloud_api_key is None and settings.elastic_cloud_api_key_file is None:
        lines.append("ELASTIC_CLOUD_API_KEY: required (or ELASTIC_CLOUD_API_KEY_FILE)")
    elif settings.elastic_cloud_api_key is None:
        path = settings.elastic_cloud_api_key_file
        try:
            if not settings.api_key():
                lines.append(f"ELASTIC_CLOUD_API_KEY_FILE: {path} is empty")
        except OSError as exc:
            lines.append(f"ELASTIC_CLOUD_API_KEY_FILE: cannot read {path} ({exc.strerror})")
    if not settings.elastic_cloud_organization_id:
        lines.append("ELASTIC_CLOUD_ORGANIZATION_ID: required (the organization's ID)")
    if not settings.integration_owners:
        lines.append(
            "integration_owners: required, at least one Slack user ID, email or @usergroup "
            "(TOML key, or INTEGRATION_OWNERS as a comma-separated list)"
        )
    return lines


def load_settings(*, need_slack: bool = True, **overrides: Any) -> Settings:
    """Read and validate the settings, or raise :class:`ConfigError` listing every problem."""
    path = os.environ.get(CONFIG_ENV)
    if path and not Path(path).is_file():
        raise ConfigError([f"{CONFIG_ENV}: {path} is not a readable file"])
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_lines(exc) + _requirements_despite(exc, need_slack, overrides)) from None
    except ValueError as exc:  # e.g. a TOML syntax error
        raise ConfigError([f"{CONFIG_ENV}: {exc}"]) from None
    problems = _requirements(settings, need_slack=need_slack)
    if problems:
        raise ConfigError(problems)
    return settings


class _Lenient(Settings):
    """Settings that skip unknown keys: only used to find missing ones next to bad ones."""

    model_config = SettingsConfigDict(extra="ignore")


def _requirements_despite(
    exc: ValidationError, need_slack: bool, overrides: dict[str, Any]
) -> list[str]:
    """The missing required settings, found with every invalid field reset to its default,
    so one bad setting never hides another missing one."""
    bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
    defaults = {
        n: f.get_default(call_default_factory=True)
        for n, f in Settings.model_fields.items()
        if n in bad
    }
    try:
        partial = _Lenient(**{**overrides, **defaults})
    except (ValidationError, ValueError):
        return []
    reported = {_display_name(n) for n in bad}
    return [
        line
        for line in _requirements(partial, need_slack=need_slack)
        if line.split(":", 1)[0] not in reported
    ]


def _lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in error.get("loc", ())]
        name = _display_name(loc[0]) if loc else "configuration"
        for part in loc[1:]:  # inside a table: ``policy #2.aprovals`` (rules count from 1)
            name += f" #{int(part) + 1}" if part.isdigit() else f".{part}"
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown setting (check the spelling)"
        lines.append(f"{name}: {message}")
    return lines

"""``python -m bot sandbox --script FILE``: a scenario run headless, for a person or for CI.

A scenario (TOML or JSON) is a list of steps; each step does one thing as one person — types
a command, clicks a button by its text, submits the open form, opens the Home tab — or moves
the clock, or flips a fault switch, and may state what must then be true (``expect``). The
runner prints what everyone saw and Elastic Cloud's state after every step, and exits 1 at
the first step that cannot be done or whose expectation fails (2 for a file it cannot use),
so a policy file can be tested in CI before it reaches production.

The step keys are documented in the README (*Scripted scenarios*) and shown by
``examples/sandbox/*.toml``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.access.durations import parse_duration
from bot.sandbox.actions import FAULTS, ActionError, Actions, Private, find_option
from bot.sandbox.transcript import (
    buttons,
    holdings_lines,
    message_lines,
    text_of_element,
)
from bot.sandbox.world import World

ACTIONS = ("type", "click", "submit", "advance", "home", "fault")
EXPECTATIONS = (
    "reply",
    "dm",
    "no_dm",
    "channel",
    "has",
    "lacks",
    "invited",
    "form_open",
    "form_error",
    "home",
)
STEP_KEYS = {*ACTIONS, "as", "on", "expect", "note"}


class ScriptError(Exception):
    """The scenario file cannot be used (exit 2)."""


class StepFailed(Exception):
    """A step could not be done, or what it expected is not so (exit 1)."""


@dataclass
class Step:
    number: int
    data: dict[str, Any]

    @property
    def action(self) -> str:
        return next(k for k in ACTIONS if k in self.data)


def load_script(path: Path | str) -> list[Step]:
    """Read and check a scenario file: its steps, each with exactly one action."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        elif path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            raise ScriptError(f"{path.name}: a scenario is .toml or .json")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScriptError(f"{path.name}: cannot parse it ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("step"), list) or not data["step"]:
        raise ScriptError(f"{path.name}: no steps (a scenario is a list of [[step]] tables)")
    unknown_top = set(data) - {"step", "description"}
    if unknown_top:
        raise ScriptError(f"{path.name}: unknown key(s) {', '.join(sorted(unknown_top))}")
    steps = []
    for number, raw in enumerate(data["step"], 1):
        where = f"{path.name}: step {number}"
        if not isinstance(raw, dict):
            raise ScriptError(f"{where}: a step is a table")
        unknown = set(raw) - STEP_KEYS
        if unknown:
            raise ScriptError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        actions = [k for k in ACTIONS if k in raw]
        if len(actions) != 1:
            raise ScriptError(f"{where}: needs exactly one of {', '.join(ACTIONS)}")
        if actions[0] in ("type", "click", "submit", "home") and not raw.get("as"):
            raise ScriptError(f"{where}: {actions[0]} needs `as` (who does it)")
        expect = raw.get("expect", {})
        if not isinstance(expect, dict):
            raise ScriptError(f"{where}: expect is a table")
        unknown = set(expect) - set(EXPECTATIONS)
        if unknown:
            raise ScriptError(
                f"{where}: unknown expectation(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(EXPECTATIONS)})"
            )
        if "advance" in raw:
            try:
                parse_duration(str(raw["advance"]))
            except Exception as exc:
                raise ScriptError(f"{where}: advance: {exc}") from None
        if "fault" in raw:
            fault = raw["fault"]
            if not isinstance(fault, dict) or set(fault) - set(FAULTS):
                raise ScriptError(
                    f"{where}: fault is a table of switches ({', '.join(FAULTS)}) = true/false"
                )
        steps.append(Step(number, raw))
    return steps


@dataclass
class Runner:
    """Runs steps against a started :class:`World`, printing to ``out``."""

    world: World
    out: TextIO
    actions: Actions = field(init=False)
    _seen: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _elastic: list[str] = field(default_factory=list)
    _replies: list[Private] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.actions = Actions(self.world)
        self._changed_messages()  # nothing posted yet, but keep the bookkeeping honest
        self._elastic = self._elastic_lines()

    # -- running ---------------------------------------------------------------------------
    def run(self, steps: list[Step]) -> int:
        """0 when every step ran and every expectation held; 1 at the first that did not."""
        self.say(f"sandbox clock starts at {self._now()}")
        self.say("Elastic Cloud:")
        for line in self._elastic:
            self.say(f"    {line}")
        for step in steps:
            try:
                self.step(step)
            except (StepFailed, ActionError) as exc:
                self.say(f"  ✗ step {step.number} failed: {exc}")
                self.say(f"FAILED at step {step.number} of {len(steps)}")
                return 1
        self.say(f"passed: {len(steps)} step(s)")
        return 0

    def step(self, step: Step) -> None:
        data = step.data
        user = self.user(data["as"]) if data.get("as") else ""
        self.say("")
        self.say(f"[{step.number}] {self._now()}  {self._describe(step, user)}")
        if data.get("note"):
            self.say(f"    ({data['note']})")
        self._replies = []
        action = step.action
        if action == "type":
            self._replies = self.actions.command(user, str(data["type"]))
        elif action == "click":
            self._replies = self._click(user, str(data["click"]), str(data.get("on", "")))
        elif action == "submit":
            self._submit(user, data["submit"])
        elif action == "advance":
            self.actions.advance(parse_duration(str(data["advance"])))
        elif action == "home":
            self.actions.open_home(user)
        elif action == "fault":
            for name, on in data["fault"].items():
                self.actions.set_fault(name, bool(on))
            self.world.settle()
        self._print_changes(user, action)
        self._check(data.get("expect") or {}, user)

    # -- the actions -------------------------------------------------------------------------
    def _click(self, user: str, label: str, on: str) -> list[Private]:
        """The button ``label`` on the newest message (DM, private reply, or Home tab) whose
        text contains ``on``."""
        wanted = label.strip().lower()
        name_of = self.name_of
        for message in reversed(self.world.slack.messages_to(user)):
            text = "\n".join(message_lines(message, name_of))
            if on and on.lower() not in text.lower():
                continue
            for button in buttons(message.get("blocks") or []):
                if text_of_element(button).strip().lower() == wanted:
                    ref = f"{message['channel']}/{message['ts']}"
                    return self._press(user, "message", button, ref)
        for reply in reversed(self.actions.private(user)):
            text = "\n".join(message_lines({"text": reply.text, "blocks": reply.blocks}, name_of))
            if on and on.lower() not in text.lower():
                continue
            for button in buttons(reply.blocks):
                if text_of_element(button).strip().lower() == wanted:
                    return self._press(user, "private", button, str(reply.id))
        home = self.world.slack.home_view(user)
        if home is not None:
            text = "\n".join(message_lines(home, name_of))
            if not on or on.lower() in text.lower():
                for button in buttons(home.get("blocks") or []):
                    if text_of_element(button).strip().lower() == wanted:
                        return self._press(user, "home", button, "")
        where = f" on a message containing {on!r}" if on else ""
        raise StepFailed(f"{self.name_of(user)} has no button {label!r}{where}")

    def _press(self, user: str, where: str, button: dict[str, Any], ref: str) -> list[Private]:
        return self.actions.click(
            user,
            where,
            str(button.get("action_id", "")),
            str(button.get("value", "")),
            str(button.get("block_id", "")),
            ref=ref,
        )

    def _submit(self, user: str, values: Any) -> None:
        """Fill the open form in order (a choice that changes the form, such as the
        resource, is sent first, as Slack does) and submit it."""
        if not isinstance(values, dict):
            raise StepFailed("submit is a table of field = value")
        view = self.actions.modal_view(user)
        if view is None:
            raise StepFailed(f"{self.name_of(user)} has no form open")
        inputs = {b.get("block_id"): b for b in view["blocks"] if b.get("type") == "input"}
        unknown = set(values) - set(inputs)
        if unknown:
            raise StepFailed(
                f"the form has no field {', '.join(sorted(unknown))} "
                f"(its fields: {', '.join(k for k in inputs if k)})"
            )
        entered: dict[str, Any] = {}
        for block_id in list(inputs):
            if block_id not in values:
                continue
            view = self.actions.modal_view(user) or view
            block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
            entered[block_id] = self._entry(user, block, values[block_id])
            if block.get("dispatch_action"):
                self.actions.pick(user, entered, block_id)
        errors = self.actions.submit(user, entered)
        if errors:
            for name, message in errors.items():
                self.say(f"    form error on {name}: {message}")

    def _entry(self, user: str, block: dict[str, Any], wanted: Any) -> Any:
        element = block.get("element") or {}
        kind = element.get("type")
        if kind == "external_select":
            options = self.actions.options(user, element.get("action_id", ""), str(wanted))
            option = _best(options, str(wanted))
            if option is None:
                labels = [o["text"]["text"] for o in options]
                raise StepFailed(
                    f"the type-ahead offers nothing matching {wanted!r} (it offers {labels})"
                )
            return {"value": option["value"], "label": option["text"]["text"]}
        if kind in ("static_select", "radio_buttons") and find_option(element, wanted) is None:
            offered = [o.get("value") for o in element.get("options") or []]
            raise StepFailed(f"{block.get('block_id')} offers no {wanted!r} (it offers {offered})")
        if kind == "checkboxes" and isinstance(wanted, bool):
            options = element.get("options") or []
            return [options[0]["value"]] if wanted and options else []
        return wanted

    # -- expectations ------------------------------------------------------------------------
    def _check(self, expect: dict[str, Any], user: str) -> None:
        name_of = self.name_of
        for key, wanted in expect.items():
            if key == "reply":
                said = "\n".join(
                    "\n".join(message_lines({"text": r.text, "blocks": r.blocks}, name_of))
                    for r in self._replies
                )
                for text in _texts(wanted):
                    if text.lower() not in said.lower():
                        raise StepFailed(
                            f"expected a private reply containing {text!r}; got {said!r}"
                        )
            elif key in ("dm", "no_dm"):
                for item in _tables(wanted, key):
                    who = self.user(item.get("to") or user)
                    said = "\n\n".join(
                        "\n".join([*message_lines(m, name_of), str(m.get("text") or "")])
                        for m in self.world.slack.messages_to(who)
                    )
                    found = str(item.get("text", "")).lower() in said.lower()
                    if key == "dm" and not found:
                        raise StepFailed(
                            f"expected a DM to {name_of(who)} containing {item.get('text')!r}"
                        )
                    if key == "no_dm" and found:
                        raise StepFailed(
                            f"expected no DM to {name_of(who)} containing {item.get('text')!r}"
                        )
            elif key == "channel":
                said = "\n".join(
                    "\n".join(message_lines(m, name_of)) for m in self._channel_messages()
                )
                for text in _texts(wanted):
                    if text.lower() not in said.lower():
                        raise StepFailed(f"expected the notify channel to say {text!r}")
            elif key in ("has", "lacks"):
                for line in _texts(wanted):
                    held = self._holds(line)
                    if key == "has" and not held:
                        raise StepFailed(f"expected Elastic Cloud to show {line!r}")
                    if key == "lacks" and held:
                        raise StepFailed(f"expected Elastic Cloud not to show {line!r}")
            elif key == "invited":
                emails = {i["email"].lower() for i in self.world.elastic.invitations()}
                for email in _texts(wanted):
                    if email.lower() not in emails:
                        raise StepFailed(f"expected an invitation to {email}")
            elif key == "form_open":
                is_open = self.actions.modal_view(user) is not None
                if bool(wanted) != is_open:
                    raise StepFailed(f"expected the form {'open' if wanted else 'closed'}")
            elif key == "form_error":
                modal = self.actions.modals.get(user)
                errors = modal.errors if modal else {}
                for name in _texts(wanted):
                    if name not in errors:
                        raise StepFailed(f"expected an error on the form's {name}; got {errors}")
            elif key == "home":
                view = self.world.slack.home_view(user)
                said = "\n".join(message_lines(view, name_of)) if view else ""
                for text in _texts(wanted):
                    if text.lower() not in said.lower():
                        raise StepFailed(f"expected the Home tab to say {text!r}")
            self.say(f"    ✓ expect {key}: {json.dumps(wanted, ensure_ascii=False)}")

    def _holds(self, line: str) -> bool:
        """``email role [resource]``: the member holds the role there (no resource: on the
        organization; ``all``: on every deployment)."""
        parts = line.split()
        if len(parts) not in (2, 3):
            raise StepFailed(f"{line!r}: write `email role` or `email role resource`")
        email, role = parts[0], parts[1]
        user_id = self.world.elastic.user_id_for(email)
        if user_id is None:
            return False
        held = self.world.elastic.holdings(user_id)
        if len(parts) == 2 or parts[2] == "organization":
            return any(r == role and k == "organization" for k, r, _ in held)
        target = parts[2]
        ids = {"all": "*", "*": "*", **{v: k for k, v in self._resource_names().items()}}
        wanted = ids.get(target, target)
        return any(r == role and t == wanted for _, r, t in held)

    # -- output ----------------------------------------------------------------------------
    def _print_changes(self, user: str, action: str) -> None:
        name_of = self.name_of
        for reply in self._replies:
            lines = message_lines({"text": reply.text, "blocks": reply.blocks}, name_of)
            self._block(f"only {name_of(reply.user)} sees", lines)
        if action == "submit" and user in self.actions.modals:
            self.say("    the form stays open")
        elif action in ("type", "click") and user in self.actions.modals:
            view = self.actions.modal_view(user)
            title = (view or {}).get("title", {}).get("text", "")
            self.say(f"    a form opens for {name_of(user)}: {title}")
        for where, message, updated in self._changed_messages():
            verb = "updated" if updated else "new"
            self._block(f"{where} ({verb})", message_lines(message, name_of))
        if action == "home":
            view = self.world.slack.home_view(user)
            if view:
                self._block(f"{name_of(user)}'s Home tab", message_lines(view, name_of))
        now = self._elastic_lines()
        if now == self._elastic:
            self.say("    Elastic Cloud: unchanged")
        else:
            self.say("    Elastic Cloud:")
            for line in now:
                marker = "  " if line in self._elastic else "* "
                self.say(f"    {marker}{line}")
        self._elastic = now

    def _block(self, heading: str, lines: list[str]) -> None:
        self.say(f"    {heading}:")
        for line in lines:
            if line.strip():
                self.say(f"      | {line}")

    def _changed_messages(self) -> list[tuple[str, dict[str, Any], bool]]:
        """Messages posted or edited since the last look: (where, message, was it edited)."""
        changed = []
        places = [
            (f"DM to {self.name_of(u.id)}", self.world.slack.messages_to(u.id))
            for u in self.world.seed.slack_users
        ]
        channel = self._channel()
        if channel:
            places.append((f"#{channel[1]}", self._channel_messages()))
        for where, messages in places:
            for message in messages:
                key = (message["channel"], message["ts"])
                lines = message_lines(message, self.name_of)
                if self._seen.get(key) != lines:
                    changed.append((where, message, key in self._seen))
                    self._seen[key] = lines
        return changed

    def _channel(self) -> tuple[str, str] | None:
        settings = self.world.settings
        channel = settings.notify_channel if settings else None
        if not channel:
            return None
        if channel.startswith("#"):
            return "C0NOTIFY", channel[1:]
        return channel, "access-log"

    def _channel_messages(self) -> list[dict[str, Any]]:
        channel = self._channel()
        return self.world.slack.messages_in(channel[0]) if channel else []

    def _resource_names(self) -> dict[str, str]:
        return self.world.resource_names()

    def _elastic_lines(self) -> list[str]:
        elastic = self.world.elastic
        return holdings_lines(elastic.members(), elastic.invitations(), self._resource_names())

    def _describe(self, step: Step, user: str) -> str:
        data, who = step.data, self.name_of(user) if user else ""
        action = step.action
        if action == "type":
            return f"{who} types: /elastic-access {data['type']}".rstrip()
        if action == "click":
            on = f" on “{data['on']}”" if data.get("on") else ""
            return f"{who} clicks [{data['click']}]{on}"
        if action == "submit":
            return f"{who} submits the form: {json.dumps(data['submit'], ensure_ascii=False)}"
        if action == "advance":
            return f"the clock moves {data['advance']}"
        if action == "home":
            return f"{who} opens the Home tab"
        switches = ", ".join(f"{k} {'on' if v else 'off'}" for k, v in data["fault"].items())
        return f"faults: {switches}"

    def _now(self) -> str:
        return self.world.clock.now().strftime("%Y-%m-%d %H:%M UTC")

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    # -- people ------------------------------------------------------------------------------
    def user(self, who: str) -> str:
        """A Slack user ID from an ID, a login name or an email of the seed."""
        for person in self.world.seed.slack_users:
            if who in (person.id, person.name) or (person.email or "").lower() == who.lower():
                return person.id
        known = ", ".join(u.name for u in self.world.seed.slack_users)
        raise StepFailed(f"nobody called {who!r} in the workspace (people: {known})")

    @property
    def name_of(self) -> Callable[[str], str]:
        names = {u.id: u.name for u in self.world.seed.slack_users}
        return lambda user_id: names.get(user_id, user_id)


def _texts(wanted: Any) -> list[str]:
    return [str(w) for w in wanted] if isinstance(wanted, list) else [str(wanted)]


def _tables(wanted: Any, key: str) -> list[dict[str, Any]]:
    items = wanted if isinstance(wanted, list) else [wanted]
    out = []
    for item in items:
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict) or "text" not in item:
            raise StepFailed(f'{key}: write {{ to = "name", text = "…" }}')
        out.append(item)
    return out


def _best(options: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    """The type-ahead option meant by ``wanted``: its value, its label, a label ending in it
    (``prod-search`` for *Deployment prod-search*), or the only one offered."""
    low = wanted.lower()
    for test in (
        lambda o: o["value"] == wanted,
        lambda o: o["text"]["text"].lower() == low,
        lambda o: o["text"]["text"].lower().endswith(" " + low),
    ):
        found = [o for o in options if test(o)]
        if len(found) == 1:
            return found[0]
    return options[0] if len(options) == 1 else None

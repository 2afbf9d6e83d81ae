"""``python -m bot probe``: measure how this Elastic Cloud organization behaves where Elastic
documents nothing (issue #18), on one dedicated test member, and remember the answers.

Each question is answered by a few add / read / remove steps on that member only:

* ``one_role_per_resource``: viewer then editor on the deployment (and the project): are
  both held, or did the second replace the first?
* ``all_absorbs``: viewer on the deployment, then viewer on ``all``: is the specific entry
  still listed beside it?
* ``one_organization_role``: billing-admin then organization-admin: both held?
* ``delete_needs_application_roles``: viewer on the deployment with ``application_roles``,
  then a DELETE without them: is the entry gone?
* ``invitation_minutes``: an invitation to the member's ``+probe`` address with
  ``expires_in: 90m``: accepted? (withdrawn at once)
* ``hidden_refuses_named`` / ``hidden_refuses_all`` (with ``--hidden-deployment``, a
  stopped one): does a call naming it, or naming ``all: true``, fail with 403?

The member's assignments are read before the first step and put back at the end, whatever
happens (an error, Ctrl-C, SIGTERM): what the probe added is removed, what it took away is
added back, and a last read must show the member as before. A member holding an
organization role or any deployment role is refused: use a dedicated test member. The
answers are stored with their date (bot/store/semantics.py); from then on the bot goes by
them. Without a probe it assumes the safest answer to each (bot.access.planning.Semantics).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.access.planning import SAFEST
from bot.access.ports import UpstreamError
from bot.access.resources import Unit

#: Two roles of each project type for the one-role-per-project question.
PROJECT_ROLES = {
    "elasticsearch": ("elasticsearch-viewer", "elasticsearch-developer"),
    "observability": ("observability-viewer", "observability-editor"),
    "security": ("security-viewer", "security-editor"),
}
#: The application role sent for the application_roles question (a built-in stack role).
APPLICATION_ROLE = "viewer"

#: What the bot does under each answer: (when True, when False).
CONSEQUENCES = {
    "all_absorbs": (
        "after removing an all-deployments role, re-reads and puts back the specific roles it "
        "swallowed that are still wanted",
        "nothing to put back after an all-deployments role; the same re-read finds nothing missing",
    ),
    "one_role_per_resource": (
        "refuses a grant that would replace a role the member holds on that deployment or "
        "project, and says why",
        "grants a second role beside the one already held",
    ),
    "one_organization_role": (
        "refuses an organization role to a member who holds another, and says why",
        "grants a second organization role beside the first",
    ),
    "delete_needs_application_roles": (
        "removes a stack-role or console-only entry by repeating it, application_roles "
        "included, and adds none beside another entry of that role on that resource",
        "does the same: its removals repeat what it added, and it adds no entry beside "
        "another of that role there (which such a DELETE could take too); nothing changes",
    ),
    "invitation_minutes": (
        "invitations expire with the grant, to the minute",
        "invitation expiry rounded up to whole hours; the grant's end withdraws it",
    ),
    "hidden_refuses_named": (
        "a removal refused because a deployment is stopped is retried and reported, never "
        "taken for a removal",
        "removals on stopped deployments go through",
    ),
    "hidden_refuses_all": (
        "an all-deployments removal refused while a deployment is stopped is retried and reported",
        "all-deployments grants and removals are not held up by stopped deployments",
    ),
}


class ProbeRefused(Exception):
    """The probe will not run (the member, the resources, or the operator said no)."""


@dataclass
class Answer:
    question: str
    answer: bool | None = None
    observed: str = "not measured"
    bot: str = ""


@dataclass
class Report:
    member: str
    deployment: str
    project: str | None
    hidden_deployment: str | None
    measured_at: str
    answers: list[Answer] = field(default_factory=list)
    completed: bool = False
    restored: bool = False
    error: str | None = None

    def answer_map(self) -> dict[str, bool | None]:
        out: dict[str, bool | None] = {}
        for a in self.answers:
            if out.get(a.question) is None:
                out[a.question] = a.answer
            elif a.answer is True:  # the project said "replace" though the deployment did not
                out[a.question] = True
        return out

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM as Ctrl-C (both end in the restore); the restore itself is not interrupted."""
    old = signal.signal(signal.SIGTERM, _interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


class Probe:
    def __init__(
        self,
        elastic,  # bot.elastic.client.ElasticClient
        member_email: str,
        deployment: str,
        project: str | None = None,
        hidden_deployment: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.elastic = elastic
        self.org = elastic.organization_id
        self.email = member_email
        self.deployment = deployment
        self.project_type, _, self.project_id = (project or "").partition(":")
        self.hidden = hidden_deployment
        self.report = Report(
            member_email, deployment, project, hidden_deployment, now().isoformat()
        )
        self.user_id: str | None = None
        self.before: frozenset[Unit] = frozenset()
        self.invitations: list[str] = []

    # -- before anything changes --------------------------------------------------------------
    def check(self) -> str:
        """Read the member and refuse what the probe must not touch; returns the plan."""
        if self.project_type and (self.project_type not in PROJECT_ROLES or not self.project_id):
            raise ProbeRefused(f"--project must be <type>:<id>, type one of {list(PROJECT_ROLES)}")
        member = self.elastic.find_member(self.email)
        if member is None:
            raise ProbeRefused(f"{self.email} is not a member of organization {self.org}")
        orgs = sorted(u.role_id for u in member.units if u.scope == "organization")
        if orgs:
            raise ProbeRefused(
                f"{self.email} holds the organization role(s) {', '.join(orgs)}: the probe adds "
                "and removes organization roles, so it runs only on a dedicated test member "
                "who holds none"
            )
        mine = sorted(
            u.text
            for u in member.units
            if u.scope == "deployment"
            or (u.scope == f"project:{self.project_type}" and u.target in (self.project_id, "*"))
        )
        if mine:
            raise ProbeRefused(
                f"{self.email} holds {', '.join(mine)}: use a dedicated test member who holds no "
                "deployment role (and no role on the project), so nothing of theirs is touched"
            )
        if self.elastic.deployment_state(self.deployment) != "visible":
            raise ProbeRefused(f"deployment {self.deployment} is not a running deployment")
        if self.hidden and self.elastic.deployment_state(self.hidden) != "hidden":
            raise ProbeRefused(f"--hidden-deployment {self.hidden} is not a stopped deployment")
        self.user_id, self.before = member.user_id, member.units
        return (
            f"The probe will add and remove roles on {self.email} ({member.user_id}) only: "
            f"deployment-viewer and deployment-editor on {self.deployment}, deployment-viewer "
            "on all deployments, billing-admin and organization-admin (for a moment), "
            + (f"two roles on project {self.project_id}, " if self.project_id else "")
            + (f"deployment-viewer on the stopped {self.hidden}, " if self.hidden else "")
            + f"and send (then withdraw) an invitation to {self._plus_address()}. "
            "Their assignments are put back exactly at the end."
        )

    # -- the steps ----------------------------------------------------------------------------
    def _units(self) -> frozenset[Unit]:
        member = self.elastic.member(self.user_id)
        if member is None:
            raise UpstreamError(
                f"{self.email} left the organization during the probe", retryable=False
            )
        return member.units

    def _add(self, *units: Unit) -> None:
        self.elastic.add_units(self.user_id, units)

    def _remove(self, *units: Unit) -> None:
        self.elastic.remove_units(self.user_id, units)

    def _answer(self, question: str, answer: bool | None, observed: str) -> None:
        yes, no = CONSEQUENCES[question]
        if answer is None:
            safe = getattr(SAFEST, question)
            bot = f"assumes the safest ({'yes' if safe else 'no'}): {yes if safe else no}"
        else:
            bot = yes if answer else no
        self.report.answers.append(Answer(question, answer, observed, bot))

    def _add_both(self, a: Unit, b: Unit) -> tuple[frozenset[Unit], bool]:
        """Add ``a``, then ``b``: what the member holds after, and whether that is both."""
        self._add(a)
        self._add(b)
        held = self._units()
        return held, a in held and b in held

    def _second_role(self, scope: str, target: str, first: str, second: str) -> None:
        a, b = Unit(scope, first, target), Unit(scope, second, target)
        held, both = self._add_both(a, b)
        self._answer(
            "one_role_per_resource",
            not both,
            f"{first} then {second} on {scope} {target}: "
            + ("both held" if both else f"only {second if b in held else first} held"),
        )
        self._reset()

    def _all(self) -> None:
        viewer = Unit("deployment", "deployment-viewer", self.deployment)
        wide = Unit("deployment", "deployment-viewer", "*")
        self._add(viewer)
        try:
            self._add(wide)
        except UpstreamError as exc:
            if getattr(exc, "status", None) != 403:
                raise
            self._answer(
                "all_absorbs",
                None,
                f"all: true refused with 403 ({exc.code}); a stopped deployment may cause it",
            )
            self._reset()
            return
        held = self._units()
        kept = viewer in held
        self._answer(
            "all_absorbs",
            not kept,
            "viewer on the deployment, then on all: "
            + ("both entries listed" if kept else "only the all entry listed"),
        )
        self._reset()

    def _organization(self) -> None:
        billing = Unit("organization", "billing-admin", self.org)
        owner = Unit("organization", "organization-admin", self.org)
        _, both = self._add_both(billing, owner)
        self._answer(
            "one_organization_role",
            not both,
            "billing-admin then organization-admin: "
            + ("both held" if both else "only organization-admin held"),
        )
        self._reset()

    def _application_roles(self) -> None:
        entry = {
            "role_id": "deployment-viewer",
            "organization_id": self.org,
            "all": False,
            "deployment_ids": [self.deployment],
        }
        with_app = {"deployment": [entry | {"application_roles": [APPLICATION_ROLE]}]}
        try:
            self.elastic.send_assignments("POST", self.user_id, with_app)
        except UpstreamError as exc:
            if getattr(exc, "status", None) not in (400, 403):
                raise
            self._answer("delete_needs_application_roles", None, f"refused: {exc}"[:200])
            return
        self.elastic.send_assignments("DELETE", self.user_id, {"deployment": [entry]})
        unit = Unit("deployment", "deployment-viewer", self.deployment)
        stayed = any(u.plain == unit for u in self._units())  # with its application_roles
        self._answer(
            "delete_needs_application_roles",
            stayed,
            "added with application_roles, DELETE without them: "
            + ("the entry stayed" if stayed else "the entry was removed"),
        )
        if stayed:
            self.elastic.send_assignments("DELETE", self.user_id, with_app)
        self._reset()

    def _plus_address(self) -> str:
        local, _, domain = self.email.partition("@")
        return f"{local.split('+')[0]}+probe@{domain}"

    def _invitation(self) -> None:
        unit = Unit("deployment", "deployment-viewer", self.deployment)
        try:
            token = self.elastic.invite(self._plus_address(), [unit], "90m")
        except UpstreamError as exc:
            if getattr(exc, "status", None) != 400:
                raise
            self._answer("invitation_minutes", False, f"expires_in 90m refused ({exc.code})")
            return
        self.invitations.append(token)
        self.elastic.delete_invitation(token)
        self.invitations.remove(token)
        self._answer("invitation_minutes", True, "expires_in 90m accepted (invitation withdrawn)")

    def _hidden(self) -> None:
        if not self.hidden:
            for q in ("hidden_refuses_named", "hidden_refuses_all"):
                self._answer(q, None, "not measured: give --hidden-deployment <a stopped one>")
            return
        for question, unit in (
            ("hidden_refuses_named", Unit("deployment", "deployment-viewer", self.hidden)),
            ("hidden_refuses_all", Unit("deployment", "deployment-viewer", "*")),
        ):
            try:
                self._add(unit)
            except UpstreamError as exc:
                if getattr(exc, "status", None) != 403:
                    raise
                self._answer(question, True, f"adding {unit.target} refused with 403 ({exc.code})")
                continue
            self._answer(question, False, f"adding {unit.target} accepted")
            self._reset()

    def run(self) -> Report:
        """Every step, then the restore; the report says how far it got."""
        steps = [
            lambda: self._second_role(
                "deployment", self.deployment, "deployment-viewer", "deployment-editor"
            ),
            *(
                [
                    lambda: self._second_role(
                        f"project:{self.project_type}",
                        self.project_id,
                        *PROJECT_ROLES[self.project_type],
                    )
                ]
                if self.project_id
                else []
            ),
            self._all,
            self._organization,
            self._application_roles,
            self._invitation,
            self._hidden,
        ]
        try:
            with _signals_interrupt():
                for step in steps:
                    step()
            self.report.completed = True
        except KeyboardInterrupt:
            self.report.error = "interrupted"
        except UpstreamError as exc:
            self.report.error = f"Elastic Cloud: {exc}"
        finally:
            with _uninterrupted():
                self.report.restored = self._restore()
        return self.report

    # -- putting the member back --------------------------------------------------------------
    def _reset(self) -> None:
        """Back to the member's assignments as read before the first step."""
        for _ in range(3):
            held = self._units()
            extra, missing = held - self.before, self.before - held
            if not extra and not missing:
                return
            if extra:
                self._remove(*extra)
            if missing:
                self._add(*missing)
        if self._units() != self.before:
            raise UpstreamError(f"{self.email} could not be put back as before", retryable=False)

    def _restore(self) -> bool:
        if self.user_id is None:
            return True
        ok = True
        for token in list(self.invitations):
            try:
                self.elastic.delete_invitation(token)
                self.invitations.remove(token)
            except UpstreamError:
                ok = False
        for _ in range(3):
            try:
                self._reset()
                return ok
            except UpstreamError as exc:
                error = str(exc)
        self.report.error = (self.report.error or "") + f"; restore failed: {error}"
        return False


# -- printing ----------------------------------------------------------------------------------
def format_table(report: Report) -> str:
    rows = [("QUESTION", "WHAT THE SERVICE DID", "WHAT THE BOT WILL DO")]
    rows += [(a.question, a.observed, a.bot) for a in report.answers]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]}" for r in rows]
    lines.append("")
    if report.error:
        lines.append(f"The probe stopped: {report.error}")
    lines.append(
        f"{report.member}: "
        + (
            "assignments put back as before."
            if report.restored
            else "NOT put back; check it by hand."
        )
    )
    return "\n".join(lines) + "\n"


def run_cli(args, settings, out: TextIO | None = None, ask: Callable[[str], str] = input) -> int:
    """``python -m bot probe``: 0 when every step ran and the member was put back."""
    from bot.elastic.client import ElasticClient
    from bot.store import Database, Store
    from bot.store import semantics as stored

    out = out or sys.stdout
    elastic = ElasticClient(
        settings.elastic_cloud_api_url,
        settings.api_key(),
        settings.elastic_cloud_organization_id or "",
    )
    try:
        probe = Probe(elastic, args.member, args.deployment, args.project, args.hidden_deployment)
        try:
            plan = probe.check()
            if not args.yes:
                out.write(plan + "\n")
                out.flush()
                if ask("Go ahead? [y/N] ").strip().lower() not in ("y", "yes"):
                    raise ProbeRefused("not confirmed; nothing was changed")
        except (ProbeRefused, UpstreamError) as exc:
            out.write(f"probe refused: {exc}\n")
            return 2
        report = probe.run()
    finally:
        elastic.close()
    if args.json:
        out.write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        out.write(format_table(report))
    if report.completed and report.restored:
        db = Database(settings.database_path)
        try:
            Store(db).migrate()
            stored.record(
                db,
                report.member,
                report.answer_map(),
                report.as_json(),
                datetime.fromisoformat(report.measured_at),
            )
        finally:
            db.close()
        if not args.json:
            out.write("The answers are stored; the bot goes by them from now on.\n")
        return 0
    return 1


def add_parser(sub) -> None:
    probe = sub.add_parser(
        "probe",
        help="measure Elastic Cloud's undocumented behaviour on a dedicated test member",
        description="Add, read and remove roles on one test member to learn how this "
        "organization behaves; put the member back; store the answers.",
    )
    probe.add_argument("--member", required=True, help="email of a dedicated test member")
    probe.add_argument("--deployment", required=True, help="ID of a running deployment")
    probe.add_argument("--project", default=None, help="<type>:<id> of a serverless project")
    probe.add_argument(
        "--hidden-deployment", default=None, help="ID of a stopped (hidden) deployment"
    )
    probe.add_argument("--json", action="store_true", help="print the report as JSON")
    probe.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def run(args) -> int:
        from bot.__main__ import _settings

        return run_cli(args, _settings(need_slack=False))

    probe.set_defaults(func=run)

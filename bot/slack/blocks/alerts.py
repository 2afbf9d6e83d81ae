"""Alerts to the integration owners (and the notify channel): things a person has to look
at, such as a revocation Elastic Cloud refuses or a refused API key. The core says which
situation arose (:mod:`bot.access.alerts`); the words are here."""

from __future__ import annotations

from collections.abc import Iterable

from bot.access import alerts
from bot.access.durations import format_duration
from bot.access.model import AccessRequest
from bot.access.planning import describe
from bot.access.resources import ResourceKind, Unit
from bot.access.text import escape
from bot.slack.action_ids import Action
from bot.slack.blocks.format import Blocks, failure, label, plain, section, when


def owner_alert(alert: alerts.Alert | str) -> tuple[str, Blocks]:
    """An alert as a message; a ``str`` is mrkdwn already, its untrusted parts escaped."""
    text = alert if isinstance(alert, str) else alert_text(alert)
    return text, [section(f":rotating_light: {text}")]


def alert_text(alert: alerts.Alert) -> str:
    """The words for each situation the core reports to the integration owners."""
    match alert:
        case alerts.NoOtherApprover():
            return (
                f"<@{alert.requester_id}> asked for `{escape(alert.role_id)}` on "
                f"{escape(alert.resource.label)}, but nobody other than the requester can "
                "approve it. Add another owner."
            )
        case alerts.BreakGlassUsed(request=r):
            return (
                f":rotating_light: *Break-glass*: <@{r.requester_id}> took "
                f"`{escape(r.role_id)}` on {label(r)} for {format_duration(r.duration)} without "
                f"approval (request {r.ref}). Reason: {escape(r.justification)}. End it early "
                f"with `/elastic-access revoke {r.id}`."
            )
        case alerts.UnresolvedOwners():
            lines = ", ".join(
                f"`{escape(ref)}` ({escape(why or 'names no active Slack user')})"
                for ref, why in alert.references
            )
            return (
                f"An owner named for {escape(alert.named_for)} does not resolve to an active "
                f"Slack user: {lines}. Fix the tag or the integration_owners setting."
            )
        case alerts.RequesterLeft():
            ended = ", ".join(f"{r.ref} ({escape(r.role_id)} on {label(r)})" for r in alert.ended)
            return (
                f"<@{alert.user_id}> may no longer have access ({escape(alert.reason)}), "
                f"so I ended {ended}."
            )
        case alerts.DriftFound():
            lines = "\n".join(f"• {_finding(f)}" for f in alert.findings)
            return (
                "The daily reconciliation found Elastic Cloud disagreeing with the bot's "
                f"records:\n{lines}\nThe bot removes only what it added and has changed "
                "nothing: check these in the Elastic Cloud console."
            )
        case alerts.ResourceChanged(old=old, new=new, retagged_key=key):
            what = []
            if alert.renamed:
                what.append(f"its name changed from `{escape(old.name)}` to `{escape(new.name)}`")
            if key is not None:
                what.append(
                    f"its `{escape(key)}` tag changed from "
                    f"`{escape(old.tags.get(key) or '(none)')}` "
                    f"to `{escape(new.tags.get(key) or '(none)')}`"
                )
            return (
                f":mag: {new.kind.value.replace('_', ' ').capitalize()} `{escape(new.id)}`: "
                + " and ".join(what)
                + f" while requests {', '.join(alert.open_refs)} are open. Approvers can only "
                "lose their say from such a change, never gain it; check that the change was "
                "intended."
            )
        case alerts.RolesAppeared(request=r):
            return (
                f"Access {r.ref} (`{escape(r.role_id)}` on {label(r)} for "
                f"<@{r.requester_id}>) has ended. During the grant, Elastic Cloud member "
                f"{escape(alert.user_id)} came to hold roles they did not hold before and no "
                f"grant of the bot gives: {_units(alert.units, alert.names)}. The bot removes "
                "only what it added, so these stay: review them, and remove them by hand in "
                "the Elastic Cloud console if they should not be there."
            )
        case alerts.ApiKeyExpiring():
            days = "today" if alert.days == 0 else f"in {alert.days} day(s)"
            return (
                f"The bot's Elastic Cloud API key (ID {escape(alert.key_id)}) expires {days}, "
                f"at {alert.expires.strftime('%Y-%m-%d %H:%M UTC')}. Create a new key with the "
                "Organization owner role and replace ELASTIC_CLOUD_API_KEY before then, or "
                "nothing can be granted or removed."
            )
    raise TypeError(f"no words for {type(alert).__name__}")


def _finding(finding: alerts.DriftFinding) -> str:
    r = finding.request
    unit = finding.unit
    role = f"`{escape(describe(unit))}` ({escape(unit.scope)}, {escape(unit.target)})"
    member = f"Elastic Cloud member {escape(finding.user_id)} (<@{r.requester_id}>)"
    if finding.kind == "vanished":
        return (
            f"{r.ref} is live but {member} no longer holds {role} the bot added; someone or "
            "something (an SSO role mapping?) removed it."
        )
    return (
        f"{member} holds {role} again, which the bot removed when {r.ref} ended; it was given "
        "back outside the bot."
    )


def _units(units: Iterable[Unit], names: dict[str, str]) -> str:
    """Units for people: role and target, deployments and projects by name when known."""
    said = []
    for unit in units:
        if unit.scope == ResourceKind.ORGANIZATION:
            where = "the organization"
        elif unit.target == "*":
            kind = "deployments" if unit.scope == "deployment" else unit.scope.split(":")[-1]
            where = f"all {kind}" + ("" if kind == "deployments" else " projects")
        else:
            kind = "deployment" if unit.scope == "deployment" else unit.scope.split(":")[-1]
            name = names.get(unit.target, unit.target)
            where = f"{kind}{'' if kind == 'deployment' else ' project'} {name}"
        said.append(f"`{escape(describe(unit))}` on {escape(where)}")
    return ", ".join(said)


def revocation_overdue(request: AccessRequest) -> tuple[str, Blocks]:
    """A grant past its end whose removal keeps failing."""
    return owner_alert(
        f"Access {request.ref} ({escape(request.role_id)} on {label(request)} for "
        f"<@{request.requester_id}>) expired {when(request.expires_at)} but is not "
        f"removed yet: {failure(request) or 'still retrying'}. The bot keeps retrying."
    )


def revocation_recovered(request: AccessRequest) -> tuple[str, Blocks]:
    """An overdue or parked removal went through in the end."""
    return owner_alert(
        f"Access {request.ref} ({escape(request.role_id)} on {label(request)} for "
        f"<@{request.requester_id}>) has now been removed."
    )


def credentials_refused(error: str) -> tuple[str, Blocks]:
    """Elastic Cloud refused the bot's API key."""
    return owner_alert(
        "Elastic Cloud refused the bot's API key (ELASTIC_CLOUD_API_KEY): "
        f"{escape(error)}. Approved requests wait and nothing is granted until the key "
        "works again (replace or renew it); revocations keep retrying."
    )


def credentials_restored(waiting: int) -> tuple[str, Blocks]:
    return owner_alert(
        f"Elastic Cloud accepts the bot's API key again; {waiting} waiting grant(s) go on."
    )


def parked_alert(request: AccessRequest) -> tuple[str, Blocks]:
    """To the integration owners, once: a revocation Elastic refuses (a stopped deployment)
    is parked, with a button to acknowledge it (recorded as the clicker's)."""
    text = (
        f"Access {request.ref} (`{escape(request.role_id)}` on {label(request)} for "
        f"<@{request.requester_id}>) expired {when(request.expires_at)} but is not removed yet: "
        f"Elastic Cloud refuses changes to the assignments of a stopped deployment. "
        f":parking: parked: {escape(request.parked or '')}. Remove the role by hand in the "
        "Elastic Cloud console, or restart the deployment; you will hear when it is removed."
    )
    return text, [
        section(f":rotating_light: {text}"),
        {
            "type": "actions",
            "block_id": f"parked:{request.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": Action.ACK_PARKED,
                    "text": plain("Acknowledge"),
                    "value": str(request.id),
                }
            ],
        },
    ]

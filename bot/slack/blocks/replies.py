"""The private replies the listeners send (ephemeral answers, response_url posts, inline form
errors): the words of the command, button and form surfaces, kept here with the rest."""

from __future__ import annotations

from bot.access.model import AccessRequest
from bot.access.states import State
from bot.access.text import escape
from bot.slack.action_ids import View
from bot.slack.blocks.format import label, when

OUR_FAULT = ":warning: Something went wrong on my side. Please try again in a minute."
#: What a form's failure to go through is said after (its submission had already closed it).
NOT_FILED = {
    View.REQUEST_ACCESS: "Your access request was not filed",
    View.EXTEND_GRANT: "Your extension was not filed",
}
REQUEST_FORM_TOO_SLOW = (
    "Slack did not let me open the request form in time. Please run `/elastic-access` again, "
    "or use `/elastic-access request <resource> <role> <duration> <justification>`."
)
EXTEND_FORM_TOO_SLOW = (
    "Slack did not let me open the form in time; "
    "use `/elastic-access extend <id> <duration> <reason>`."
)
REQUEST_AGAIN_FORM_TOO_SLOW = (
    "Slack did not let me open the request form in time. Click *Request again* once more, "
    "or use `/elastic-access request <resource> <role> <duration> <justification>`."
)
DENY_FORM_OUT_OF_DATE = "This form is out of date; use the Deny button again."
PICK_RESOURCE = "Pick a resource."
PICK_ROLE = "Pick a role."
SAY_WHY = "Say why you need this access."
PICK_MORE_TIME = "Pick how much more time you need."
EXPORT_PREPARING = "Preparing the export; I'll DM you the CSV file."


def refused(error: object, after: str | None = None) -> str:
    """The core's refusal, for the person who acted (after what did not go through)."""
    return f":warning: {after}: {error}" if after else f":warning: {error}"


def filed(request: AccessRequest) -> str:
    return (
        f"Request {request.ref} filed: `{escape(request.role_id)}` on "
        f"{label(request)}. I'll DM you when it is decided."
    )


def broke_glass(request: AccessRequest) -> str:
    granted = request.expires_at is not None and request.state is State.ACTIVE
    return (
        f":rotating_light: Break-glass {request.ref}: "
        f"`{escape(request.role_id)}` on {label(request)} "
        + (
            f"is yours until {when(request.expires_at)}."
            if granted
            else "is being granted; I'll DM you."
        )
        + " The integration owners have been told."
    )


def extension(request: AccessRequest) -> str:
    if request.extension_seconds is None:
        return f"{request.ref} extended: it now ends {when(request.expires_at)}."
    return f"Extension of {request.ref} sent for approval."


def revoked(request: AccessRequest) -> str:
    """The answer to Revoke now: the removal is recorded; the role goes on the worker."""
    if request.state is State.REVOKING:
        return (
            f"Request {request.ref} is ending: the role is being removed now, and the "
            "requester gets a DM once it is gone."
        )
    return f"Request {request.ref} is {request.state.value}: the role has been removed."


def export_sent(label_text: str, since) -> str:
    return f"Audit trail of {label_text} since {since:%Y-%m-%d %H:%M} UTC (CSV attached)."

"""The app's one error handler, for ack parts (Bolt's ``@app.error``) and lazy parts
(:class:`bot.slack.listeners.wiring.WorkRunner` hands it theirs).

An :class:`AccessError` is the core refusing, in words for the person who acted: they get
them privately. Anything else is our fault: it is logged, and they hear that something went
wrong on our side. Only people who acted hear anything: an event's failure is only logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse, Respond
from slack_bolt.util.utils import get_arg_names_of_callable
from slack_sdk import WebClient

from bot.access.errors import AccessError
from bot.slack import blocks
from bot.slack.blocks import replies
from bot.slack.listeners.replies import tell

log = logging.getLogger(__name__)

OUR_FAULT = replies.OUR_FAULT


def on_error(
    error: Exception, body: dict, respond: Respond, client: WebClient, response: Any
) -> BoltResponse | None:
    """Tell the person who acted; answer Slack with that reply if nothing answered it yet."""
    if isinstance(error, AccessError):
        text = replies.refused(error)
    else:
        log.error("%s failed", _what(body), exc_info=error)
        text = OUR_FAULT
    kind = body.get("type") or ("slash_command" if "command" in body else "")
    if kind == "view_submission":
        said = replies.NOT_FILED.get((body.get("view") or {}).get("callback_id"))
        if said:
            text = replies.refused(error, said) if isinstance(error, AccessError) else text
    if response is not None and kind == "slash_command":
        # Not answered yet: the reply is the answer.
        return BoltResponse(
            status=200, body={"response_type": "ephemeral", "text": text, **blocks.NO_UNFURL}
        )
    if kind in ("slash_command", "block_actions", "view_submission"):
        tell(body, respond, client, text)
    if response is not None:
        return BoltResponse(status=200, body="")
    return None


def _what(body: dict) -> str:
    """What was being handled, for the log (never the person's text)."""
    if "command" in body:
        return f"command {body.get('command')}"
    if body.get("type") == "block_actions":
        return f"click on {(body.get('actions') or [{}])[0].get('action_id')}"
    if body.get("type") == "view_submission":
        return f"form {(body.get('view') or {}).get('callback_id')}"
    if body.get("type") == "event_callback":
        return f"event {(body.get('event') or {}).get('type')}"
    return str(body.get("type") or "request")


def after_ack(listener: Callable[..., Any]) -> Callable[..., Any]:
    """``listener``, with what it raises after it acked handed to :func:`on_error` here.

    Why: Bolt's thread runner (slack-bolt 1.30), when a listener raises after calling
    ``ack()``, sets the request's ack back to None on its "already acknowledged" path. Unless
    Bolt's main thread happened to see the ack in the few milliseconds between, Slack gets
    ``404 unhandled request`` after 3 seconds instead of the 200 it was given, and shows
    the person an error on top of the refusal. (A click on someone else's "Request again"
    or "Extend" did exactly that.) Raised before the ack, Bolt's own path still answers.

    Bolt hands a listener what its parameters name; the wrapper names what it needs itself
    and passes the listener its own names, ours (``runtime``, ``later``) from the context.
    """
    names = get_arg_names_of_callable(listener)

    def run(ack, body, payload, command, view, action, respond, client, context, logger) -> Any:
        given = {
            "ack": ack,
            "body": body,
            "payload": payload,
            "command": command,
            "view": view,
            "action": action,
            "respond": respond,
            "client": client,
            "context": context,
            "logger": logger,
        }
        kwargs = {n: given[n] if n in given else context[n] for n in names}
        try:
            return listener(**kwargs)
        except Exception as exc:
            if ack.response is None:
                raise  # not acknowledged: Bolt's own error path answers Slack
            on_error(exc, body, respond, client, None)
            return None

    run.__name__ = run.__qualname__ = getattr(listener, "__name__", "listener")
    run.__doc__ = listener.__doc__
    return run

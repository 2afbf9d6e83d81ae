"""How a listener reaches the runtime, and how its slow part runs after its ack.

Every listener is a module-level function; Bolt hands it what it names. Two names are ours,
put into each request's Bolt ``context`` by :func:`wire`'s global middleware:

``runtime``
    The process's :class:`bot.runtime.Runtime` (the service, policy, catalogue).
``later``
    This request's :class:`Later`. An ack part with slow work calls ``later(value)``; the
    lazy part reads ``later.value``.

A listener with slow work is registered as ``app.<kind>(id)(ack=fast, lazy=[slow])``. Bolt
starts the lazy part at once, alongside the ack part, whatever the ack part decides; here
the lazy part (:class:`WorkRunner`) waits until the ack part has *returned* (so its ack, and
any ``trigger_id`` it used, came first) and runs only if the ack part called ``later``. It
runs on ``runtime.work`` through :meth:`Runtime.background` (``Runtime.stop`` waits for it;
an approval's grant is not made there but handed to the worker, ``Granting.due``); a failure goes to the app's one
error handler (:mod:`bot.slack.listeners.errors`), as an ack part's failure does.

Bolt deep-copies a request's context for its lazy part: both objects are shared, not copied.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest
from slack_bolt.kwargs_injection import build_required_kwargs
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.listener.listener_completion_handler import ListenerCompletionHandler
from slack_bolt.util.utils import get_arg_names_of_callable

log = logging.getLogger(__name__)

#: How long a lazy part waits for its ack part to return: its ack is due within 3 seconds, but
#: a form it opens after the ack may take a slow Slack call with retries.
ACK_PART_TIMEOUT = 60.0


class Later:
    """One request's hand-over from its ack part to its lazy part."""

    def __init__(self) -> None:
        self.value: Any = None
        self.handed = False
        self._returned = threading.Event()

    def __call__(self, value: Any = True) -> None:
        """The lazy part runs, with ``value``, once the ack part has returned."""
        self.value, self.handed = value, True

    def returned(self) -> None:
        """The ack part has returned (or raised): Bolt's completion hook calls this."""
        self._returned.set()

    def wait(self, timeout: float = ACK_PART_TIMEOUT) -> bool:
        """Whether the lazy part should run: once the ack part returned, if it handed work."""
        if not self._returned.wait(timeout):
            log.warning(
                "an ack part did not return within %.0fs; its lazy part is dropped", timeout
            )
            return False
        return self.handed

    def __deepcopy__(self, memo: dict) -> Later:
        return self


class _Shared:
    """The runtime as the context carries it: attribute reads go to the runtime, and Bolt's
    deep copy for a lazy part gets the same object."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    def __deepcopy__(self, memo: dict) -> _Shared:
        return self


class WorkRunner(LazyListenerRunner):
    """Runs lazy parts on the runtime's work pool, each after its ack part returned."""

    def __init__(self, app: App, background: Callable[[Callable[[], None]], None]) -> None:
        self.logger = app.logger
        self._app = app
        self._background = background

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        self._background(lambda: self.run(function, request))

    def run(self, function: Callable[..., None], request: BoltRequest) -> None:
        later = request.context.get("later")
        if later is not None and not later.wait():
            return
        kwargs = build_required_kwargs(
            logger=self.logger,
            required_arg_names=get_arg_names_of_callable(function),
            request=request,
            response=None,
            this_func=function,
        )
        try:
            function(**kwargs)
        except Exception as exc:
            self._app.listener_runner.listener_error_handler.handle(
                error=exc, request=request, response=None
            )


class _AckPartReturned(ListenerCompletionHandler):
    """Bolt calls this once an ack part has returned or raised (after its error handler)."""

    def handle(self, request: BoltRequest, response: Any) -> None:
        later = request.context.get("later")
        if later is not None:
            later.returned()


def wire(app: App, runtime: Any) -> None:
    """Put ``runtime`` and a fresh :class:`Later` into every request's context, and run lazy
    parts as described above."""
    shared = _Shared(runtime)

    @app.middleware
    def give_context(context, next):  # noqa: A002 - Bolt's own parameter name
        context["runtime"] = shared
        context["later"] = Later()
        return next()

    runner = app.listener_runner
    runner.lazy_listener_runner = WorkRunner(app, runtime.background)
    runner.listener_completion_handler = _AckPartReturned()

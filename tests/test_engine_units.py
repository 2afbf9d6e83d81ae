"""Engine parts on their own, with plain in-memory ports: no HTTP, no threads, no database.

The end-to-end suite drives the same code through Slack and Elastic fakes; these pin the
rules that are easy to state and that both request and extension decisions share."""

from __future__ import annotations

from bot.access.engine.core import Core
from bot.access.engine.decisions import Decisions
from bot.access.ports import Person, UpstreamError


class Directory:
    """Who each Slack user is; an ID in ``down`` makes Slack fail for that lookup."""

    def __init__(self, people: list[Person], down: tuple[str, ...] = ()) -> None:
        self.people = {p.id: p for p in people}
        self.down = down
        self.unresolved: dict[str, str] = {}

    def person(self, user_id: str, fresh: bool = False) -> Person | None:
        if user_id in self.down:
            raise UpstreamError("Slack did not answer", retryable=True)
        return self.people.get(user_id)


def decisions(directory: Directory) -> Decisions:
    core = Core(
        store=None,
        elastic=None,
        directory=directory,
        catalogue=None,
        notifier=None,
        clock=None,
        policy=None,
    )
    return Decisions(core)


ANN = Person("U1", "ann@example.com", "Ann")
ANN_AGAIN = Person("U2", "Ann@Example.com", "Ann (second account)")
BOB = Person("U3", "bob@example.com", "Bob")


def test_a_quorum_counts_one_approval_per_human_however_many_accounts():
    counted = decisions(Directory([ANN, ANN_AGAIN, BOB])).counted(
        ["U1", "U2", "U3"], current=["U1", "U2", "U3"]
    )
    assert counted == ["U1", "U3"]


def test_a_quorum_counts_only_who_is_an_approver_now():
    counted = decisions(Directory([ANN, BOB])).counted(["U1", "U3"], current=["U3"])
    assert counted == ["U3"]


def test_an_approver_slack_cannot_describe_now_still_counts_once():
    counted = decisions(Directory([ANN, BOB], down=("U1",))).counted(
        ["U1", "U3"], current=["U1", "U3"]
    )
    assert counted == ["U1", "U3"]

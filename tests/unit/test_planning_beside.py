"""Pure planning for removals beside entries of the same role (review of #14 §1)."""

from __future__ import annotations

from bot.access import planning
from bot.access.resources import Unit

P = "p" * 32
SCOPE = "project:elasticsearch"
STACK = Unit(SCOPE, "elasticsearch-viewer", P, ("marketing-reader",))
PLAIN = Unit(SCOPE, "elasticsearch-viewer", P, None)
CONSOLE = Unit(SCOPE, "elasticsearch-admin", P, ())
ADMIN_LISTED = Unit(SCOPE, "elasticsearch-admin", P, None)


def test_entries_beside_a_removed_one_are_those_of_its_role_there_with_other_roles():
    assert planning.beside_removed({STACK}, {STACK, PLAIN}) == {PLAIN}
    assert planning.beside_removed({PLAIN}, {STACK, PLAIN}) == {STACK}
    assert planning.beside_removed({STACK}, {STACK, CONSOLE}) == set()  # another role
    assert planning.beside_removed({STACK}, {PLAIN}) == set()  # not listed: nothing beside it


def test_an_entry_listed_without_its_application_roles_is_still_the_grants():
    assert planning.shown_otherwise({CONSOLE}, {ADMIN_LISTED}, [], []) == {CONSOLE}
    # ... unless it was the member's own before the grant, or another grant's
    assert planning.shown_otherwise({CONSOLE}, {ADMIN_LISTED}, [ADMIN_LISTED], []) == set()
    assert planning.shown_otherwise({CONSOLE}, {ADMIN_LISTED}, [], [ADMIN_LISTED]) == set()
    # a plain unit has no look-alike: another entry of its role is somebody else's
    assert planning.shown_otherwise({PLAIN}, {STACK}, [], []) == set()
    # listed as sent: nothing to guess
    assert planning.shown_otherwise({CONSOLE}, {CONSOLE, ADMIN_LISTED}, [], []) == set()

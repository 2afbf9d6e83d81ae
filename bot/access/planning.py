"""Exact revocation, as pure decisions: what a grant adds, what its end removes, what it puts
back. No I/O: :mod:`bot.access.service` reads Elastic Cloud and the database, asks these
functions, and carries out the answer.

Elastic Cloud has no reference counting: removing a role on a target removes it whatever
added it, and adding a role on ``all`` targets may absorb the member's specific assignments of
that role. So the bot records the units *it* added (owned units) and decides from three sets:
what the member holds now, what the bot owns, and what the member's other live grants need.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.access.resources import Unit


def holds(units: Iterable[Unit], unit: Unit) -> bool:
    """Whether ``units`` already give ``unit`` (directly or through ``all`` of its role)."""
    units = units if isinstance(units, (set, frozenset)) else set(units)
    if unit in units:
        return True
    if unit.scope == "organization" or unit.target == "*":
        return False
    return Unit(unit.scope, unit.role_id, "*") in units


def to_add(held: Iterable[Unit], unit: Unit) -> list[Unit]:
    """A grant adds its unit only when the member does not hold it already."""
    return [] if holds(held, unit) else [unit]


def standing(held: Iterable[Unit], owned: Iterable[Unit]) -> set[Unit]:
    """The member's own access: what they hold that the bot did not add."""
    return set(held) - set(owned)


def release(unit: Unit, owned: Iterable[Unit], needed_by_others: Iterable[Unit]) -> set[Unit]:
    """The units an ending grant lets go of: its unit, if the bot added it and no other live
    grant of the member needs it (standing access is never the bot's to remove)."""
    return ({unit} & set(owned)) - set(needed_by_others)


def to_remove(released: Iterable[Unit], held: Iterable[Unit]) -> set[Unit]:
    """Of the released units, those Elastic Cloud still shows (nothing else is removed)."""
    held = set(held)
    return {u for u in released if u in held}


def to_restore(
    removed: Iterable[Unit],
    held: Iterable[Unit],
    standing_before: Iterable[Unit],
    needed_by_others: Iterable[Unit],
) -> list[Unit]:
    """Specific assignments to put back after removing an ``all`` one that absorbed them:
    those the member held before (standing) or another live grant needs, of a role whose
    ``all`` was removed, that the member no longer holds."""
    removed = set(removed)
    wide = {(u.scope, u.role_id) for u in removed if u.target == "*"}
    if not wide:
        return []
    held = set(held)
    wanted = (set(standing_before) | set(needed_by_others)) - removed
    return sorted(
        u for u in wanted if (u.scope, u.role_id) in wide and u.target != "*" and not holds(held, u)
    )


def owned_after_restore(
    restored: Iterable[Unit], needed_by_others: Iterable[Unit], standing_before: Iterable[Unit]
) -> list[Unit]:
    """Of the restored units, those the bot owns from now on: another grant's, not standing."""
    others, own = set(needed_by_others), set(standing_before)
    return [u for u in restored if u in others and u not in own]


def displaced(unit: Unit, wanted: Iterable[Unit], held: Iterable[Unit]) -> list[Unit]:
    """Of the units the member should go on holding (``wanted``: their standing access and
    other live grants), those on ``unit``'s resource under another role that they no longer
    hold once ``unit`` was added: a service that keeps one role per deployment or project
    (and one organization role per member) replaced them. Put back when ``unit`` goes."""
    held = set(held)
    return sorted(
        u
        for u in set(wanted)
        if u.scope == unit.scope
        and u.target == unit.target
        and u.role_id != unit.role_id
        and not holds(held, u)
    )

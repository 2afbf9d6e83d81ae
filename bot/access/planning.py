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
from dataclasses import dataclass, fields

from bot.access.resources import ResourceKind, Unit


@dataclass(frozen=True)
class Semantics:
    """How this Elastic Cloud organization behaves where Elastic does not document it.

    Each field is one question ``python -m bot probe`` answers against the live service; the
    defaults are the safest assumption (what the bot assumes until a probe has run), chosen
    so that being wrong costs a refused request or a harmless extra read, never someone's
    standing access or a role left behind:

    * ``all_absorbs``: adding a role with ``all: true`` swallows the member's per-deployment
      (per-project) entries of that role, and removing it takes them too. Assumed True: the
      bot then re-reads after removing an ``all`` and puts back what should stay, which is a
      no-op where the service keeps the entries.
    * ``one_role_per_resource``: a second role on the same deployment or project replaces
      the first instead of being added beside it. Assumed True: a grant that would replace
      a role the member holds there is refused (:func:`refusal`).
    * ``one_organization_role``: a second organization role replaces the first. Assumed True
      (refused likewise).
    * ``delete_needs_application_roles``: a DELETE leaves an entry carrying
      ``application_roles`` unless it repeats them. Assumed True. The bot adds such entries
      (stack roles, console-only admin roles: issue #14) and every removal repeats the entry
      it added, ``application_roles`` included, so it is right either way; and it never adds
      an entry of a role the member already holds on that resource (:func:`refusal`), so a
      service that ignores ``application_roles`` in a DELETE cannot take anyone else's entry
      with the bot's. Nothing branches on the answer; ``probe`` still records it.
    * ``invitation_minutes``: invitation ``expires_in`` accepts minutes (``90m``). Assumed
      False: whole hours, rounded up (the grant's end withdraws the invitation anyway).
    * ``hidden_refuses_named`` / ``hidden_refuses_all``: a stopped (hidden) deployment makes a
      role-assignment call that names it, or that names ``all: true``, fail with 403. Assumed
      True: such a refusal is retried and reported, never taken for a removal.
    """

    all_absorbs: bool = True
    one_role_per_resource: bool = True
    one_organization_role: bool = True
    delete_needs_application_roles: bool = True
    invitation_minutes: bool = False
    hidden_refuses_named: bool = True
    hidden_refuses_all: bool = True
    #: When the answers were measured (ISO 8601); None: nothing measured, all assumed.
    measured_at: str | None = None

    @classmethod
    def questions(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "measured_at"]

    @classmethod
    def from_answers(cls, answers: dict[str, bool | None], measured_at: str | None) -> Semantics:
        """Measured answers; a question left unanswered (None) keeps the safe assumption."""
        known = {k: v for k, v in answers.items() if k in cls.questions() and v is not None}
        return cls(**known, measured_at=measured_at)


SAFEST = Semantics()


def holds(units: Iterable[Unit], unit: Unit) -> bool:
    """Whether ``units`` already give ``unit`` (directly or through ``all`` of its role).

    ``application_roles`` must be the same: an entry with application roles does not give
    a plain request its role, and a plain entry does not give a stack role."""
    units = units if isinstance(units, (set, frozenset)) else set(units)
    if unit in units:
        return True
    if unit.scope == ResourceKind.ORGANIZATION or unit.target == "*":
        return False
    return Unit(unit.scope, unit.role_id, "*", unit.application_roles) in units


def same_role_there(unit: Unit, held: Iterable[Unit]) -> list[Unit]:
    """The member's entries of ``unit``'s role on ``unit``'s target (or on all of its kind,
    or, for a unit on all, on any one) whose ``application_roles`` differ from ``unit``'s.

    Elastic documents neither whether two entries of one role on one resource are kept
    apart (or merged, or one replaces the other) nor whether a DELETE tells them apart by
    their ``application_roles``; so the bot never adds an entry beside one of these."""
    return sorted(
        u
        for u in set(held)
        if u.scope == unit.scope
        and u.scope != ResourceKind.ORGANIZATION
        and u.role_id == unit.role_id
        and u.application_roles != unit.application_roles
        and (u.target == unit.target or "*" in (u.target, unit.target))
    )


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


def shown_otherwise(
    released: Iterable[Unit],
    held: Iterable[Unit],
    standing_before: Iterable[Unit],
    needed_by_others: Iterable[Unit],
) -> set[Unit]:
    """Released units with ``application_roles`` that Elastic lists without them (an empty
    list, or the whole field, left out of the answer): the entry is still the bot's, and its
    exact DELETE is still due, or the grant would be called ended while the role is held.
    Only where the unit itself is not listed, and the look-alike was neither the member's
    own access before the grant nor another live grant's. A plain unit never has one: its
    look-alikes are entries somebody else added."""
    held = set(held)
    not_ours = set(standing_before) | set(needed_by_others)
    return {
        u
        for u in released
        if u.application_roles is not None
        and u not in held
        and any(
            v.scope == u.scope
            and v.role_id == u.role_id
            and v.target == u.target
            and v.application_roles is None
            and v not in not_ours
            for v in held
        )
    }


def beside_removed(removing: Iterable[Unit], held: Iterable[Unit]) -> set[Unit]:
    """The member's other entries of a removed unit's role on its resource (other
    ``application_roles``): a DELETE that does not tell entries apart by their
    ``application_roles`` (Elastic documents neither way) takes them too, and the bot puts
    back whichever is gone. Only beside units Elastic lists as they are."""
    held, removing = set(held), set(removing)
    return {s for u in removing if u in held for s in same_role_there(u, held)} - removing


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
    wide = {(u.scope, u.role_id, u.application_roles) for u in removed if u.target == "*"}
    if not wide:
        return []
    held = set(held)
    wanted = (set(standing_before) | set(needed_by_others)) - removed
    return sorted(
        u
        for u in wanted
        if (u.scope, u.role_id, u.application_roles) in wide
        and u.target != "*"
        and not holds(held, u)
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
        and u.target in (unit.target, "*")
        and u.role_id != unit.role_id
        and not holds(held, u)
    )


def same_resource_roles(
    unit: Unit, held: Iterable[Unit], semantics: Semantics, owned: Iterable[Unit] = ()
) -> list[Unit]:
    """The member's other roles that adding ``unit`` may replace under ``semantics``: another
    organization role (one organization role per member), or another role of the same
    scope on the same deployment or project (one role per resource); a role on all of them
    may replace any other role of that scope. A role the member holds through ``all`` of
    their own is not counted against a grant on one deployment: a single-deployment entry
    taking away access to every deployment is not a plausible reading, and refusing there
    would refuse the most common request of all (viewer everywhere, editor on one); should it
    happen anyway, :func:`displaced` records the ``all`` role and the grant's end puts it
    back. An ``all`` the bot added (``owned``, another live grant's) does count: when it ends,
    the specific roles it absorbed are put back, and one of them could replace this grant's."""
    owned = set(owned)
    if unit.scope == ResourceKind.ORGANIZATION:
        if not semantics.one_organization_role:
            return []
        return sorted(u for u in set(held) if u.scope == ResourceKind.ORGANIZATION and u != unit)
    if not semantics.one_role_per_resource:
        return []
    return sorted(
        u
        for u in set(held)
        if u.scope == unit.scope
        and u.role_id != unit.role_id
        and (u.target == unit.target or unit.target == "*" or (u.target == "*" and u in owned))
    )


def entry_refusal(
    unit: Unit, held: Iterable[Unit], owned: Iterable[Unit] = (), you: bool = False
) -> str | None:
    """Why adding ``unit``'s entry is refused whatever the service's semantics, or None:
    the member holds its role on that resource with other ``application_roles``
    (:func:`same_role_there`), or holds this very stack-role or console-only entry as their
    own access (the bot did not add it: nothing to grant, and its end must not take theirs).
    Filing asks first (``you``: worded for the requester), the grant again."""
    held = set(held)
    who, has, they = ("You", "hold", "you") if you else ("The member", "holds", "they")
    held_as = {unit, Unit(unit.scope, unit.role_id, "*", unit.application_roles)} & held
    if unit.application_roles is not None and held_as and not held_as & set(owned):
        return (
            f"{who} already {has} {describe(unit)} there as standing access (the bot did "
            "not add it), so there is nothing to grant; the bot adds no second entry of a "
            "role on a resource."
        )
    if not to_add(held, unit):
        return None
    beside = same_role_there(unit, held)
    if beside:
        names = "; ".join(describe(u) for u in beside)
        return (
            f"{who} already {has} {unit.role_id} there ({names}). Elastic Cloud does not "
            f"document how a second {unit.role_id} entry with other application roles on the "
            "same resource behaves, nor whether removing one leaves the other, so the bot "
            f"does not add one beside it. Ask an organization owner to change the role {they} "
            f"hold there, or use the access {they} have."
        )
    return None


def refusal(
    unit: Unit, held: Iterable[Unit], semantics: Semantics, owned: Iterable[Unit] = ()
) -> str | None:
    """Why granting ``unit`` to a member holding ``held`` (of which the bot added ``owned``)
    is refused, or None to go ahead.

    Where the service keeps one role per resource, adding a second role replaces the first
    (the member's standing access or another live grant's). The bot could put it back when
    the grant ends, but not exactly: someone may change it meanwhile, and until the end the
    member goes without it (a viewer grant would demote a standing admin). So instead of
    guessing, such a grant is refused, in words for the requester and the approvers.

    Likewise an entry beside one of the same role on the same resource with other
    ``application_roles`` (:func:`same_role_there`), and a stack-role or console-only entry
    the member holds already as their own access (nothing to grant, and the end must not
    take theirs). Nothing else is refused when the grant adds nothing (the member already
    holds the unit) or the service keeps roles side by side.
    """
    held = set(held)
    if why := entry_refusal(unit, held, owned):
        return why
    if not to_add(held, unit):
        return None
    replaced = same_resource_roles(unit, held, semantics, owned)
    if not replaced:
        return None
    where = "the organization" if unit.scope == ResourceKind.ORGANIZATION else "that resource"
    names = ", ".join(sorted({u.role_id for u in replaced}))
    basis = (
        f"keeps one role per member on {where} (measured on {semantics.measured_at[:10]})"
        if semantics.measured_at
        else f"may keep one role per member on {where} (the bot assumes so until an "
        "integration owner runs `python -m bot probe`)"
    )
    return (
        f"Elastic Cloud {basis}: adding {unit.role_id} "
        f"would replace the {names} role the member already holds there, and the bot does not "
        "replace access it cannot be sure to put back exactly. Ask an organization owner to "
        "change the standing role, or request a role on another resource."
    )


def describe(unit: Unit) -> str:
    """``elasticsearch-viewer``, ``elasticsearch-viewer with application roles
    marketing-reader`` or ``deployment-admin with no application roles (console only)``,
    as a refusal says it (plain text: the caller escapes)."""
    if unit.application_roles is None:
        return unit.role_id
    if not unit.application_roles:
        return f"{unit.role_id} with no application roles (console only)"
    return f"{unit.role_id} with application roles {', '.join(unit.application_roles)}"

"""The switches for what Elastic Cloud does where its documentation says nothing.

Where Elastic documents nothing and no report settles it, :class:`Semantics` has a switch
for each plausible behaviour, settable at construction (``semantics=``) and at run time
(``emulator.semantics = Semantics(...)`` or ``emulator.set_semantics(field=value)``):

* ``all_absorbs``: adding a role with ``all: true`` swallows the member's per-deployment
  (per-project) entries of that role, and removing it takes them too (True, the default);
  or the entries are kept beside it, listed as their own entry, and outlive its removal.
* ``one_role_per_resource``: a second role on the same deployment or project replaces the
  member's other role there (True); or it is added beside it (False, the default).
* ``one_organization_role``: a second organization role replaces the first (True); or the
  member holds both (False, the default).
* ``delete_needs_application_roles``: a DELETE entry that does not repeat the held entry's
  ``application_roles`` leaves it in place (True, strict); or removes it (False, lenient,
  the default: a DELETE then takes the ids from every entry of that role, whatever their
  ``application_roles``).

``application_roles`` are kept per entry, as the API lists them: a member's assignments are
entries keyed by role *and* ``application_roles`` (absent, ``[]`` for console only, or the
stack roles), so a plain ``deployment-viewer`` entry and one with ``application_roles`` are
listed apart, an add merges ids only into the entry with the same list, and (strict) a
removal takes ids only from it. Project custom roles (``GET …/{type}/{id}/roles``) are seeded
per project with ``set_project_roles`` (or ``add_project(roles=…)``); the emulator does not
check that an entry's application roles exist, since Elastic documents no such check.
* ``invitation_minutes``: invitation ``expires_in`` accepts minutes and seconds (True, the
  default); or only hours, days and weeks (False: ``30m`` is refused with 400).
* ``hidden_refuses_named``: a call naming a stopped (hidden) deployment fails with 403
  (True, the default); or it is carried out. ``hidden_refuses_all``: while any deployment
  is hidden, a call naming ``all: true`` for deployments fails with 403 (True); or not
  (False, the default).

The field names are those of the bot's own ``bot.access.planning.Semantics``, so a test can
compare what ``python -m bot probe`` measured with the mode it ran against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Semantics:
    """The service's undocumented behaviours (see the module docstring); defaults as above."""

    all_absorbs: bool = True
    one_role_per_resource: bool = False
    one_organization_role: bool = False
    delete_needs_application_roles: bool = False
    invitation_minutes: bool = True
    hidden_refuses_named: bool = True
    hidden_refuses_all: bool = False

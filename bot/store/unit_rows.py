"""What the bot added to a member and must one day take away (``owned_units``).

A part of :class:`bot.store.repository.Store` (one class per role, one SQL for both
databases); it uses the store's ``db``, ``instance`` and ``_event``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.access.resources import Unit
from bot.clock import to_iso


class UnitRows:
    # -- owned units: what the bot added and must one day take away ------------------------
    def own_units(
        self, elastic_user_id: str, units: Iterable[Unit], request_id: int, now: datetime
    ) -> None:
        with self.db.write() as conn:
            for unit in units:
                conn.execute(
                    "INSERT INTO owned_units (elastic_user_id, unit, request_id, added_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (elastic_user_id, unit.text, request_id, to_iso(now)),
                )

    def owned_units(self, elastic_user_id: str) -> set[Unit]:
        rows = self.db.query(
            "SELECT unit FROM owned_units WHERE elastic_user_id = ?", (elastic_user_id,)
        )
        return {Unit.parse(r["unit"]) for r in rows}

    def adder_of(self, elastic_user_id: str, unit: Unit) -> int | None:
        """The request whose grant added ``unit`` (while the bot still owns it)."""
        row = self.db.one(
            "SELECT request_id FROM owned_units WHERE elastic_user_id = ? AND unit = ?",
            (elastic_user_id, unit.text),
        )
        return row["request_id"] if row else None

    def disown_units(self, elastic_user_id: str, units: Iterable[Unit]) -> None:
        with self.db.write() as conn:
            for unit in units:
                conn.execute(
                    "DELETE FROM owned_units WHERE elastic_user_id = ? AND unit = ?",
                    (elastic_user_id, unit.text),
                )

    def units_needed_by_others(self, elastic_user_id: str, request_id: int) -> set[Unit]:
        """Units that other grants of the same member hold or are about to hold.

        A grant that is itself ending (revoking) needs nothing: two grants ending together
        must not each keep the role for the other.
        """
        rows = self.db.query(
            """
            SELECT unit FROM requests WHERE elastic_user_id = ? AND id != ?
              AND state IN ('approved', 'granting', 'active')
            """,
            (elastic_user_id, request_id),
        )
        return {Unit.parse(r["unit"]) for r in rows}

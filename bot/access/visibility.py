"""Who may see which requests: everyone their own; integration owners and auditors all."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    user_id: str
    is_owner: bool = False
    is_auditor: bool = False

    @property
    def sees_all(self) -> bool:
        return self.is_owner or self.is_auditor

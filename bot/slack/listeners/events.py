"""Events API: the App Home tab, and people who change (leavers)."""

from __future__ import annotations

from slack_bolt import App


def register(app: App, runtime) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict) -> None:
        if event.get("tab") == "home":
            runtime.publish_home(event["user"])

    @app.event("user_change")
    def user_changed(event: dict) -> None:
        """Someone was deactivated, made a guest, or changed their email: their access is
        re-checked against Slack as it is now (the event's own copy is not relied on), and
        whatever they may no longer have ends within seconds."""
        user_id = (event.get("user") or {}).get("id")
        if isinstance(user_id, str) and user_id:
            runtime.background(lambda: runtime.service.person_changed(user_id))

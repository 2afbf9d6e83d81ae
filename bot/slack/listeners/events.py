"""Events API: the App Home tab."""

from __future__ import annotations

from slack_bolt import App


def register(app: App, runtime) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict) -> None:
        if event.get("tab") == "home":
            runtime.publish_home(event["user"])

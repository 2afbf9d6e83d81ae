"""The App Home tab, rendered when its owner opens it."""

from __future__ import annotations


def home_opened(event: dict, runtime) -> None:
    if event.get("tab") == "home":
        runtime.publish_home(event["user"])

"""``python -m bot manifest``: the Slack app manifest with this installation's URLs filled in."""

from __future__ import annotations

from pathlib import Path

import yaml

PLACEHOLDER = "https://example.com"


def manifest_path() -> Path:
    """The repository's manifest.yml (also shipped inside the package)."""
    packaged = Path(__file__).with_name("manifest.yml")
    return packaged if packaged.is_file() else Path(__file__).resolve().parents[1] / "manifest.yml"


def load_manifest() -> dict:
    return yaml.safe_load(manifest_path().read_text())


def render_manifest(url: str | None = None, socket_mode: bool = False) -> str:
    text = manifest_path().read_text()
    if url:
        text = text.replace(PLACEHOLDER, url.rstrip("/"))
    return text

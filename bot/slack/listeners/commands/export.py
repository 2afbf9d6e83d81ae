"""``/elastic-access list … export``: the audit trail the core allowed, as a CSV in a DM."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.access.service import AuditExport, export_events
from bot.audit import events_csv
from bot.slack import blocks
from bot.slack.blocks import replies


def send_export(client: WebClient, runtime, user_id: str, export: AuditExport) -> None:
    content = events_csv(export_events(runtime.service, export))
    opened = client.chat_postMessage(
        channel=user_id,
        text=replies.export_sent(export.label, export.since),
        **blocks.NO_UNFURL,
    )
    client.files_upload_v2(
        channel=opened["channel"],
        content=content,
        filename=f"elastic-access-audit-{export.at:%Y%m%d-%H%M}.csv",
        title="elastic-access audit trail",
    )

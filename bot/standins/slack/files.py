"""Files: the two-step external upload (``files.getUploadURLExternal``, a POST of the bytes
to the returned URL, ``files.completeUploadExternal``).
"""

from __future__ import annotations

from typing import Any

from bot.standins.slack.knowledge import BOT_USER_ID
from bot.standins.slack.replies import _ApiError, _invalid_arguments
from bot.standins.slack.state import _SlackState


class _Files(_SlackState):
    """The files methods of :class:`~.fake.FakeSlack`."""

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(args["length"])
        except (TypeError, ValueError):
            raise _invalid_arguments(["[ERROR] length must be an integer"]) from None
        file_id = self._new_id("F")
        self._pending_files[file_id] = {
            "file_id": file_id,
            "filename": str(args["filename"]),
            "length": length,
            "content": None,
        }
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args["files"]
        if not isinstance(files, list) or not files:
            raise _invalid_arguments(["[ERROR] files must be a non-empty JSON array"])
        channel_id = args.get("channel_id") or None
        if channel_id is not None:
            channel_id = self._resolve_channel(channel_id, allow_user_ids=False)
        entries = []
        for item in files:
            file_id = item.get("id") if isinstance(item, dict) else None
            pending = self._pending_files.get(str(file_id))
            if pending is None or pending["content"] is None:
                raise _ApiError("file_not_found")
            entries.append((item, pending))
        out = []
        for item, pending in entries:
            del self._pending_files[pending["file_id"]]
            title = item.get("title") or pending["filename"]
            self._uploaded.append(
                {
                    "file_id": pending["file_id"],
                    "filename": pending["filename"],
                    "title": title,
                    "channel_id": channel_id,
                    "content": pending["content"],
                    "initial_comment": args.get("initial_comment") or None,
                }
            )
            out.append(
                {
                    "id": pending["file_id"],
                    "name": pending["filename"],
                    "title": title,
                    "size": len(pending["content"]),
                    "user": BOT_USER_ID,
                }
            )
        return {"files": out}

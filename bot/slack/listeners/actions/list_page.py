"""Previous / next page of ``/elastic-access list``, in place of the page shown."""

from __future__ import annotations

import json

from slack_bolt import Ack, Respond

from bot.access.service import LIST_PAGE_SIZE, list_requests
from bot.slack import blocks


def list_page(ack: Ack, body: dict, respond: Respond, runtime) -> None:
    ack()
    try:
        value = json.loads(body["actions"][0]["value"])
        filters = tuple(str(f) for f in value["f"]) + (f"page:{int(value['p'])}",)
    except (KeyError, ValueError, TypeError):
        return
    requests, total, heading, query = list_requests(runtime.service, body["user"]["id"], filters)
    text, view = blocks.request_list(
        requests, total, heading, page=query.page, page_size=LIST_PAGE_SIZE, filters=filters
    )
    respond(
        text=text, blocks=view, response_type="ephemeral", replace_original=True, **blocks.NO_UNFURL
    )

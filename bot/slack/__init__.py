"""The edge to Slack: Bolt app, listeners (parse, ack, call the core, render), Block Kit, DMs."""

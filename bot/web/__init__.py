"""The HTTP edge: Slack's request URL plus health endpoints, as one WSGI application."""

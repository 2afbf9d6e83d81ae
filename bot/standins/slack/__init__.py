"""The fake Slack Web API, in parts: import the public names from their modules.

* :mod:`.fake`: :class:`~.fake.FakeSlack`, the server to run, seed and inspect;
* :mod:`.answers`: :func:`~.answers.answer_errors`, what Slack would refuse in the bot's answers;
* :mod:`.text`: :func:`~.text.text_of`, Block Kit flattened for assertions;
* :mod:`.knowledge`: ids, limits and per-method knowledge (required args, scopes, errors);
* :mod:`.blockkit_check`: Block Kit validated as Slack validates it;
* :mod:`.chat`, :mod:`.views`, :mod:`.directory`, :mod:`.conversations`, :mod:`.files`: the
  Web API methods, by surface;
* :mod:`.server`, :mod:`.state`, :mod:`.replies`: HTTP, the shared state, the error type.

Nothing is imported here, so that importing one part does not load the rest.
"""

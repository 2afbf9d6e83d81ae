"""The Elastic Cloud emulator, in parts: import the public names from their modules.

* :mod:`.emulator`: :class:`~.emulator.ElasticEmulator`, the server to run, seed and inspect;
* :mod:`.semantics`: :class:`~.semantics.Semantics`, the switches for undocumented behaviour;
* :mod:`.validator`: :class:`~.validator.SpecValidator`, a request checked (specs or models);
* :mod:`.spec`, :mod:`.schema`, :mod:`.routes`: the specs (or the builtin route table) loaded;
* :mod:`.models`: the request models a bare clone checks against, without the specs;
* :mod:`.state`, :mod:`.assignments`: the organization and its role-assignment rules;
* :mod:`.handlers`, :mod:`.render`, :mod:`.search`: the operations and their JSON;
* :mod:`.server`, :mod:`.replies`, :mod:`.faults`: HTTP, and faults on purpose.

Nothing is imported here, so that importing one part does not load the rest.
"""

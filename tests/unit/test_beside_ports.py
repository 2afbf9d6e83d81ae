"""``tests/test_ports.py``, run as part of the unit layer (see ``beside.py``)."""

from tests.unit.beside import borrow

borrow("tests.test_ports", globals())

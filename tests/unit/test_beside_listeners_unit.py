"""``tests/test_listeners_unit.py``, run as part of the unit layer (see ``beside.py``)."""

from tests.unit.beside import borrow

borrow("tests.test_listeners_unit", globals())

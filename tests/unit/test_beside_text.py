"""``tests/test_text.py``, run as part of the unit layer (see ``beside.py``)."""

from tests.unit.beside import borrow

borrow("tests.test_text", globals())

"""``tests/test_durations.py``, run as part of the unit layer (see ``beside.py``)."""

from tests.unit.beside import borrow

borrow("tests.test_durations", globals())

"""``tests/test_listing.py``, run as part of the unit layer (see ``beside.py``)."""

from tests.unit.beside import borrow

borrow("tests.test_listing", globals())

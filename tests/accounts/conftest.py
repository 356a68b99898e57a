from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    """Stop the clock for a TOTP test: the code the test computes and the step the server
    checks it against cannot fall on either side of a 30-second boundary."""
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False):
        yield

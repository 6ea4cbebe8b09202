"""`gc_paused`: the cyclic collector is off inside the block and back as it was after it."""

from __future__ import annotations

import gc

import pytest

from sentinel.gcpause import gc_paused


def test_the_collector_is_off_inside_and_on_again_after_even_on_error() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_caller_that_disabled_the_collector_keeps_it_disabled() -> None:
    gc.disable()
    try:
        with gc_paused(), gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()

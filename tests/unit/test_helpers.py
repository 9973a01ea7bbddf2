"""The tests' one way to wait: it returns what the condition found, and a wait that times out says
what it waited for and the last exception the check raised."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import wait_for


def test_wait_for_returns_the_first_truthy_value() -> None:
    calls = itertools.count()
    assert wait_for(lambda: next(calls) >= 2 and "ready", timeout=5) == "ready"


def test_a_timed_out_wait_names_what_and_the_last_exception() -> None:
    def check() -> bool:
        raise ConnectionRefusedError("no socket yet")

    with pytest.raises(pytest.fail.Exception) as failed:
        wait_for(check, timeout=0.2, what="supervisord to answer")
    assert "waiting for supervisord to answer" in str(failed.value)
    assert "ConnectionRefusedError('no socket yet')" in str(failed.value)

"""Fixtures for the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.fdm import router


@pytest.fixture(autouse=True)
def _fresh_router_caches() -> Iterator[None]:
    """Each test starts with the router's module caches empty (the clock of a second, the tags of a
    Date, the LDA reading of a command line), so a test sees what the code computes, not what an
    earlier test left: the mutation run forks every mutant from a process whose clean run filled
    them, and a cached answer would hide the mutated function."""
    router._CLOCK.clear()
    router._time_tags_at.cache_clear()
    router._lda_call.cache_clear()
    yield

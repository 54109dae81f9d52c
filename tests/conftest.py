"""Shared fixtures; constants and helpers live in tests/helpers.py."""

from __future__ import annotations

import jax
import pytest

from tests.helpers import FakeTime

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def fake_time() -> FakeTime:
  return FakeTime()

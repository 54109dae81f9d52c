"""When evals are due: by submission time (AlgoPerf's rule) or every N steps."""

from __future__ import annotations

import pytest

from algoperf_lab.harness.cadence import EvalCadence


def test_time_cadence_due_at_exactly_the_period() -> None:
  cadence = EvalCadence(period_sec=10.0)
  assert not cadence.is_due(step=1, submission_time_sec=0.0)
  assert not cadence.is_due(step=5, submission_time_sec=9.999)
  assert cadence.is_due(step=6, submission_time_sec=10.0)
  assert cadence.is_due(step=7, submission_time_sec=12.0)


def test_time_cadence_counts_from_the_last_eval() -> None:
  cadence = EvalCadence(period_sec=10.0)
  cadence.mark_evaluated(12.0)
  assert not cadence.is_due(step=8, submission_time_sec=21.5)
  assert cadence.is_due(step=9, submission_time_sec=22.0)


def test_time_cadence_ignores_steps() -> None:
  cadence = EvalCadence(period_sec=10.0)
  assert not cadence.is_due(step=1000, submission_time_sec=1.0)
  assert cadence.is_due(step=0, submission_time_sec=10.0)


def test_step_cadence_due_at_multiples() -> None:
  cadence = EvalCadence(period_sec=10.0, every_steps=3)
  due = [step for step in range(10) if cadence.is_due(step, submission_time_sec=1000.0)]
  assert due == [3, 6, 9]


def test_step_cadence_ignores_time_and_step_zero() -> None:
  cadence = EvalCadence(period_sec=10.0, every_steps=4)
  assert not cadence.is_due(step=0, submission_time_sec=1e6)
  assert not cadence.is_due(step=5, submission_time_sec=1e6)
  assert cadence.is_due(step=4, submission_time_sec=0.0)
  assert cadence.is_due(step=8, submission_time_sec=0.0)


def test_step_cadence_of_one_is_every_step() -> None:
  cadence = EvalCadence(period_sec=10.0, every_steps=1)
  assert not cadence.is_due(0, 0.0)
  assert all(cadence.is_due(step, 0.0) for step in range(1, 5))


@pytest.mark.parametrize("every_steps", [0, -2])
def test_invalid_step_cadence(every_steps: int) -> None:
  with pytest.raises(ValueError, match="eval_every_steps"):
    EvalCadence(period_sec=10.0, every_steps=every_steps)


@pytest.mark.parametrize("period_sec", [0.0, -1.0])
def test_invalid_period(period_sec: float) -> None:
  with pytest.raises(ValueError, match="eval_period_time_sec"):
    EvalCadence(period_sec=period_sec)


def test_period_not_checked_when_counting_steps() -> None:
  cadence = EvalCadence(period_sec=0.0, every_steps=2)
  assert cadence.is_due(2, 0.0)

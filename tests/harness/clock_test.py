"""The submission clock counts only the segments between start() and pause()."""

from __future__ import annotations

import pytest

from algoperf_lab.harness.clock import SubmissionClock
from tests.helpers import FakeTime


def test_accumulates_only_running_segments(fake_time: FakeTime) -> None:
  clock = SubmissionClock(time_fn=fake_time)
  fake_time.advance(5.0)  # before the first start: not counted
  clock.start()
  fake_time.advance(2.0)
  assert clock.pause() == 2.0
  fake_time.advance(100.0)  # paused (an eval): not counted
  assert clock.elapsed() == 2.0
  clock.start()
  fake_time.advance(3.5)
  assert clock.pause() == 5.5
  assert clock.elapsed() == 5.5


def test_pause_returns_the_total_including_initial(fake_time: FakeTime) -> None:
  clock = SubmissionClock(time_fn=fake_time, initial_sec=10.0)  # resumed from a checkpoint
  assert clock.elapsed() == 10.0
  clock.start()
  fake_time.advance(1.25)
  assert clock.pause() == 11.25


def test_elapsed_while_running(fake_time: FakeTime) -> None:
  clock = SubmissionClock(time_fn=fake_time)
  clock.start()
  fake_time.advance(4.0)
  assert clock.running
  assert clock.elapsed() == 4.0
  fake_time.advance(1.0)
  assert clock.elapsed() == 5.0
  assert clock.running  # reading does not stop it


def test_running_flag(fake_time: FakeTime) -> None:
  clock = SubmissionClock(time_fn=fake_time)
  assert not clock.running
  clock.start()
  assert clock.running
  clock.pause()
  assert not clock.running


def test_double_start_raises(fake_time: FakeTime) -> None:
  clock = SubmissionClock(time_fn=fake_time)
  clock.start()
  fake_time.advance(1.0)
  with pytest.raises(RuntimeError, match="already running"):
    clock.start()
  assert clock.pause() == 1.0  # the failed start did not reset the segment


def test_pause_when_stopped_raises(fake_time: FakeTime) -> None:
  clock = SubmissionClock(time_fn=fake_time)
  with pytest.raises(RuntimeError, match="not running"):
    clock.pause()
  clock.start()
  clock.pause()
  with pytest.raises(RuntimeError, match="not running"):
    clock.pause()

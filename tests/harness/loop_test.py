"""The harness's timing and stopping rules, on a very small LM over the real corpus.

A fake clock makes the rules exact: every update_params costs 1 s of submission time, every
eval 100 s of wall time that must not count.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import jax
import pytest

from algoperf_lab import hyperparameters, loader, registry, spec
from algoperf_lab.harness import loop
from algoperf_lab.harness.loop import RunIdentity, RunSettings
from tests.helpers import ADAMW, SMALL_LM_OVERRIDES, FakeTime

STEP_SEC = 1.0
EVAL_SEC = 100.0


def _small_lm(extra: tuple[str, ...] = ()) -> spec.Workload:
  return registry.make_workload("lm", "tiny", SMALL_LM_OVERRIDES + extra)


def _timed(submission: loader.Submission, workload: spec.Workload, fake_time: FakeTime,
           fail_after: int | None = None) -> tuple[loader.Submission, spec.Workload]:
  """Makes each update cost STEP_SEC and each eval EVAL_SEC on the fake clock."""
  update = submission.update_params
  calls = {"n": 0}

  def timed_update(**kwargs: Any) -> Any:
    fake_time.advance(STEP_SEC)
    calls["n"] += 1
    if fail_after is not None and calls["n"] > fail_after:
      raise spec.TrainingCompleteError()
    return update(**kwargs)

  evaluate = workload.eval_model

  def timed_eval(*args: Any, **kwargs: Any) -> dict[str, float]:
    fake_time.advance(EVAL_SEC)
    return evaluate(*args, **kwargs)

  workload.eval_model = timed_eval  # type: ignore[method-assign]
  return dataclasses.replace(submission, update_params=timed_update), workload


def _run(tmp_path: Path, fake_time: FakeTime, settings: RunSettings, *,
         workload: spec.Workload | None = None, hparams_override: dict[str, Any] | None = None,
         fail_after: int | None = None) -> loop.RunResult:
  submission = loader.load_submission(ADAMW)
  submission, workload = _timed(submission, workload or _small_lm(), fake_time, fail_after)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams,
                                                 hparams_override or {}, ADAMW)
  identity = RunIdentity(workload="lm", size="tiny", submission="adamw", submission_path=ADAMW,
                         submission_form="optax", hparams=hparams._asdict(), seed=settings.seed)
  return loop.train_and_evaluate(workload, submission, hparams, settings, identity, tmp_path,
                                 time_fn=fake_time)


def _lines(tmp_path: Path) -> list[dict[str, Any]]:
  return [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]


def test_eval_time_is_excluded_and_evals_follow_submission_time(tmp_path, fake_time):
  workload = _small_lm(("--config.targets.eval_period_time_sec=5.0",
                        "--config.targets.validation=0.0"))
  result = _run(tmp_path, fake_time, RunSettings(progress=False, max_steps=12), workload=workload)
  lines = _lines(tmp_path)
  # One eval every 5 s of submission time = every 5 steps; the 100 s evals never count.
  assert [line["step"] for line in lines] == [5, 10, 12]
  assert [line["submission_time_sec"] for line in lines] == [5.0, 10.0, 12.0]
  assert result.submission_time_sec == 12.0
  assert result.status.value == "capped" and result.stop_reason == "max_steps=12"


def test_budget_stop(tmp_path, fake_time):
  workload = _small_lm(("--config.targets.max_allowed_runtime_sec=7.0",
                        "--config.targets.validation=0.0"))
  result = _run(tmp_path, fake_time, RunSettings(progress=False, eval_every_steps=3,
                                                 clock="wall"),  # the budget overridden
                workload=workload)
  assert result.steps == 7  # the step whose end crossed 7 s of submission time
  assert result.status.value == "missed" and result.stop_reason == "budget spent"
  assert [line["step"] for line in _lines(tmp_path)] == [3, 6, 7]
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["status"] == "missed" and record["reached_target"] is False
  assert record["time_to_target_sec"] is None


def test_target_stop_records_time_to_target(tmp_path, fake_time):
  # bits/byte starts near 8 for an untrained byte model, so 7.9 is met after a few steps.
  workload = _small_lm(("--config.targets.validation=7.9",))
  result = _run(tmp_path, fake_time, RunSettings(progress=False, eval_every_steps=4),
                workload=workload)
  assert result.status.value == "reached"
  assert result.time_to_target_sec == float(result.steps) * STEP_SEC
  last = _lines(tmp_path)[-1]
  assert last["validation/bits_per_byte"] <= 7.9
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["reached_target"] is True and record["time_to_target_sec"] == result.time_to_target_sec
  for key in ("workload", "size", "submission", "hparams", "seed", "hardware", "versions",
              "status", "reached_target", "time_to_target_sec", "steps"):
    assert key in record
  assert record["hardware"]["device_count"] == jax.device_count()
  assert set(record["versions"]) >= {"jax", "flax", "optax", "python", "algoperf_lab"}


def test_divergence_stops_and_is_recorded_as_diverged(tmp_path, fake_time):
  workload = _small_lm(("--config.targets.validation=0.0",))
  result = _run(tmp_path, fake_time, RunSettings(progress=False, eval_every_steps=2, max_steps=20),
                workload=workload, hparams_override={"learning_rate": 1e30, "warmup_factor": 0.0})
  assert result.status.value == "diverged"
  assert result.steps < 20
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["status"] == "diverged" and record["reached_target"] is False
  # The metrics file stays strict JSON: non-finite values are written as null.
  assert any(value is None for value in _lines(tmp_path)[-1].values())


def test_training_complete_error_stops_the_run(tmp_path, fake_time):
  workload = _small_lm(("--config.targets.validation=0.0",))
  result = _run(tmp_path, fake_time, RunSettings(progress=False, eval_every_steps=100),
                workload=workload, fail_after=3)
  assert result.steps == 3
  assert result.stop_reason == "submission signalled completion"
  assert [line["step"] for line in _lines(tmp_path)] == [3]


@pytest.mark.parametrize("checkpoint_every_sec, expected_blocks", [(None, 4), (1e9, 5)])
def test_loop_does_not_sync_every_step(tmp_path, fake_time, monkeypatch, checkpoint_every_sec,
                                       expected_blocks):
  blocks = []
  real_block = loop._block_on_arrays
  monkeypatch.setattr(loop, "_block_on_arrays", lambda tree: (blocks.append(1), real_block(tree)))
  workload = _small_lm(("--config.targets.validation=0.0",))
  _run(tmp_path, fake_time, RunSettings(progress=False, eval_every_steps=10, max_steps=20,
                                        checkpoint_every_sec=checkpoint_every_sec),
       workload=workload)
  # Two evals, two blocks each (before and after prepare-for-eval), plus one for the final
  # checkpoint when checkpoints are on; none on the other 18 steps.
  assert len(blocks) == expected_blocks


def test_record_is_valid_json_after_a_crash(tmp_path, fake_time):
  submission = loader.load_submission(ADAMW)

  def broken_update(**kwargs: Any) -> Any:
    raise RuntimeError("boom")

  submission = dataclasses.replace(submission, update_params=broken_update)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams, {}, ADAMW)
  identity = RunIdentity(workload="lm", size="tiny", submission="adamw", submission_path=ADAMW,
                         submission_form="optax", hparams=hparams._asdict(), seed=0)
  with pytest.raises(RuntimeError, match="boom"):
    loop.train_and_evaluate(_small_lm(), submission, hparams, RunSettings(progress=False),
                            identity, tmp_path, time_fn=fake_time)
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["status"] == "failed" and "boom" in record["error"]
  assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_metrics_have_algoperf_prefixes(tmp_path, fake_time):
  _run(tmp_path, fake_time, RunSettings(progress=False, max_steps=2, eval_every_steps=2))
  (line,) = _lines(tmp_path)
  for split in ("train", "validation", "test"):
    assert math.isfinite(line[f"{split}/loss"])
    assert line[f"{split}/bits_per_byte"] == pytest.approx(line[f"{split}/loss"] / math.log(2))


def test_checkpoint_time_is_not_submission_time(tmp_path, fake_time, monkeypatch):
  from algoperf_lab.harness import checkpoints

  saves = []
  real_save = checkpoints.RunCheckpointer.save

  def slow_save(self, step, arrays, metadata):
    fake_time.advance(50.0)  # a checkpoint that takes 50 s must not count
    saves.append(step)
    return real_save(self, step, arrays, metadata)

  monkeypatch.setattr(checkpoints.RunCheckpointer, "save", slow_save)
  workload = _small_lm(("--config.targets.validation=0.0",))
  result = _run(tmp_path, fake_time, RunSettings(progress=False, eval_every_steps=4, max_steps=8,
                                                 checkpoint_every_sec=0.0), workload=workload)
  assert len(saves) >= 8  # every step, and at the end
  assert result.submission_time_sec == 8 * STEP_SEC
  assert [line["submission_time_sec"] for line in _lines(tmp_path)] == [4.0, 8.0]


def test_a_failed_checkpoint_write_does_not_lose_the_result(tmp_path, fake_time, monkeypatch,
                                                            capsys):
  from algoperf_lab.harness import checkpoints

  real_close = checkpoints.RunCheckpointer.close

  def failing_close(self):
    real_close(self)  # let the background write finish, then report it as failed
    raise OSError("disk full")

  monkeypatch.setattr(checkpoints.RunCheckpointer, "close", failing_close)
  workload = _small_lm(("--config.targets.validation=0.0",))
  result = _run(tmp_path, fake_time, RunSettings(progress=False, eval_every_steps=2, max_steps=2),
                workload=workload)
  assert result.status.value == "capped"
  assert json.loads((tmp_path / "result.json").read_text())["status"] == "capped"
  assert "disk full" in capsys.readouterr().err


def test_preemption_on_an_eval_step_keeps_that_eval_and_resumes_exactly(tmp_path, monkeypatch):
  """SIGTERM landing on a step where an eval is due: the eval happens before the save."""
  import contextlib

  from algoperf_lab.harness import preemption

  flag = preemption.PreemptionFlag()

  @contextlib.contextmanager
  def fake_sigterm() -> Any:
    yield flag

  monkeypatch.setattr(loop, "sigterm_requests_preemption", fake_sigterm)

  class PreemptingTime(FakeTime):
    """Requests preemption when the 6th update (an eval step) has run."""

    updates = 0

    def advance(self, seconds: float) -> None:
      super().advance(seconds)
      if seconds == STEP_SEC:
        PreemptingTime.updates += 1
        flag.requested = flag.requested or PreemptingTime.updates == 6

  settings = RunSettings(progress=False, eval_every_steps=3, max_steps=9)
  workload = _small_lm(("--config.targets.validation=0.0",))
  reference = _run(tmp_path / "reference", FakeTime(), settings, workload=workload)
  first = _run(tmp_path / "run", PreemptingTime(), settings, workload=_small_lm(
      ("--config.targets.validation=0.0",)))
  assert first.status.value == "preempted" and first.steps == 6
  assert [line["step"] for line in _lines(tmp_path / "run")] == [3, 6]
  flag.requested = False
  resumed = _run(tmp_path / "run", FakeTime(), settings, workload=_small_lm(
      ("--config.targets.validation=0.0",)))
  metrics = lambda lines: [{k: v for k, v in l.items() if "time" not in k} for l in lines]  # noqa: E731
  assert resumed.status.value == "capped" and resumed.steps == 9
  assert metrics(_lines(tmp_path / "run")) == metrics(reference.eval_history)

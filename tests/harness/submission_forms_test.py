"""Both submission forms through the harness: AlgoPerf-style code, the optax step, determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import hyperparameters, loader, registry
from algoperf_lab.harness import loop
from algoperf_lab.harness.loop import RunIdentity, RunSettings
from tests.helpers import ADAMW, ALGOPERF_STYLE, NADAMW, SMALL_LM_OVERRIDES

ALGOPERF_STYLE_HPARAMS = {"learning_rate": 0.01, "one_minus_beta1": 0.1, "beta2": 0.99,
                          "weight_decay": 0.0, "warmup_factor": 0.05, "dropout_rate": 0.1,
                          "label_smoothing": 0.1, "grad_clip": 1.0}


class _ScalarLogger:
  def __init__(self) -> None:
    self.logged: list[tuple[int, dict[str, float]]] = []

  def append_scalar_metrics(self, metrics: dict[str, float], global_step: int) -> None:
    self.logged.append((global_step, metrics))


def _run(tmp_path: Path, source: str, hparams_override: dict[str, Any], seed: int = 0,
         steps: int = 6, extra: tuple[str, ...] = ()) -> tuple[loop.RunResult, Any]:
  workload = registry.make_workload(
      "lm", "tiny", SMALL_LM_OVERRIDES + ("--config.targets.validation=0.0",) + extra)
  workload.metrics_logger = _ScalarLogger()
  submission = loader.load_submission(source)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams, hparams_override,
                                                 source)
  identity = RunIdentity(workload="lm", size="tiny", submission=submission.name,
                         submission_path=source, submission_form=submission.form.value,
                         hparams=hparams._asdict(), seed=seed)
  settings = RunSettings(seed=seed, eval_every_steps=3, max_steps=steps, progress=False)
  return loop.train_and_evaluate(workload, submission, hparams, settings, identity, tmp_path), workload


def _validation_losses(result: loop.RunResult) -> list[float]:
  return [line["validation/loss"] for line in result.eval_history]


def test_algoperf_style_submission_trains(tmp_path):
  result, workload = _run(tmp_path, ALGOPERF_STYLE, ALGOPERF_STYLE_HPARAMS, steps=9)
  losses = _validation_losses(result)
  assert result.steps == 9 and len(losses) == 3
  assert losses[-1] < losses[0]  # it learns
  # It logged through workload.metrics_logger at step 0, as AlgoPerf's baseline does.
  assert [step for step, _ in workload.metrics_logger.logged] == [0]
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["submission_form"] == "algoperf"
  # Its get_batch_size does not know "lm" (ValueError), so the workload's default is used.
  assert record["batch_size"] == workload.default_batch_size


def test_nadamw_baseline_learns(tmp_path):
  result, _ = _run(tmp_path, NADAMW, {"learning_rate": 0.01}, steps=9)
  losses = _validation_losses(result)
  assert losses[-1] < losses[0] - 0.1


def test_same_seed_same_metrics_different_seed_different_metrics(tmp_path):
  first, _ = _run(tmp_path / "a", ADAMW, {}, seed=3)
  second, _ = _run(tmp_path / "b", ADAMW, {}, seed=3)
  other, _ = _run(tmp_path / "c", ADAMW, {}, seed=4)
  strip = lambda h: [{k: v for k, v in line.items() if not k.endswith("time_sec")} for line in h]  # noqa: E731
  assert strip(first.eval_history) == strip(second.eval_history)
  assert _validation_losses(first) != _validation_losses(other)


def test_same_seed_same_metrics_with_dropout_algoperf_form(tmp_path):
  first, _ = _run(tmp_path / "a", NADAMW, {}, seed=1)
  second, _ = _run(tmp_path / "b", NADAMW, {}, seed=1)
  assert _validation_losses(first) == _validation_losses(second)


def test_optax_step_is_built_once_traced_once_and_donates(tmp_path, monkeypatch):
  import optax

  from algoperf_lab.harness import optax_form

  built, traces, call_shapes = [], [], []
  real_build = optax_form.build_train_step

  def recording_build(workload: Any, optimizer: optax.GradientTransformation,
                      *args: Any) -> Any:
    def counting_update(*update_args: Any, **update_kwargs: Any) -> Any:
      traces.append(1)  # runs only while the step is being traced
      return optimizer.update(*update_args, **update_kwargs)

    step = real_build(workload, optax.GradientTransformation(optimizer.init, counting_update),
                      *args)
    built.append(step)

    def shape_recording_step(*step_args: Any) -> Any:
      call_shapes.append(jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), step_args))
      return step(*step_args)

    return shape_recording_step

  monkeypatch.setattr(optax_form, "build_train_step", recording_build)
  _run(tmp_path, ADAMW, {}, steps=6)
  (step,) = built  # built once per run, not per call
  assert len(traces) == 1  # six calls, one trace (so one compilation)
  assert len(call_shapes) == 6
  lowered_text = step.lower(*call_shapes[0]).as_text()
  # Parameters and optimizer state are donated: their buffers are reused for the outputs.
  assert "tf.aliasing_output" in lowered_text or "jax.buffer_donor" in lowered_text

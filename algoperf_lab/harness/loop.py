"""The timed training loop: AlgoPerf's time-to-result rules in one place.

Submission time counts `data_selection`, `update_params`, `prepare_for_eval` (and any
compilation they trigger); it excludes initialisation, evaluation, logging and records. The
loop never waits for the device on an ordinary step: it reads the host clock (a lower bound of
the true submission time while work is queued) and, only when an eval or a stop may be due,
blocks on the latest state and reads the clock again. A run stops at the first eval that
meets the validation target, once the budget is spent, when the submission raises
TrainingCompleteError, or when a metric is non-finite (status `diverged`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import spec
from algoperf_lab.harness import records
from algoperf_lab.harness.cadence import EvalCadence
from algoperf_lab.harness.clock import SubmissionClock
from algoperf_lab.harness.progress import RunProgress
from algoperf_lab.harness.records import RunStatus
from algoperf_lab.loader import Submission


@dataclasses.dataclass(frozen=True)
class RunSettings:
  seed: int = 0
  eval_every_steps: int | None = None  # None: every eval_period_time_sec of submission time
  max_steps: int | None = None  # a step cap for debugging; a capped run that misses is "missed"
  max_runtime_sec: float | None = None  # None: the workload's max_allowed_runtime_sec
  data_dir: str | None = None
  progress: bool = True
  stop_at_target: bool = True  # False: train on to the budget (for measuring targets)


@dataclasses.dataclass(frozen=True)
class RunIdentity:
  """What result.json says about the run apart from its outcome."""

  workload: str
  size: str
  submission: str
  submission_path: str
  submission_form: str
  hparams: Mapping[str, Any]
  seed: int
  ruleset: str = "none"
  study: int | None = None
  trial: int | None = None


@dataclasses.dataclass(frozen=True)
class RunResult:
  status: RunStatus
  reached_target: bool
  time_to_target_sec: float | None
  steps: int
  submission_time_sec: float
  stop_reason: str
  eval_history: list[dict[str, Any]]


def resolve_batch_size(submission: Submission, workload: spec.Workload) -> int:
  """The submission's batch size for this workload, or the workload's default if it has none."""
  try:
    batch_size = submission.get_batch_size(workload.name)
  except (KeyError, NotImplementedError, ValueError):
    return workload.default_batch_size
  if batch_size is None:
    return workload.default_batch_size
  if not isinstance(batch_size, int) or batch_size <= 0:
    raise ValueError(f"{submission.source}: get_batch_size({workload.name!r}) returned "
                     f"{batch_size!r}; expected a positive int.")
  return batch_size


def _block_on_arrays(tree: Any) -> None:
  """Waits for every array leaf (optimizer states may hold functions, e.g. AlgoPerf's update_fn)."""
  jax.block_until_ready([leaf for leaf in jax.tree.leaves(tree) if isinstance(leaf, jax.Array)])


def _non_finite_metrics(metrics: Mapping[str, Any]) -> list[str]:
  return [name for name, value in metrics.items()
          if isinstance(value, float) and not math.isfinite(value)]


def _config_dict(workload: spec.Workload) -> dict[str, Any] | None:
  config = getattr(workload, "config", None)
  return config.to_dict() if hasattr(config, "to_dict") else None


def _target_key(workload: spec.Workload) -> str:
  return f"validation/{workload.target_metric_name}"


def train_and_evaluate(workload: spec.Workload, submission: Submission, hparams: Any,
                       settings: RunSettings, identity: RunIdentity, workdir: Path,
                       time_fn: Callable[[], float] = time.perf_counter) -> RunResult:
  """Trains until target, budget, completion or divergence; writes the run record in workdir."""
  workdir.mkdir(parents=True, exist_ok=True)
  budget_sec = settings.max_runtime_sec or workload.max_allowed_runtime_sec
  result_path, metrics_path = workdir / records.RESULT_FILE, workdir / records.METRICS_FILE
  metrics_path.unlink(missing_ok=True)
  record = {
      "schema_version": records.SCHEMA_VERSION, **dataclasses.asdict(identity),
      "hardware": records.hardware_info(), "versions": records.software_versions(),
      "target_metric": _target_key(workload), "target_value": workload.validation_target_value,
      "test_target_value": workload.test_target_value,
      "target_direction": workload.target_direction.value,
      "max_allowed_runtime_sec": budget_sec,
      "workload_config": _config_dict(workload),
      "eval_cadence": (f"every {settings.eval_every_steps} steps" if settings.eval_every_steps
                       else f"every {workload.eval_period_time_sec:g}s of submission time"),
  }
  records.write_json_atomically(result_path, {**record, "status": RunStatus.RUNNING.value})

  # -- initialisation (untimed) --------------------------------------------------------------
  data_rng, optimizer_rng, model_rng, train_rng, eval_rng = jax.random.split(
      jax.random.PRNGKey(settings.seed), 5)
  batch_size = resolve_batch_size(submission, workload)
  params, model_state = workload.init_model_fn(model_rng)
  optimizer_state = submission.init_optimizer_state(
      workload=workload, model_params=params, model_state=model_state,
      hyperparameters=hparams, rng=optimizer_rng)
  input_queue = workload.build_input_queue(data_rng, "train", settings.data_dir, batch_size)
  record["batch_size"] = batch_size

  clock = SubmissionClock(time_fn)
  cadence = EvalCadence(workload.eval_period_time_sec, settings.eval_every_steps)
  progress = RunProgress(settings.progress, f"{identity.submission} on {identity.workload}/"
                         f"{identity.size}", budget_sec, workload.target_metric_name,
                         workload.validation_target_value)
  eval_results: list[tuple[int, dict[str, float]]] = []
  history: list[dict[str, Any]] = []
  train_state: dict[str, Any] = {
      "validation_goal_reached": False, "test_goal_reached": False, "is_time_remaining": True,
      "last_eval_time": 0.0, "training_complete": False, "accumulated_submission_time": 0.0,
      "accumulated_eval_time": 0.0, "accumulated_logging_time": 0.0, "last_step_end_time": 0.0}
  step, status, stop_reason, time_to_target = 0, RunStatus.MISSED, "", None
  wall_start = time.perf_counter()

  try:
    clock.start()
    while True:
      # -- one timed step ------------------------------------------------------------------
      data_selection_rng, update_rng = jax.random.split(jax.random.fold_in(train_rng, step))
      training_complete = False
      try:
        batch = submission.data_selection(
            workload=workload, input_queue=input_queue, optimizer_state=optimizer_state,
            current_param_container=params, model_state=model_state, hyperparameters=hparams,
            global_step=step, rng=data_selection_rng)
        update_kwargs = dict(
            workload=workload, current_param_container=params,
            current_params_types=workload.model_params_types, model_state=model_state,
            hyperparameters=hparams, batch=batch, loss_type=workload.loss_type,
            optimizer_state=optimizer_state, eval_results=eval_results, global_step=step,
            rng=update_rng)
        if submission.update_params_takes_train_state:
          update_kwargs["train_state"] = dict(train_state)
        optimizer_state, params, model_state = submission.update_params(**update_kwargs)
        step += 1
      except spec.TrainingCompleteError:
        training_complete = True

      estimate = clock.elapsed()
      out_of_budget = estimate >= budget_sec
      step_cap = settings.max_steps is not None and step >= settings.max_steps
      if not (training_complete or out_of_budget or step_cap or cadence.is_due(step, estimate)):
        progress.advance(step, estimate)
        continue

      # -- a reading matters: wait for the device, then read the clock ------------------------
      _block_on_arrays((params, model_state, optimizer_state))
      eval_params = params
      if submission.prepare_for_eval is not None:
        optimizer_state, params, model_state = submission.prepare_for_eval(
            workload=workload, current_param_container=params,
            current_params_types=workload.model_params_types, model_state=model_state,
            hyperparameters=hparams, loss_type=workload.loss_type,
            optimizer_state=optimizer_state, eval_results=eval_results, global_step=step,
            rng=update_rng)
        eval_params = params
      if submission.eval_params is not None:
        eval_params = submission.eval_params(optimizer_state, params)
      _block_on_arrays((params, model_state, optimizer_state, eval_params))
      submission_time = clock.pause()

      # -- evaluation and records (untimed) ---------------------------------------------------
      eval_start = time.perf_counter()
      metrics = workload.eval_model(batch_size, eval_params, model_state, eval_rng,
                                    settings.data_dir, None, step)
      train_metrics = submission.latest_train_metrics()
      if train_metrics is not None:
        metrics.update({f"train_step/{k}": float(v) for k, v in train_metrics.items()})
      eval_time = time.perf_counter() - eval_start
      line = {"step": step, "submission_time_sec": submission_time, **metrics,
              "eval_time_sec": eval_time, "wall_time_sec": time.perf_counter() - wall_start}
      records.append_metrics_line(metrics_path, line)
      history.append(line)
      eval_results.append((step, metrics))
      progress.on_eval(step, submission_time, metrics[_target_key(workload)])

      within_budget = submission_time <= budget_sec
      reached = within_budget and workload.has_reached_validation_target(metrics)
      train_state.update(
          validation_goal_reached=reached, is_time_remaining=not out_of_budget,
          last_eval_time=submission_time, training_complete=training_complete,
          accumulated_submission_time=submission_time,
          accumulated_eval_time=train_state["accumulated_eval_time"] + eval_time)
      if _non_finite_metrics(metrics):
        status, stop_reason = RunStatus.DIVERGED, f"non-finite {_non_finite_metrics(metrics)}"
        time_to_target = None  # a diverged run is a miss, whatever it reached before
        break
      if reached and time_to_target is None:
        time_to_target = submission_time
      if reached and settings.stop_at_target:
        status, stop_reason = RunStatus.REACHED, "target reached"
        break
      if training_complete or out_of_budget or step_cap:
        stop_reason = ("submission signalled completion" if training_complete
                       else "budget spent" if out_of_budget else f"max_steps={settings.max_steps}")
        if time_to_target is not None:
          status = RunStatus.REACHED
        break
      cadence.mark_evaluated(submission_time)
      clock.start()
  except BaseException as error:
    records.write_json_atomically(result_path, {
        **record, "status": "failed", "error": f"{type(error).__name__}: {error}", "steps": step,
        "submission_time_sec": clock.elapsed(), "reached_target": False,
        "time_to_target_sec": None})
    raise
  finally:
    progress.close()

  result = RunResult(status=status, reached_target=status is RunStatus.REACHED,
                     time_to_target_sec=time_to_target, steps=step,
                     submission_time_sec=clock.elapsed(), stop_reason=stop_reason,
                     eval_history=history)
  records.write_json_atomically(result_path, {
      **record, "status": result.status.value, "reached_target": result.reached_target,
      "time_to_target_sec": result.time_to_target_sec, "steps": result.steps,
      "submission_time_sec": result.submission_time_sec, "stop_reason": result.stop_reason,
      "num_evals": len(history), "wall_time_sec": time.perf_counter() - wall_start})
  return result

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
import enum
import math
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import runtime, spec
from algoperf_lab.harness import optax_form, pmap_form, records, resume
from algoperf_lab.harness.cadence import EvalCadence
from algoperf_lab.harness.checkpoints import RunCheckpointer
from algoperf_lab.harness.preemption import PreemptionFlag, sigterm_requests_preemption
from algoperf_lab.harness.clock import CLOCKS, SubmissionClock, resolve_clock
from algoperf_lab.harness.progress import RunProgress
from algoperf_lab.harness.records import RunStatus
from algoperf_lab.spec import AlgoperfApi, Submission
from algoperf_lab.parallel import partitioning
from algoperf_lab.parallel.mesh import MeshConfig, make_mesh


@dataclasses.dataclass(frozen=True)
class RunSettings:
  seed: int = 0
  eval_every_steps: int | None = None  # None: every eval_period_time_sec of submission time
  max_steps: int | None = None  # a step cap for debugging; stopped by it short of the target
  # and of the budget, a run is "capped" (never scored as a miss)
  max_runtime_sec: float | None = None  # None: the workload's max_allowed_runtime_sec
  data_dir: str | None = None
  progress: bool = True
  stop_at_target: bool = True  # False: train on to the budget (for measuring targets)
  # Wall seconds between checkpoints (also saved at the end and on SIGTERM); None: none at all.
  checkpoint_every_sec: float | None = 300.0
  # The device mesh, and where optax-form training state lives on it ("replicated" or
  # "fsdp"). AlgoPerf-form submissions place their own state (AlgoPerf's data parallelism).
  mesh: MeshConfig = MeshConfig()
  sharding: str = "replicated"
  # What the submission clock reads: "wall", "process_cpu", or "auto" (process_cpu on a CPU
  # backend where the workload has a measured CPU-time budget; see harness/clock.py).
  clock: str = "auto"


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
  clock: str = "wall"  # resolved by train_and_evaluate; part of result.json and the fingerprint


@dataclasses.dataclass(frozen=True)
class RunResult:
  status: RunStatus
  reached_target: bool
  time_to_target_sec: float | None
  steps: int
  submission_time_sec: float
  stop_reason: str
  eval_history: list[dict[str, Any]]
  resumed_from_step: int | None = None  # the checkpoint this run continued from, if any
  clock: str = "wall"  # what its seconds are: "wall" or "process_cpu" (CPU seconds)
  steps_to_target: int | None = None  # the step of the eval that first met the target

  @property
  def time_unit(self) -> str:
    """How to print this run's seconds: "s" (wall) or "CPU s" (process CPU time)."""
    return "CPU s" if self.clock == "process_cpu" else "s"


class ResumeCheckpointError(RuntimeError):
  """Checkpoints exist but none can be read; nothing is overwritten."""


class BatchSizeTypeError(ValueError):
  """A submission's get_batch_size returned something that is not a positive int."""


def resolve_batch_size(submission: Submission, workload: spec.Workload) -> int:
  """The submission's batch size for this workload, or the workload's default if it has none."""
  try:
    batch_size = submission.get_batch_size(workload.name)
  except (KeyError, NotImplementedError, ValueError):
    return workload.default_batch_size
  if batch_size is None:
    return workload.default_batch_size
  if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
    raise BatchSizeTypeError(f"{submission.source}: get_batch_size({workload.name!r}) returned "
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


def _record_header(workload: spec.Workload, settings: RunSettings, identity: RunIdentity,
                   budget_sec: float) -> dict[str, Any]:
  return {
      "schema_version": records.SCHEMA_VERSION, **dataclasses.asdict(identity),
      "hardware": records.hardware_info(), "versions": records.software_versions(),
      "target_metric": _target_key(workload), "target_value": workload.validation_target_value,
      "test_target_value": workload.test_target_value,
      "target_direction": workload.target_direction.value,
      "max_allowed_runtime_sec": budget_sec,
      "workload_config": _config_dict(workload),
      "eval_cadence": (f"every {settings.eval_every_steps} steps" if settings.eval_every_steps
                       else f"every {workload.eval_period_time_sec:g}s of submission time"),
      "sharding": settings.sharding, "mesh": dataclasses.asdict(settings.mesh),
      "lab_commit": records.lab_commit(), "started": records.moment(),
      # whether compilation, which submission time counts, could load programs compiled before
      "compilation_cache": runtime.compilation_cache_on(),
  }


def _fresh_train_state() -> dict[str, Any]:
  return {"validation_goal_reached": False, "test_goal_reached": False, "is_time_remaining": True,
          "last_eval_time": 0.0, "training_complete": False, "accumulated_submission_time": 0.0,
          "accumulated_eval_time": 0.0, "accumulated_logging_time": 0.0,
          "last_step_end_time": 0.0}


def _iterator_state(input_queue: Any) -> Any:
  return input_queue.get_state() if hasattr(input_queue, "get_state") else None


class _Records:
  """The run record files; only the primary process writes them."""

  def __init__(self, workdir: Path, header: dict[str, Any]):
    self.result_path = workdir / records.RESULT_FILE
    self.metrics_path = workdir / records.METRICS_FILE
    self.header = header
    self.primary = jax.process_index() == 0

  def write_result(self, fields: dict[str, Any]) -> None:
    if self.primary:
      records.write_json_atomically(self.result_path, {**self.header, **fields})

  def append_eval(self, line: dict[str, Any]) -> None:
    if self.primary:
      records.append_metrics_line(self.metrics_path, line)

  def rewrite_evals(self, history: list[dict[str, Any]]) -> None:
    """metrics.jsonl as of a checkpoint: evals after it are redone by the resumed run."""
    if not self.primary:
      return
    partial = self.metrics_path.with_name(f".{self.metrics_path.name}.tmp")
    partial.write_text("".join(records.to_strict_json(line) + "\n" for line in history))
    partial.replace(self.metrics_path)


@dataclasses.dataclass
class _Run:
  """What one run holds fixed while it trains: the pieces, the records and the budget."""

  workload: spec.Workload
  submission: Submission
  hparams: Any
  settings: RunSettings
  identity: RunIdentity
  files: _Records
  budget_sec: float
  batch_size: int = 0
  input_queue: Any = None
  fingerprint: str = ""
  checkpointer: RunCheckpointer | None = None
  train_rng: Any = None
  eval_rng: Any = None
  wall_start: float = 0.0

  @property
  def pmap_api(self) -> bool:
    return self.submission.algoperf_api is AlgoperfApi.PMAP


class _Action(enum.Enum):
  """What the loop does after a step, decided in one place (`_next_action`)."""

  CONTINUE = "continue"
  CHECKPOINT = "checkpoint"
  PREEMPT = "preempt"


def train_and_evaluate(workload: spec.Workload, submission: Submission, hparams: Any,
                       settings: RunSettings, identity: RunIdentity, workdir: Path,
                       time_fn: Callable[[], float] | None = None) -> RunResult:
  """Trains until target, budget, completion, divergence or preemption; resumes from the
  workdir's last good checkpoint when there is one; writes the run record in workdir.

  Everything that can refuse the run (batch size, mesh, workload options, checkpoints of
  another run) is checked before the record is touched: a refused command changes nothing on
  disk. SIGTERM in any phase (building the optimizer, loading data, compiling, restoring)
  ends in status `preempted` (or, before the record is opened, leaves the workdir as it was).
  Any other exception after the record is opened leaves status `failed` with the error (or
  `interrupted` for Ctrl-C, which resumes like a kill).
  """
  with sigterm_requests_preemption() as preemption:
    workdir.mkdir(parents=True, exist_ok=True)
    clock_name = resolve_clock(settings.clock, jax.devices()[0].platform,
                               workload.max_allowed_cpu_sec is not None,
                               settings.max_runtime_sec is not None)
    identity = dataclasses.replace(identity, clock=clock_name)
    budget_sec = _budget_sec(workload, settings, clock_name)
    time_fn = time_fn or CLOCKS[clock_name]
    run = _Run(workload, submission, _hparams_for(submission, hparams), settings, identity,
               _Records(workdir, _record_header(workload, settings, identity, budget_sec)),
               budget_sec)
    try:
      _prepare(run)
      if preemption.requested:
        return _preempted_before_opening(run)
      return _open_and_train(run, time_fn, preemption)
    finally:
      if run.checkpointer is not None:
        _close_checkpointer(run.checkpointer)


def _open_and_train(run: _Run, time_fn: Callable[[], float],
                    preemption: PreemptionFlag) -> RunResult:
  """Opens the record (status running), initialises or resumes, trains, closes the record."""
  run.files.write_result({"status": RunStatus.RUNNING.value})
  clock = SubmissionClock(time_fn)
  state: resume.LoopState | None = None
  try:
    state = _initialise(run)
    clock = SubmissionClock(time_fn, initial_sec=state.submission_time_sec)
    status, stop_reason = _train(run, state, clock, preemption)
  except BaseException as error:
    _record_failure(run, state, clock, error)
    raise
  reached = status is RunStatus.REACHED
  result = RunResult(status=status, reached_target=reached,
                     time_to_target_sec=state.time_to_target_sec if reached else None,
                     steps=state.step, submission_time_sec=clock.elapsed(),
                     stop_reason=stop_reason, eval_history=state.history,
                     resumed_from_step=run.files.header.get("resumed_from_step"),
                     clock=run.identity.clock,
                     steps_to_target=_steps_to_target(state) if reached else None)
  run.files.write_result({
      "status": result.status.value, "reached_target": result.reached_target,
      "time_to_target_sec": result.time_to_target_sec,
      "steps_to_target": result.steps_to_target, "steps": result.steps,
      "submission_time_sec": result.submission_time_sec, "stop_reason": result.stop_reason,
      "num_evals": len(state.history), "wall_time_sec": _wall_time(run),
      "ended": records.moment()})
  return result


def _steps_to_target(state: resume.LoopState) -> int | None:
  """The step of the eval that first met the target (time_to_target_sec's eval)."""
  return next((int(line["step"]) for line in state.history
               if line["submission_time_sec"] == state.time_to_target_sec), None)


def _preempted_before_opening(run: _Run) -> RunResult:
  """SIGTERM before the record was opened: nothing was written, the same command starts or
  resumes the run; the record on disk (if any) is left as it was."""
  return RunResult(status=RunStatus.PREEMPTED, reached_target=False, time_to_target_sec=None,
                   steps=0, submission_time_sec=0.0,
                   stop_reason="SIGTERM before the run started: nothing changed on disk",
                   eval_history=[])


def _budget_sec(workload: spec.Workload, settings: RunSettings, clock_name: str) -> float:
  """The submission-time budget in the clock's own seconds (measured per clock, not scaled)."""
  if settings.max_runtime_sec is not None:
    return settings.max_runtime_sec
  if clock_name == "process_cpu":
    return float(workload.max_allowed_cpu_sec)  # resolve_clock checked that there is one
  return workload.max_allowed_runtime_sec


def _record_failure(run: _Run, state: resume.LoopState | None, clock: SubmissionClock,
                    error: BaseException) -> None:
  """Status failed (or interrupted, for Ctrl-C) with the error and its traceback kept."""
  interrupted = isinstance(error, KeyboardInterrupt)
  run.files.write_result({
      "status": RunStatus.INTERRUPTED.value if interrupted else RunStatus.FAILED.value,
      "error": f"{type(error).__name__}: {error}",
      "traceback": None if interrupted else "".join(traceback.format_exception(error)),
      "steps": state.step if state else 0,
      "submission_time_sec": clock.elapsed(), "reached_target": False,
      "time_to_target_sec": None})


def _prepare(run: _Run) -> None:
  """Everything that can refuse the run, with nothing written: the batch size, the mesh, the
  workload options, the fingerprint, and the workdir's checkpoints (metadata only: a
  checkpoint of another run is refused before any array is read)."""
  workload, submission = run.workload, run.submission
  run.batch_size = resolve_batch_size(submission, workload)
  _check_expert_request(workload, run.settings)
  _use_mesh(submission, run.settings)
  _configure_workload_options(run)
  workload.check_batch_size(run.batch_size)
  run.files.header["batch_size"] = run.batch_size
  run.fingerprint = resume.run_fingerprint(
      dataclasses.asdict(run.identity), _config_dict(workload), run.batch_size,
      eval_every_steps=run.settings.eval_every_steps, max_steps=run.settings.max_steps,
      max_runtime_sec=run.settings.max_runtime_sec)
  if run.settings.checkpoint_every_sec is None:
    return
  run.checkpointer = RunCheckpointer(run.files.result_path.parent / resume.CHECKPOINT_DIR)
  for step, metadata in run.checkpointer.readable_metadata():
    resume.check_fingerprint(metadata, run.fingerprint,
                             str(run.checkpointer.directory / str(step)))


def _initialise(run: _Run) -> resume.LoopState:
  """Model, optimizer state and input queue; restored from the last good checkpoint when
  there is one (untimed). `_prepare` has run."""
  data_rng, optimizer_rng, model_rng, run.train_rng, run.eval_rng = jax.random.split(
      jax.random.PRNGKey(run.settings.seed), 5)
  workload, submission = run.workload, run.submission
  if submission.init_model is not None:
    params, model_state = submission.init_model(workload, model_rng)
  else:
    params, model_state = workload.init_model_fn(model_rng)
  if run.pmap_api:  # v0.5's runner handed over replicated state (see pmap_form)
    pmap_form.check_supported(run.batch_size)
    params, model_state = pmap_form.replicate((params, model_state))
  optimizer_state = _call_submission(run, submission.init_optimizer_state, workload=workload,
                                     model_params=params, model_state=model_state,
                                     hyperparameters=run.hparams, rng=optimizer_rng)
  run.input_queue = workload.build_input_queue(data_rng, "train", run.settings.data_dir,
                                               run.batch_size)
  if run.pmap_api:
    run.input_queue = pmap_form.DeviceLeadingQueue(run.input_queue)
  state = resume.LoopState(params, model_state, optimizer_state, train_state=_fresh_train_state())
  if run.checkpointer is None:
    run.files.metrics_path.unlink(missing_ok=True)
    return state
  return _resume_if_possible(run.checkpointer, state, run.fingerprint, run.input_queue,
                             run.files)


def _train(run: _Run, state: resume.LoopState, clock: SubmissionClock,
           preemption: PreemptionFlag) -> tuple[RunStatus, str]:
  """The timed loop: steps, evals when a reading matters, checkpoints, and the stop."""
  finished_before = _finished_before_resume(state, run.settings, run.budget_sec)
  if finished_before is None and preemption.requested:  # SIGTERM while initialising/restoring
    return RunStatus.PREEMPTED, "SIGTERM before the first step: resumable"
  cadence = EvalCadence(run.workload.eval_period_time_sec, run.settings.eval_every_steps,
                        last_eval_time_sec=state.last_eval_time_sec)
  progress = RunProgress(run.settings.progress, _progress_description(run), run.budget_sec,
                         run.workload.target_metric_name, run.workload.validation_target_value,
                         clock=run.identity.clock,
                         total_steps=(run.settings.max_steps if not run.settings.stop_at_target
                                      else None))
  run.wall_start = time.perf_counter() - (state.history[-1]["wall_time_sec"]
                                          if state.history else 0.0)
  last_checkpoint_wall = time.perf_counter()
  finished = finished_before
  try:
    clock.start()
    while finished is None:
      training_complete, update_rng = _timed_step(run, state)
      estimate = clock.elapsed()
      out_of_budget = estimate >= run.budget_sec
      step_cap = run.settings.max_steps is not None and state.step >= run.settings.max_steps
      if training_complete or out_of_budget or step_cap or cadence.is_due(state.step, estimate):
        submission_time, eval_view = _prepare_eval_timed(run, state, update_rng, clock)
        metrics = _evaluate(run, state, submission_time, eval_view, progress)
        finished = _stop_decision(run, state, metrics, submission_time, training_complete,
                                  out_of_budget, step_cap)
        if finished is not None:
          break
        cadence.mark_evaluated(submission_time)
      else:
        progress.advance(state.step, estimate)
      action = _next_action(preemption.requested, run.checkpointer, last_checkpoint_wall,
                            run.settings.checkpoint_every_sec)
      if action is not _Action.CONTINUE:
        if clock.running:
          clock.pause()
        _save_checkpoint(run, state, clock, cadence)
        last_checkpoint_wall = time.perf_counter()
      if action is _Action.PREEMPT:
        return RunStatus.PREEMPTED, "SIGTERM: checkpoint saved, resumable"
      if not clock.running:
        clock.start()
    if clock.running:
      clock.pause()
    if finished_before is None:
      _save_checkpoint(run, state, clock, cadence)  # the final state, for analysis or more
  finally:
    progress.close()
  return finished


def _progress_description(run: _Run) -> str:
  """'adamw on gnn/tiny', naming a budget that is not the workload's own (self-tuning's 1.5x,
  or --max_runtime_sec) so that the bar's total matches what `list` shows."""
  text = f"{run.identity.submission} on {run.identity.workload}/{run.identity.size}"
  own = (run.workload.max_allowed_cpu_sec if run.identity.clock == "process_cpu"
         else run.workload.max_allowed_runtime_sec)
  if own and abs(run.budget_sec - float(own)) > 1e-6 and run.settings.stop_at_target:
    why = "self-tuning" if run.identity.ruleset == "self" else "given"
    text += f" ({why} budget: {run.budget_sec / float(own):.2g}x the workload's {float(own):g})"
  return text


def _next_action(preemption_requested: bool, checkpointer: RunCheckpointer | None,
                 last_checkpoint_wall: float, checkpoint_every_sec: float | None) -> _Action:
  """The one place that decides whether to save a checkpoint now (and whether to stop for a
  preemption, after saving). A due eval runs first, so a resumed run misses none."""
  if preemption_requested:
    return _Action.PREEMPT
  if (checkpointer is not None and checkpoint_every_sec is not None
      and time.perf_counter() - last_checkpoint_wall >= checkpoint_every_sec):
    return _Action.CHECKPOINT
  return _Action.CONTINUE


def _stop_decision(run: _Run, state: resume.LoopState, metrics: Mapping[str, Any],
                   submission_time: float, training_complete: bool, out_of_budget: bool,
                   step_cap: bool) -> tuple[RunStatus, str] | None:
  """The one place that decides, after an eval, whether the run stops and with what status."""
  reached = (submission_time <= run.budget_sec
             and run.workload.has_reached_validation_target(metrics))
  state.train_state.update(validation_goal_reached=reached, is_time_remaining=not out_of_budget,
                           training_complete=training_complete)
  non_finite = _non_finite_metrics(metrics)
  if non_finite:
    state.time_to_target_sec = None  # a diverged run is a miss, whatever it reached before
    return RunStatus.DIVERGED, f"non-finite {non_finite}"
  if reached and state.time_to_target_sec is None:
    state.time_to_target_sec = submission_time
  if reached and run.settings.stop_at_target:
    return RunStatus.REACHED, "target reached"
  if training_complete or out_of_budget or step_cap:
    reason = ("submission signalled completion" if training_complete
              else "budget spent" if out_of_budget else f"max_steps={run.settings.max_steps}")
    if state.time_to_target_sec is not None:
      return RunStatus.REACHED, reason
    capped = step_cap and not (training_complete or out_of_budget)
    return (RunStatus.CAPPED if capped else RunStatus.MISSED), reason
  return None


def _timed_step(run: _Run, state: resume.LoopState) -> tuple[bool, Any]:
  """data_selection + update_params (timed); True when the submission signals completion."""
  data_selection_rng, update_rng = jax.random.split(jax.random.fold_in(run.train_rng, state.step))
  workload, submission = run.workload, run.submission
  try:
    batch = submission.data_selection(
        workload=workload, input_queue=run.input_queue, optimizer_state=state.optimizer_state,
        current_param_container=state.params, model_state=state.model_state,
        hyperparameters=run.hparams, global_step=state.step, rng=data_selection_rng)
    update_kwargs = dict(
        workload=workload, current_param_container=state.params,
        current_params_types=workload.model_params_types, model_state=state.model_state,
        hyperparameters=run.hparams, batch=batch, loss_type=workload.loss_type,
        optimizer_state=state.optimizer_state, eval_results=state.eval_results,
        global_step=state.step, rng=update_rng)
    if submission.update_params_takes_train_state:
      update_kwargs["train_state"] = dict(state.train_state)
    returned = _call_submission(run, submission.update_params, **update_kwargs)
    state.optimizer_state, state.params, state.model_state = _three_values(run, returned)
    state.step += 1
  except spec.TrainingCompleteError:
    return True, update_rng
  return False, update_rng


def _prepare_eval_timed(run: _Run, state: resume.LoopState, update_rng: Any,
                        clock: SubmissionClock) -> tuple[float, tuple[Any, Any]]:
  """Waits for the device, runs prepare_for_eval / eval_params (timed), pauses the clock.

  Returns the submission time of this reading and the (params, model_state) to evaluate.
  """
  _block_on_arrays((state.params, state.model_state, state.optimizer_state))
  submission, workload = run.submission, run.workload
  if submission.prepare_for_eval is not None:
    state.optimizer_state, state.params, state.model_state = submission.prepare_for_eval(
        workload=workload, current_param_container=state.params,
        current_params_types=workload.model_params_types, model_state=state.model_state,
        hyperparameters=run.hparams, loss_type=workload.loss_type,
        optimizer_state=state.optimizer_state, eval_results=state.eval_results,
        global_step=state.step, rng=update_rng)
  eval_params = state.params
  if submission.eval_params is not None:
    eval_params = submission.eval_params(state.optimizer_state, state.params)
  _block_on_arrays((state.params, state.model_state, state.optimizer_state, eval_params))
  return clock.pause(), (eval_params, state.model_state)


def _evaluate(run: _Run, state: resume.LoopState, submission_time: float,
              eval_view: tuple[Any, Any], progress: RunProgress) -> dict[str, Any]:
  """Evaluates `eval_view` (params, model_state) and appends the metrics line (untimed)."""
  eval_params, eval_model_state = eval_view
  if run.pmap_api:
    eval_params, eval_model_state = pmap_form.first_replica((eval_params, eval_model_state))
  eval_start = time.perf_counter()
  metrics = run.workload.eval_model(run.batch_size, eval_params, eval_model_state, run.eval_rng,
                                    run.settings.data_dir, None, state.step)
  train_metrics = run.submission.latest_train_metrics()
  if train_metrics is not None:
    metrics.update({f"train_step/{k}": float(v) for k, v in train_metrics.items()})
  eval_time = time.perf_counter() - eval_start
  line = {"step": state.step, "submission_time_sec": submission_time, **metrics,
          "eval_time_sec": eval_time, "wall_time_sec": _wall_time(run)}
  run.files.append_eval(line)
  state.history.append(line)
  progress.on_eval(state.step, submission_time, metrics[_target_key(run.workload)])
  state.train_state.update(
      last_eval_time=submission_time, accumulated_submission_time=submission_time,
      accumulated_eval_time=state.train_state["accumulated_eval_time"] + eval_time)
  return metrics


def _save_checkpoint(run: _Run, state: resume.LoopState, clock: SubmissionClock,
                     cadence: EvalCadence) -> None:
  """Saves at the current step; the clock is paused (checkpoint time is not timed)."""
  if run.checkpointer is None:
    return
  arrays = resume.checkpoint_arrays(state)
  _block_on_arrays(arrays)
  state.submission_time_sec = clock.elapsed()
  state.last_eval_time_sec = cadence.last_eval_time_sec
  run.checkpointer.save(state.step, arrays, resume.checkpoint_metadata(
      state, _iterator_state(run.input_queue), run.fingerprint))


def _wall_time(run: _Run) -> float:
  return time.perf_counter() - run.wall_start


class SubmissionContractError(RuntimeError):
  """A submission function returned what the submission API does not allow; the run is
  recorded `failed`, the message names the function and what it returned."""


def _three_values(run: _Run, returned: Any) -> tuple[Any, Any, Any]:
  """update_params' (optimizer_state, params, model_state), refused by name otherwise."""
  if not isinstance(returned, (tuple, list)) or len(returned) != 3:
    what = (f"{len(returned)} values" if isinstance(returned, (tuple, list))
            else type(returned).__name__)
    raise SubmissionContractError(
        f"{run.submission.source}: update_params returned {what}; the API returns "
        "(optimizer_state, params, model_state).")
  return returned[0], returned[1], returned[2]


class MissingHyperparametersError(ValueError):
  """An AlgoPerf-form submission reads hyperparameters the run did not give it."""


def _call_submission(run: _Run, function: Callable[..., Any], **kwargs: Any) -> Any:
  """Calls a submission function; a run with no hyperparameters gets a fix, not a traceback."""
  try:
    return function(**kwargs)
  except AttributeError as error:
    if run.hparams is None and "'NoneType' object has no attribute" in str(error):
      raise MissingHyperparametersError(
          f"{run.submission.source} reads hyperparameters ({error}) but this run gives it "
          "none, as AlgoPerf's self-tuning runner does. It is an external-tuning submission: "
          "pass --hparams=FILE.json, or tune it with `algoperf-lab tune "
          "--search_space=tuning_search_space.json`.") from error
    raise


def _configure_workload_options(run: _Run) -> None:
  """Hands the submission's WORKLOAD_OPTIONS to the workload, which refuses unknown ones."""
  options = run.submission.resolve_workload_options(run.hparams)
  if options:
    run.workload.configure_options(options)
  run.files.header["workload_options"] = dict(options)


def _hparams_for(submission: Submission, hparams: Any) -> Any:
  """An empty record becomes None for AlgoPerf-form submissions, as AlgoPerf's self-tuning
  runner passes them; optax-form submissions get the (possibly empty) record."""
  empty = hparams is None or not getattr(hparams, "_fields", True)
  return None if empty and submission.form is spec.SubmissionForm.ALGOPERF else hparams


class ParallelismError(ValueError):
  """The mesh or sharding request cannot be met; the message says what to change."""


def _close_checkpointer(checkpointer: RunCheckpointer) -> None:
  """Waits for pending saves; a failed write is reported, and the run's result still stands."""
  try:
    checkpointer.close()
  except Exception as error:  # an asynchronous save that failed surfaces here
    print(f"algoperf-lab: writing a checkpoint under {checkpointer.directory} failed "
          f"({type(error).__name__}: {error}); the run's result is recorded without it.",
          file=sys.stderr)


def _check_expert_request(workload: spec.Workload, settings: RunSettings) -> None:
  """--mesh_expert needs --sharding=expert, and that needs parameters with an expert axis
  (checked on abstract parameters: nothing is materialised)."""
  if settings.mesh.expert != 1 and settings.sharding != "expert":
    raise ParallelismError(
        f"--mesh_expert={settings.mesh.expert} makes an expert axis that only "
        "--sharding=expert uses; pass --sharding=expert too (on an MoE workload such as "
        "lm_moe), or drop --mesh_expert.")
  if settings.sharding != "expert":
    return
  abstract_params, _ = jax.eval_shape(workload.init_model_fn, jax.random.PRNGKey(0))
  logical_axes = optax_form.logical_axes(workload)  # set by init_model_fn above
  if not _has_expert_dimension(logical_axes):
    raise ParallelismError(
        f"--sharding=expert splits parameters that have an {partitioning.EXPERT_AXIS!r} "
        f"dimension, and workload {getattr(workload, 'name', '?')!r} has none; use it on an "
        "MoE workload (lm_moe), or --sharding=replicated|fsdp here.")
  try:  # an expert count the expert axis does not divide, before anything compiles
    partitioning.param_shardings(abstract_params, logical_axes, make_mesh(settings.mesh),
                                 "expert")
  except ValueError as error:
    raise ParallelismError(str(error)) from error


def _has_expert_dimension(logical_axes: Any) -> bool:
  """Whether any parameter's logical axes (a tuple or PartitionSpec per leaf) name "expert"."""
  if logical_axes is None:
    return False
  is_axes = lambda x: isinstance(x, (tuple, jax.sharding.PartitionSpec))  # noqa: E731
  for leaf in jax.tree.leaves(logical_axes, is_leaf=is_axes):
    names = tuple(leaf) if is_axes(leaf) else (leaf,)
    for name in names:
      if name == partitioning.EXPERT_AXIS or (isinstance(name, tuple)
                                              and partitioning.EXPERT_AXIS in name):
        return True
  return False


def _use_mesh(submission: Submission, settings: RunSettings) -> None:
  if settings.sharding not in partitioning.STRATEGIES:
    raise ParallelismError(f"--sharding={settings.sharding!r} is unknown; choose from "
                           f"{partitioning.STRATEGIES}.")
  if submission.use_mesh is not None:
    try:
      mesh = make_mesh(settings.mesh)
    except ValueError as error:
      raise ParallelismError(str(error)) from error
    submission.use_mesh(mesh, settings.sharding)
  elif settings.sharding != "replicated" or settings.mesh != MeshConfig():
    raise ParallelismError(
        f"{submission.source} is an AlgoPerf-form submission: it places its own state with "
        "AlgoPerf's jax_sharding_utils (data parallel over every device), so --sharding and "
        "--mesh_* apply to optax-form submissions only.")


def _finished_before_resume(state: resume.LoopState, settings: RunSettings,
                            budget_sec: float) -> tuple[RunStatus, str] | None:
  """(status, reason) when a restored run had already stopped at its last eval, else None.

  A run killed after its final checkpoint but before its result was written resumes here.
  """
  if not state.history or state.history[-1]["step"] != state.step:
    return None
  last = state.history[-1]
  if any(value is None for key, value in last.items() if "/" in key):
    return RunStatus.DIVERGED, "non-finite metrics (before the restart)"
  if state.time_to_target_sec is not None and settings.stop_at_target:
    return RunStatus.REACHED, "target reached (before the restart)"
  if state.submission_time_sec >= budget_sec:
    return RunStatus.MISSED, "budget spent (before the restart)"
  if settings.max_steps is not None and state.step >= settings.max_steps:
    status = RunStatus.REACHED if state.time_to_target_sec is not None else RunStatus.CAPPED
    return status, f"max_steps={settings.max_steps} (before the restart)"
  return None


def _resume_if_possible(checkpointer: RunCheckpointer, fresh: resume.LoopState,
                        fingerprint: str, input_queue: Any,
                        files: _Records) -> resume.LoopState:
  """The state of the newest readable checkpoint (reporting unreadable ones), else `fresh`."""
  restored = checkpointer.latest_restorable(resume.checkpoint_arrays(fresh))
  skipped = [] if restored is None else restored.skipped
  if restored is None and checkpointer.all_steps():
    skipped = [(str(checkpointer.directory / str(s)), "unreadable") for s in checkpointer.all_steps()]
  for path, reason in skipped:
    print(f"algoperf-lab: checkpoint {path} is unreadable ({reason}); it is kept aside and an "
          "older one is used.", file=sys.stderr)
  if restored is None:
    if skipped:
      raise ResumeCheckpointError(
          f"no checkpoint in {checkpointer.directory} could be read ({len(skipped)} tried); "
          "they are kept as they are. Pass --overwrite to start this run from scratch.")
    files.metrics_path.unlink(missing_ok=True)
    return fresh
  state = resume.restored_state(fresh, restored.arrays, restored.metadata, fingerprint,
                                str(checkpointer.directory / str(restored.step)))
  iterator_state = restored.metadata.get("data_iterator_state")
  if iterator_state is not None and hasattr(input_queue, "set_state"):
    input_queue.set_state(iterator_state)
  files.rewrite_evals(state.history)
  files.header["resumed_from_step"] = state.step
  print(f"algoperf-lab: resuming from the checkpoint at step {state.step} "
        f"({state.submission_time_sec:.1f}s of submission time).", file=sys.stderr)
  return state

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
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import spec
from algoperf_lab.harness import pmap_form, records, resume
from algoperf_lab.harness.cadence import EvalCadence
from algoperf_lab.harness.checkpoints import RunCheckpointer
from algoperf_lab.harness.preemption import sigterm_requests_preemption
from algoperf_lab.harness.clock import SubmissionClock
from algoperf_lab.harness.progress import RunProgress
from algoperf_lab.harness.records import RunStatus
from algoperf_lab.spec import AlgoperfApi, Submission
from algoperf_lab.parallel import partitioning
from algoperf_lab.parallel.mesh import MeshConfig, make_mesh


@dataclasses.dataclass(frozen=True)
class RunSettings:
  seed: int = 0
  eval_every_steps: int | None = None  # None: every eval_period_time_sec of submission time
  max_steps: int | None = None  # a step cap for debugging; a capped run that misses is "missed"
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


class ResumeCheckpointError(RuntimeError):
  """Checkpoints exist but none can be read; nothing is overwritten."""


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


def train_and_evaluate(workload: spec.Workload, submission: Submission, hparams: Any,
                       settings: RunSettings, identity: RunIdentity, workdir: Path,
                       time_fn: Callable[[], float] = time.perf_counter) -> RunResult:
  """Trains until target, budget, completion, divergence or preemption; resumes from the
  workdir's last good checkpoint when there is one; writes the run record in workdir."""
  workdir.mkdir(parents=True, exist_ok=True)
  hparams = _hparams_for(submission, hparams)
  budget_sec = settings.max_runtime_sec or workload.max_allowed_runtime_sec
  files = _Records(workdir, _record_header(workload, settings, identity, budget_sec))
  files.write_result({"status": RunStatus.RUNNING.value})

  # -- initialisation (untimed) --------------------------------------------------------------
  data_rng, optimizer_rng, model_rng, train_rng, eval_rng = jax.random.split(
      jax.random.PRNGKey(settings.seed), 5)
  batch_size = resolve_batch_size(submission, workload)
  _use_mesh(submission, settings)
  params, model_state = workload.init_model_fn(model_rng)
  pmap_api = submission.algoperf_api is AlgoperfApi.PMAP
  if pmap_api:  # v0.5's runner handed over replicated state (see pmap_form)
    pmap_form.check_supported(batch_size)
    params, model_state = pmap_form.replicate((params, model_state))
  optimizer_state = submission.init_optimizer_state(
      workload=workload, model_params=params, model_state=model_state,
      hyperparameters=hparams, rng=optimizer_rng)
  if submission.place_params is not None:
    params = submission.place_params(params)
  input_queue = workload.build_input_queue(data_rng, "train", settings.data_dir, batch_size)
  if pmap_api:
    input_queue = pmap_form.DeviceLeadingQueue(input_queue)
  files.header["batch_size"] = batch_size
  state = resume.LoopState(params, model_state, optimizer_state, train_state=_fresh_train_state())
  fingerprint = resume.run_fingerprint(dataclasses.asdict(identity), _config_dict(workload),
                                       batch_size)
  checkpointer = (RunCheckpointer(workdir / resume.CHECKPOINT_DIR)
                  if settings.checkpoint_every_sec is not None else None)
  if checkpointer is not None:
    state = _resume_if_possible(checkpointer, state, fingerprint, input_queue, files)
  else:
    files.metrics_path.unlink(missing_ok=True)

  clock = SubmissionClock(time_fn, initial_sec=state.submission_time_sec)
  cadence = EvalCadence(workload.eval_period_time_sec, settings.eval_every_steps,
                        last_eval_time_sec=state.last_eval_time_sec)
  progress = RunProgress(settings.progress, f"{identity.submission} on {identity.workload}/"
                         f"{identity.size}", budget_sec, workload.target_metric_name,
                         workload.validation_target_value)
  status, stop_reason = RunStatus.MISSED, ""
  wall_start = time.perf_counter() - (state.history[-1]["wall_time_sec"] if state.history else 0.0)
  last_checkpoint_wall = time.perf_counter()

  def save_checkpoint() -> None:
    """Saves at the current step with the clock paused (checkpoint time is not timed)."""
    nonlocal last_checkpoint_wall
    if checkpointer is None:
      return
    _block_on_arrays(resume.checkpoint_arrays(state))
    state.submission_time_sec = clock.elapsed()
    state.last_eval_time_sec = cadence.last_eval_time_sec
    checkpointer.save(state.step, resume.checkpoint_arrays(state),
                      resume.checkpoint_metadata(state, _iterator_state(input_queue), fingerprint))
    last_checkpoint_wall = time.perf_counter()

  finished = _finished_before_resume(state, settings, budget_sec)
  if finished is not None:
    status, stop_reason = finished
  try:
    with sigterm_requests_preemption() as preemption:
      clock.start()
      while finished is None:
        # -- one timed step ----------------------------------------------------------------
        data_selection_rng, update_rng = jax.random.split(jax.random.fold_in(train_rng, state.step))
        training_complete = False
        try:
          batch = submission.data_selection(
              workload=workload, input_queue=input_queue, optimizer_state=state.optimizer_state,
              current_param_container=state.params, model_state=state.model_state,
              hyperparameters=hparams, global_step=state.step, rng=data_selection_rng)
          update_kwargs = dict(
              workload=workload, current_param_container=state.params,
              current_params_types=workload.model_params_types, model_state=state.model_state,
              hyperparameters=hparams, batch=batch, loss_type=workload.loss_type,
              optimizer_state=state.optimizer_state, eval_results=state.eval_results,
              global_step=state.step, rng=update_rng)
          if submission.update_params_takes_train_state:
            update_kwargs["train_state"] = dict(state.train_state)
          state.optimizer_state, state.params, state.model_state = submission.update_params(
              **update_kwargs)
          state.step += 1
        except spec.TrainingCompleteError:
          training_complete = True

        estimate = clock.elapsed()
        out_of_budget = estimate >= budget_sec
        step_cap = settings.max_steps is not None and state.step >= settings.max_steps
        eval_due = cadence.is_due(state.step, estimate)
        if not (training_complete or out_of_budget or step_cap or eval_due):
          if preemption.requested:  # (a due eval is done first, so the resumed run misses none)
            clock.pause()
            save_checkpoint()
            status, stop_reason = RunStatus.PREEMPTED, "SIGTERM: checkpoint saved, resumable"
            break
          progress.advance(state.step, estimate)
          if (checkpointer is not None
              and time.perf_counter() - last_checkpoint_wall >= settings.checkpoint_every_sec):
            clock.pause()
            save_checkpoint()
            clock.start()
          continue

        # -- a reading matters: wait for the device, then read the clock --------------------
        _block_on_arrays((state.params, state.model_state, state.optimizer_state))
        eval_params = state.params
        if submission.prepare_for_eval is not None:
          state.optimizer_state, state.params, state.model_state = submission.prepare_for_eval(
              workload=workload, current_param_container=state.params,
              current_params_types=workload.model_params_types, model_state=state.model_state,
              hyperparameters=hparams, loss_type=workload.loss_type,
              optimizer_state=state.optimizer_state, eval_results=state.eval_results,
              global_step=state.step, rng=update_rng)
          eval_params = state.params
        if submission.eval_params is not None:
          eval_params = submission.eval_params(state.optimizer_state, state.params)
        _block_on_arrays((state.params, state.model_state, state.optimizer_state, eval_params))
        submission_time = clock.pause()

        # -- evaluation and records (untimed) -------------------------------------------------
        eval_start = time.perf_counter()
        eval_model_state = state.model_state
        if pmap_api:
          eval_params, eval_model_state = pmap_form.first_replica((eval_params, eval_model_state))
        metrics = workload.eval_model(batch_size, eval_params, eval_model_state, eval_rng,
                                      settings.data_dir, None, state.step)
        train_metrics = submission.latest_train_metrics()
        if train_metrics is not None:
          metrics.update({f"train_step/{k}": float(v) for k, v in train_metrics.items()})
        eval_time = time.perf_counter() - eval_start
        line = {"step": state.step, "submission_time_sec": submission_time, **metrics,
                "eval_time_sec": eval_time, "wall_time_sec": time.perf_counter() - wall_start}
        files.append_eval(line)
        state.history.append(line)
        progress.on_eval(state.step, submission_time, metrics[_target_key(workload)])

        reached = submission_time <= budget_sec and workload.has_reached_validation_target(metrics)
        state.train_state.update(
            validation_goal_reached=reached, is_time_remaining=not out_of_budget,
            last_eval_time=submission_time, training_complete=training_complete,
            accumulated_submission_time=submission_time,
            accumulated_eval_time=state.train_state["accumulated_eval_time"] + eval_time)
        if _non_finite_metrics(metrics):
          status, stop_reason = RunStatus.DIVERGED, f"non-finite {_non_finite_metrics(metrics)}"
          state.time_to_target_sec = None  # a diverged run is a miss, whatever it reached before
          break
        if reached and state.time_to_target_sec is None:
          state.time_to_target_sec = submission_time
        if reached and settings.stop_at_target:
          status, stop_reason = RunStatus.REACHED, "target reached"
          break
        if training_complete or out_of_budget or step_cap:
          stop_reason = ("submission signalled completion" if training_complete
                         else "budget spent" if out_of_budget else f"max_steps={settings.max_steps}")
          if state.time_to_target_sec is not None:
            status = RunStatus.REACHED
          break
        cadence.mark_evaluated(submission_time)
        if preemption.requested:
          save_checkpoint()
          status, stop_reason = RunStatus.PREEMPTED, "SIGTERM: checkpoint saved, resumable"
          break
        if (checkpointer is not None
            and time.perf_counter() - last_checkpoint_wall >= settings.checkpoint_every_sec):
          save_checkpoint()
        clock.start()
    if clock.running:
      clock.pause()
    if status is not RunStatus.PREEMPTED and finished is None:
      save_checkpoint()  # the final state, for analysis or a longer continuation
  except BaseException as error:
    files.write_result({
        "status": "failed", "error": f"{type(error).__name__}: {error}", "steps": state.step,
        "submission_time_sec": clock.elapsed(), "reached_target": False,
        "time_to_target_sec": None})
    raise
  finally:
    progress.close()
    if checkpointer is not None:
      _close_checkpointer(checkpointer)

  result = RunResult(status=status, reached_target=status is RunStatus.REACHED,
                     time_to_target_sec=state.time_to_target_sec if status is RunStatus.REACHED
                     else None, steps=state.step, submission_time_sec=clock.elapsed(),
                     stop_reason=stop_reason, eval_history=state.history)
  files.write_result({
      "status": result.status.value, "reached_target": result.reached_target,
      "time_to_target_sec": result.time_to_target_sec, "steps": result.steps,
      "submission_time_sec": result.submission_time_sec, "stop_reason": result.stop_reason,
      "num_evals": len(state.history), "wall_time_sec": time.perf_counter() - wall_start})
  return result


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
  if settings.max_steps is not None and state.step >= settings.max_steps:
    return RunStatus.MISSED, f"max_steps={settings.max_steps} (before the restart)"
  if state.submission_time_sec >= budget_sec:
    return RunStatus.MISSED, "budget spent (before the restart)"
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

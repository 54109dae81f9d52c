"""What a checkpoint holds beyond the arrays, and how a run picks up from one.

The arrays are (params, model_state, the optimizer state's array leaves). The metadata holds
everything else the loop needs to continue as if never stopped: the step, the submission
clock, the eval history, the eval cadence, AlgoPerf's train_state, the data iterator's
position, and a fingerprint of the run (workload config, hyperparameters, seed, submission,
eval cadence, step cap, budget) so that a checkpoint of another run is refused instead of mixed in. Per-step random keys are
derived from (seed, step), so no RNG state needs saving.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from algoperf_lab.harness.checkpoints import merge_arrays, split_arrays

CHECKPOINT_DIR = "checkpoints"


class ResumeMismatchError(ValueError):
  """The workdir's checkpoints belong to a different run; nothing is mixed or overwritten."""


@dataclasses.dataclass
class LoopState:
  """The mutable state of the training loop, saved in and restored from checkpoints."""

  params: Any
  model_state: Any
  optimizer_state: Any
  step: int = 0
  submission_time_sec: float = 0.0
  last_eval_time_sec: float = 0.0
  history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  train_state: dict[str, Any] = dataclasses.field(default_factory=dict)
  time_to_target_sec: float | None = None

  @property
  def eval_results(self) -> list[tuple[int, dict[str, float]]]:
    return [(line["step"], line) for line in self.history]


def run_fingerprint(identity: Mapping[str, Any], workload_config: Any, batch_size: int, *,
                    eval_every_steps: int | None = None, max_steps: int | None = None,
                    max_runtime_sec: float | None = None) -> str:
  """A digest of what makes two runs the same run.

  Besides who runs what (identity: workload, submission, hyperparameters, seed, ...), the
  settings that change the recorded result: the eval cadence (a resume with another
  `eval_every_steps` would mix two cadences in one metrics.jsonl), the step cap and the
  submission-time budget. Everything must be JSON data: a value without a stable JSON form
  (a function, say) is an error here rather than a fingerprint that changes every process.
  """
  content = {"identity": identity, "config": workload_config, "batch_size": batch_size,
             "eval_every_steps": eval_every_steps, "max_steps": max_steps,
             "max_runtime_sec": max_runtime_sec}
  try:
    text = json.dumps(content, sort_keys=True)
  except TypeError as error:
    raise ValueError(f"the run fingerprint holds a value that is not JSON data ({error}); "
                     "hyperparameters and configs must be numbers, strings, bools or "
                     "lists.") from error
  return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_arrays(state: LoopState) -> Any:
  return (state.params, state.model_state, split_arrays(state.optimizer_state)[0])


def checkpoint_metadata(state: LoopState, data_iterator_state: Any,
                        fingerprint: str) -> dict[str, Any]:
  return {"fingerprint": fingerprint, "step": state.step,
          "submission_time_sec": state.submission_time_sec,
          "last_eval_time_sec": state.last_eval_time_sec, "history": state.history,
          "train_state": state.train_state, "time_to_target_sec": state.time_to_target_sec,
          "data_iterator_state": data_iterator_state}


def check_fingerprint(metadata: Mapping[str, Any], fingerprint: str,
                      checkpoint_path: str) -> None:
  """Refuses (ResumeMismatchError) a checkpoint whose run is not this run."""
  if metadata.get("fingerprint") != fingerprint:
    raise ResumeMismatchError(
        f"{checkpoint_path} is a checkpoint of a different run (another workload config, "
        "hyperparameters, seed, submission, --eval_every_steps, --max_steps or budget); "
        "nothing was changed. Use another --workdir, or start this run afresh there "
        "(`algoperf-lab run --overwrite`; for a tuning or calibration trial, delete its "
        "folder).")


def restored_state(fresh: LoopState, arrays: Any, metadata: Mapping[str, Any], fingerprint: str,
                   checkpoint_path: str) -> LoopState:
  """The loop state of a checkpoint, with non-array optimizer leaves taken from `fresh`."""
  check_fingerprint(metadata, fingerprint, checkpoint_path)
  params, model_state, optimizer_arrays = arrays
  return LoopState(
      params=params, model_state=model_state,
      optimizer_state=merge_arrays(fresh.optimizer_state, optimizer_arrays),
      step=int(metadata["step"]), submission_time_sec=float(metadata["submission_time_sec"]),
      last_eval_time_sec=float(metadata["last_eval_time_sec"]),
      history=list(metadata["history"]), train_state=dict(metadata["train_state"]),
      time_to_target_sec=metadata.get("time_to_target_sec"))

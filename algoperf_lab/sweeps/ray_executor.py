"""The `ray` executor: each trial a Ray task with declared resources, on any node of a cluster.

    algoperf-lab tune ... --executor=ray --ray_address=auto|HOST:PORT [--ray_cpus_per_trial=1]
        [--ray_gpus_per_trial=0]

The task runs the trial in its Ray worker process (`worker.run_trial`), so a node that dies
takes its trial with it; the engine then resubmits it (a lost trial) and it resumes on another
node from its last checkpoint. Records and checkpoints go to the trial's folder, which must be
a path every node sees (a shared filesystem, or `gs://` where orbax writes it). The record names
the node (`started.node`, Ray's node id). Ray is an optional extra:
`pip install 'algoperf_lab[ray]'`.
"""

from __future__ import annotations

import os
from typing import Any

from algoperf_lab.harness.records import NODE_ENV
from algoperf_lab.sweeps.spec import TrialSpec
from algoperf_lab.sweeps.worker import TrialResult


class RayNotInstalledError(RuntimeError):
  """--executor=ray without Ray installed; the message says how to get it."""


def _ray() -> Any:
  try:
    import ray  # pylint: disable=import-outside-toplevel
  except ImportError as error:
    raise RayNotInstalledError("--executor=ray needs Ray: pip install 'algoperf_lab[ray]' "
                               "(or pip install 'ray>=2.60,<3').") from error
  return ray


def _trial_task(spec_json: dict[str, Any], ignore_tiny_targets: bool = False) -> dict[str, Any]:
  """Runs in a Ray worker: one trial, in this process; returns how it ended. A Ray worker does
  not inherit the driver's environment, so `set-targets`' "build the configs without the
  installed targets" (tiny_targets.IGNORE_ENV) travels as an argument."""
  ray = _ray()
  os.environ[NODE_ENV] = ray.get_runtime_context().get_node_id()
  from configs import tiny_targets  # pylint: disable=import-outside-toplevel

  if ignore_tiny_targets:
    os.environ[tiny_targets.IGNORE_ENV] = "1"
  else:  # workers are reused: a previous task's setting must not leak into this one
    os.environ.pop(tiny_targets.IGNORE_ENV, None)
  from algoperf_lab.sweeps.worker import run_trial  # pylint: disable=import-outside-toplevel

  spec = TrialSpec.from_json(spec_json)
  try:
    result = run_trial(spec, report=lambda line: print(line, flush=True))
  except Exception as error:  # the run failed, or its request was refused
    from algoperf_lab.cli import _user_errors  # pylint: disable=import-outside-toplevel

    status = "refused" if isinstance(error, _user_errors()) else "failed"
    return {"status": status, "detail": f"{type(error).__name__}: {error}",
            "node": os.environ[NODE_ENV]}
  return {"status": result.status, "time_to_target_sec": result.time_to_target_sec,
          "skipped": result.skipped, "node": os.environ[NODE_ENV]}


class RayExecutor:
  name = "ray"

  def __init__(self, address: str = "auto", cpus_per_trial: float = 1.0,
               gpus_per_trial: float = 0.0, capacity: int | None = None):
    ray = _ray()
    if not ray.is_initialized():
      ray.init(address=address, log_to_driver=False)
    self._ray = ray
    self._task = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial,
                            max_retries=0)(_trial_task)
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    self.capacity = capacity or max(1, int(cpus // max(cpus_per_trial, 1e-9)))
    self._running: dict[Any, TrialSpec] = {}

  def submit(self, spec: TrialSpec) -> None:
    from configs import tiny_targets  # pylint: disable=import-outside-toplevel

    ignore = bool(os.environ.get(tiny_targets.IGNORE_ENV))
    self._running[self._task.remote(spec.to_json(), ignore_tiny_targets=ignore)] = spec

  def poll(self, timeout_sec: float) -> list[TrialResult]:
    if not self._running:
      return []
    ready, _ = self._ray.wait(list(self._running), num_returns=len(self._running),
                              timeout=timeout_sec)
    return [self._result(ref) for ref in ready]

  def _result(self, ref: Any) -> TrialResult:
    spec = self._running.pop(ref)
    try:
      value = self._ray.get(ref)
    except (self._ray.exceptions.WorkerCrashedError, self._ray.exceptions.NodeDiedError,
            self._ray.exceptions.OwnerDiedError, self._ray.exceptions.ObjectLostError,
            self._ray.exceptions.LocalRayletDiedError) as error:
      return TrialResult(spec, "lost", detail=f"its Ray worker or node died "
                         f"({type(error).__name__})")
    except self._ray.exceptions.TaskCancelledError:
      return TrialResult(spec, "preempted", detail="cancelled")
    except self._ray.exceptions.RayTaskError as error:
      return TrialResult(spec, "failed", detail=str(error).splitlines()[-1])
    return TrialResult(spec, value["status"], value.get("time_to_target_sec"),
                       bool(value.get("skipped")), value.get("detail", ""),
                       node=value.get("node", ""))

  def cancel(self) -> list[TrialResult]:
    """Interrupts every running trial (it records `interrupted` and resumes when rerun)."""
    for ref in self._running:
      self._ray.cancel(ref, force=False)
    return self.poll(timeout_sec=300.0)

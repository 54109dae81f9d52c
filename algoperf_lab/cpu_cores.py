"""How many CPU cores a run may use, set before JAX starts, and recorded with the run.

On a CPU backend the tiny workloads are timed by process CPU seconds, which depend on how many
threads do the work (two threads spend more CPU seconds per step than one: they also wait for
each other). So a run's core count is part of its hardware: `hardware_info` records it, and
records made with different counts are not compared (`scoring.records.hardware_signature`).
A run keeps to N cores through CPU affinity, by which XLA's CPU client sizes its thread pool;
with one core XLA's multi-threaded Eigen kernels are also switched off.
"""

from __future__ import annotations

import os

CPUS_ENV = "ALGOPERF_LAB_CPUS"  # the cores a run-trial worker keeps to (its thread budget)
_EIGEN_OFF = "--xla_cpu_multi_thread_eigen=false"


class CpuCoresError(ValueError):
  """A core count this machine cannot give."""


def thread_env(threads: int | None, env: dict[str, str] | None = None) -> dict[str, str]:
  """Environment for a process of `threads` threads (BLAS pools, and XLA's Eigen pool off for
  one thread); the cores themselves are set through CPU affinity (`slot_cores`)."""
  env = dict(os.environ if env is None else env)
  if threads is None:
    return env
  if threads == 1 and _EIGEN_OFF not in env.get("XLA_FLAGS", ""):
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + _EIGEN_OFF).strip()
  env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
             MKL_NUM_THREADS=str(threads))
  return env


def slot_cores(slot: int, threads: int, available: list[int]) -> list[int]:
  """The cores of worker slot `slot`: `threads` consecutive ones, wrapping around."""
  return [available[(slot * threads + i) % len(available)] for i in range(threads)]


def pin_to_assigned_cpus() -> None:
  """In a worker: keeps to the cores its executor assigned (CPUS_ENV), before JAX starts."""
  cpus = os.environ.get(CPUS_ENV)
  if cpus and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def keep_to_cores(count: int) -> list[int]:
  """This process keeps to the first `count` of the cores it may use (call before JAX starts);
  returns them."""
  if not hasattr(os, "sched_getaffinity"):
    raise CpuCoresError("--cpu_cores needs CPU affinity, which this operating system lacks; "
                        "leave --cpu_cores out.")
  available = sorted(os.sched_getaffinity(0))
  if not 1 <= count <= len(available):
    raise CpuCoresError(f"--cpu_cores={count}: this process may use {len(available)} core(s) "
                        f"({','.join(map(str, available))}); pick 1 to {len(available)}.")
  cores = available[:count]
  os.environ.update(thread_env(count))
  os.sched_setaffinity(0, set(cores))
  return cores


def usable_cpu_cores() -> int | None:
  """The cores this process may run on (its affinity), or None where that is unknown."""
  if hasattr(os, "sched_getaffinity"):
    return len(os.sched_getaffinity(0))
  return os.cpu_count()


def xla_eigen_threads_on() -> bool:
  """Whether XLA's multi-threaded Eigen kernels are on (its default)."""
  return _EIGEN_OFF not in os.environ.get("XLA_FLAGS", "")

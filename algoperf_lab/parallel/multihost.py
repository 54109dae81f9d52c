"""Multi-process start-up: every host runs the same program after `jax.distributed.initialize`.

Configured from the environment:
  ALGOPERF_LAB_COORDINATOR     "host:port" of process 0's coordinator service
  ALGOPERF_LAB_NUM_PROCESSES   how many processes take part
  ALGOPERF_LAB_PROCESS_ID      this process's index, 0 .. num_processes-1
  ALGOPERF_LAB_DISTRIBUTED     "auto": let JAX detect the cluster (Cloud TPU, SLURM, Open MPI,
                               ...) and fill in whatever of the above is unset
With none set the run is single-process and `initialize` does nothing. On CPU, cross-process
collectives go through gloo (`jax_cpu_collectives_implementation`, JAX's default).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import jax
from jax.sharding import Mesh

from algoperf_lab.parallel import partitioning

ENV_COORDINATOR = "ALGOPERF_LAB_COORDINATOR"
ENV_NUM_PROCESSES = "ALGOPERF_LAB_NUM_PROCESSES"
ENV_PROCESS_ID = "ALGOPERF_LAB_PROCESS_ID"
ENV_DISTRIBUTED = "ALGOPERF_LAB_DISTRIBUTED"
_TRUE, _FALSE = ("auto", "1", "true", "yes"), ("", "0", "false", "no")


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
  """How this process joins a multi-process run; all None (the default) means single-process."""

  coordinator_address: str | None = None
  num_processes: int | None = None
  process_id: int | None = None
  auto_detect: bool = False  # let jax.distributed detect the cluster and fill unset fields
  initialization_timeout_sec: int = 300

  def __post_init__(self) -> None:
    given = [self.coordinator_address, self.num_processes, self.process_id]
    if not self.auto_detect and any(v is not None for v in given) and None in given:
      raise ValueError(
          f"a multi-process run needs all of {ENV_COORDINATOR}, {ENV_NUM_PROCESSES} and "
          f"{ENV_PROCESS_ID} (got coordinator_address={self.coordinator_address!r}, "
          f"num_processes={self.num_processes!r}, process_id={self.process_id!r}); or set "
          f"{ENV_DISTRIBUTED}=auto to let JAX detect the rest.")
    if self.coordinator_address is not None and ":" not in self.coordinator_address:
      raise ValueError(f"coordinator_address {self.coordinator_address!r} must be 'host:port'.")
    if self.num_processes is not None and self.num_processes < 1:
      raise ValueError(f"num_processes={self.num_processes} must be at least 1.")
    if self.process_id is not None and (
        self.process_id < 0
        or (self.num_processes is not None and self.process_id >= self.num_processes)):
      raise ValueError(f"process_id={self.process_id} must be in [0, num_processes="
                       f"{self.num_processes}).")

  @property
  def is_distributed(self) -> bool:
    return self.auto_detect or self.coordinator_address is not None


def _int_variable(environ: Mapping[str, str], name: str) -> int | None:
  value = environ.get(name, "").strip()
  if not value:
    return None
  try:
    return int(value)
  except ValueError:
    raise ValueError(f"${name}={value!r} is not an integer.") from None


def config_from_env(environ: Mapping[str, str] | None = None) -> DistributedConfig:
  """The DistributedConfig the ALGOPERF_LAB_* variables describe (default: os.environ)."""
  environ = os.environ if environ is None else environ
  flag = environ.get(ENV_DISTRIBUTED, "").strip().lower()
  if flag not in _TRUE + _FALSE:
    raise ValueError(f"${ENV_DISTRIBUTED}={flag!r}: expected 'auto' (or 1/true) or unset.")
  return DistributedConfig(
      coordinator_address=environ.get(ENV_COORDINATOR, "").strip() or None,
      num_processes=_int_variable(environ, ENV_NUM_PROCESSES),
      process_id=_int_variable(environ, ENV_PROCESS_ID),
      auto_detect=flag in _TRUE)


_active_config: DistributedConfig | None = None


def initialize(config: DistributedConfig) -> bool:
  """Joins the multi-process run `config` describes, once; True when distributed.

  Call it before any other JAX work (JAX refuses once its backends are up). Calling it again
  with the same config does nothing; with a different one raises RuntimeError.
  """
  global _active_config
  if not config.is_distributed:
    return False
  if _active_config is not None:
    if _active_config != config:
      raise RuntimeError(f"jax.distributed is already initialised with {_active_config}; "
                         f"cannot re-initialise with {config}.")
    return True
  if not jax.distributed.is_initialized():
    arguments = {"coordinator_address": config.coordinator_address,
                 "num_processes": config.num_processes, "process_id": config.process_id}
    jax.distributed.initialize(
        **{name: value for name, value in arguments.items() if value is not None},
        initialization_timeout=config.initialization_timeout_sec)
  _active_config = config
  return True


def is_primary() -> bool:
  """Whether this is process 0, the one that writes run records."""
  return jax.process_index() == 0


def process_batch_slice(global_batch_size: int, mesh: Mesh | None = None) -> slice:
  """This process's rows of a global batch.

  Without a mesh the rows are split evenly in process order. With a mesh they are the rows
  `partitioning.batch_sharding(mesh)` places on this process's devices (processes that are
  replicas along the batch axes get the same rows).
  """
  if mesh is None:
    count, index = jax.process_count(), jax.process_index()
    if global_batch_size % count:
      raise ValueError(f"global batch size {global_batch_size} is not divisible by the "
                       f"{count} processes.")
    rows = global_batch_size // count
    return slice(index * rows, (index + 1) * rows)
  shards = partitioning.batch_shards(mesh)
  if global_batch_size % shards:
    raise ValueError(f"global batch size {global_batch_size} is not divisible by the {shards} "
                     f"batch shards of the mesh {dict(mesh.shape)}.")
  index_map = partitioning.batch_sharding(mesh).addressable_devices_indices_map(
      (global_batch_size,))
  ranges = sorted({index[0].indices(global_batch_size)[:2] for index in index_map.values()})
  for (_, stop), (start, _) in zip(ranges, ranges[1:]):
    if start != stop:
      raise ValueError(f"this process's batch rows {ranges} are not contiguous; order the "
                       "mesh's devices by process.")
  return slice(ranges[0][0], ranges[-1][1])

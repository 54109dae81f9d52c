"""The device mesh: four named axes ("data", "fsdp", "expert", "model") over the devices.

Axes are `AxisType.Auto` (GSPMD propagation): `jax.make_mesh` defaults to `Explicit`, under
which a matmul with a sharded contracting dimension raises `ShardingTypeError`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
from jax.sharding import AxisType, Mesh

AXIS_NAMES = ("data", "fsdp", "expert", "model")
REMAINING = -1  # an axis size meaning "all devices the other axes leave"


@dataclasses.dataclass(frozen=True)
class MeshConfig:
  """Axis sizes; one of them may be -1 to take all remaining devices."""

  data: int = REMAINING
  fsdp: int = 1
  expert: int = 1
  model: int = 1

  def __post_init__(self) -> None:
    for name, size in self.sizes().items():
      if not isinstance(size, int) or (size < 1 and size != REMAINING):
        raise ValueError(f"mesh axis {name}={size!r}: expected a positive int or -1 "
                         "(all remaining devices).")
    if list(self.sizes().values()).count(REMAINING) > 1:
      raise ValueError(f"at most one mesh axis may be -1; got {self._describe()}.")

  def sizes(self) -> dict[str, int]:
    return {name: getattr(self, name) for name in AXIS_NAMES}

  def _describe(self) -> str:
    return " ".join(f"{name}={size}" for name, size in self.sizes().items())


def resolve_axis_sizes(config: MeshConfig, num_devices: int) -> tuple[int, ...]:
  """The concrete size of each axis in AXIS_NAMES order for `num_devices` devices."""
  sizes = config.sizes()
  fixed = math.prod(size for size in sizes.values() if size != REMAINING)
  if REMAINING in sizes.values():
    free_axis = next(name for name, size in sizes.items() if size == REMAINING)
    if num_devices % fixed:
      others = "*".join(name for name in sizes if name != free_axis)
      raise ValueError(
          f"mesh {config._describe()}: {others}={fixed} does not divide the {num_devices} "
          f"available devices; change those sizes so their product divides {num_devices}.")
    sizes[free_axis] = num_devices // fixed
  elif fixed != num_devices:
    raise ValueError(
        f"mesh {config._describe()} needs {fixed} devices but {num_devices} are available; "
        f"change the sizes so their product is {num_devices}, or set data=-1 to give the "
        "data axis all remaining devices.")
  return tuple(sizes[name] for name in AXIS_NAMES)


def make_mesh(config: MeshConfig, devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A mesh over `devices` (default: every device of every process) with Auto axis types."""
  devices = list(jax.devices() if devices is None else devices)
  shape = resolve_axis_sizes(config, len(devices))
  return jax.make_mesh(shape, AXIS_NAMES, axis_types=(AxisType.Auto,) * len(AXIS_NAMES),
                       devices=devices)

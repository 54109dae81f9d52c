"""MeshConfig and make_mesh: axis sizes, Auto axis types, clear errors; 8 devices run in a
subprocess."""

from __future__ import annotations

from typing import Any

import jax
import pytest

from algoperf_lab.parallel import AXIS_NAMES, MeshConfig, make_mesh
from algoperf_lab.parallel.mesh import resolve_axis_sizes
from tests.parallel import device_checks


@pytest.fixture(scope="module")
def eight_devices() -> dict[str, Any]:
  return device_checks.run("mesh")


@pytest.mark.parametrize("config, expected", [
    (MeshConfig(), (8, 1, 1, 1)),
    (MeshConfig(data=1, fsdp=8), (1, 8, 1, 1)),
    (MeshConfig(data=2, fsdp=-1), (2, 4, 1, 1)),
    (MeshConfig(data=2, fsdp=2, expert=1, model=2), (2, 2, 1, 2)),
])
def test_resolves_sizes(config: MeshConfig, expected: tuple[int, ...]) -> None:
  assert resolve_axis_sizes(config, 8) == expected


@pytest.mark.parametrize("config, message", [
    (MeshConfig(data=4, fsdp=4), "needs 16 devices but 8 are available"),
    (MeshConfig(fsdp=3), "fsdp\\*expert\\*model=3 does not divide the 8 available devices"),
])
def test_sizes_that_do_not_fit_raise(config: MeshConfig, message: str) -> None:
  with pytest.raises(ValueError, match=message):
    resolve_axis_sizes(config, 8)


@pytest.mark.parametrize("sizes", [dict(data=-1, fsdp=-1), dict(fsdp=0), dict(model=-2)])
def test_invalid_configs_raise(sizes: dict[str, int]) -> None:
  with pytest.raises(ValueError):
    MeshConfig(**sizes)


def test_mesh_on_this_process() -> None:
  mesh = make_mesh(MeshConfig())
  assert mesh.axis_names == AXIS_NAMES
  assert mesh.devices.size == jax.device_count()
  assert set(mesh.axis_types) == {jax.sharding.AxisType.Auto}


def test_meshes_on_eight_devices(eight_devices: dict[str, Any]) -> None:
  assert eight_devices["device_count"] == 8
  shapes = {name: tuple(shape.values()) for name, shape in eight_devices["shapes"].items()}
  assert shapes == {"default": (8, 1, 1, 1), "fsdp8": (1, 8, 1, 1), "2x2x1x2": (2, 2, 1, 2),
                    "fsdp_rest": (2, 4, 1, 1), "expert4": (2, 1, 4, 1),
                    "first_device_only": (1, 1, 1, 1)}
  assert eight_devices["axis_types"] == ["AxisType.Auto"] * 4


def test_bad_meshes_on_eight_devices_say_what_to_change(eight_devices: dict[str, Any]) -> None:
  errors = eight_devices["errors"]
  assert "8 are available" in errors["too_many"] and "data=-1" in errors["too_many"]
  assert "divide the 8 available devices" in errors["not_dividing"]

"""Multi-host start-up: configuration from the environment, and two local processes that join
through a coordinator on 127.0.0.1 and compute across each other (gloo collectives on CPU)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from algoperf_lab.parallel import MeshConfig, make_mesh, multihost
from algoperf_lab.parallel.multihost import DistributedConfig, config_from_env

WORKER = Path(__file__).with_name("multihost_worker.py")
LOCAL_DEVICES = 2


def test_config_from_env() -> None:
  assert config_from_env({}) == DistributedConfig()
  assert not config_from_env({}).is_distributed
  config = config_from_env({"ALGOPERF_LAB_COORDINATOR": "10.0.0.1:1234",
                            "ALGOPERF_LAB_NUM_PROCESSES": "4", "ALGOPERF_LAB_PROCESS_ID": "3"})
  assert config == DistributedConfig("10.0.0.1:1234", 4, 3) and config.is_distributed
  auto = config_from_env({"ALGOPERF_LAB_DISTRIBUTED": "auto"})
  assert auto.auto_detect and auto.is_distributed and auto.coordinator_address is None


@pytest.mark.parametrize("environ, message", [
    ({"ALGOPERF_LAB_COORDINATOR": "10.0.0.1:1234"}, "needs all of"),
    ({"ALGOPERF_LAB_COORDINATOR": "h:1", "ALGOPERF_LAB_NUM_PROCESSES": "2",
      "ALGOPERF_LAB_PROCESS_ID": "2"}, "process_id=2"),
    ({"ALGOPERF_LAB_COORDINATOR": "nohost", "ALGOPERF_LAB_NUM_PROCESSES": "2",
      "ALGOPERF_LAB_PROCESS_ID": "0"}, "host:port"),
    ({"ALGOPERF_LAB_NUM_PROCESSES": "two"}, "not an integer"),
    ({"ALGOPERF_LAB_DISTRIBUTED": "maybe"}, "expected 'auto'"),
])
def test_bad_environments_raise(environ: dict[str, str], message: str) -> None:
  with pytest.raises(ValueError, match=message):
    config_from_env(environ)


def test_single_process_needs_no_initialisation() -> None:
  assert multihost.initialize(DistributedConfig()) is False
  assert multihost.is_primary()
  assert multihost.process_batch_slice(8) == slice(0, 8)
  assert multihost.process_batch_slice(8, make_mesh(MeshConfig())) == slice(0, 8)


def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def test_two_processes_share_one_computation(tmp_path: Path) -> None:
  port = _free_port()
  processes = []
  for process_id in range(2):
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={LOCAL_DEVICES}",
           "ALGOPERF_LAB_COORDINATOR": f"127.0.0.1:{port}", "ALGOPERF_LAB_NUM_PROCESSES": "2",
           "ALGOPERF_LAB_PROCESS_ID": str(process_id),
           "MULTIHOST_TEST_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    processes.append(subprocess.Popen([sys.executable, str(WORKER)], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
  reports: list[dict[str, Any]] = []
  try:
    for process in processes:
      stdout, stderr = process.communicate(timeout=120)
      assert process.returncode == 0, stderr[-4000:]
      reports.append(json.loads(stdout.strip().splitlines()[-1]))
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  for process_id, report in enumerate(reports):
    assert report["joined"] and report["joined_again"]
    assert report["process_count"] == 2 and report["process_index"] == process_id
    assert report["device_count"] == 2 * LOCAL_DEVICES
    assert report["local_device_count"] == LOCAL_DEVICES
    assert report["is_primary"] == (process_id == 0)
    assert report["rows"] == [4 * process_id, 4 * process_id + 4]
    assert report["mesh_rows"] == report["rows"]
    assert report["batch_shape"] == [8, 3] and report["batch_sharding_ok"]
    assert report["w_shard"] == [3, 2]  # the 4 columns split over fsdp=2
    assert report["loss"] == pytest.approx(report["expected_loss"], rel=1e-6)
    assert "not divisible by the 2 processes" in report["uneven_error"]
    assert "not divisible by the 4 batch shards" in report["uneven_mesh_error"]
    assert report["checkpoint_step"] == 3 and report["checkpoint_metadata"] == {"step": 3}
    assert report["checkpoint_equal"] and report["checkpoint_sharding_ok"]

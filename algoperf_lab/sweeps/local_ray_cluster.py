"""A Ray cluster of several nodes on this one machine, for tests and benchmarks of the `ray`
executor: a head that only coordinates (0 CPUs) and N nodes of `cpus_per_node` CPUs, each a
`ray start --block` process started and stopped by its process id. Each node is started with
`--node-ip-address=127.0.0.1` (without it, the second node fails to parse the head's
advertised address here; ray 2.60). With `pin_nodes`, node i keeps to its own cores (CPU
affinity, inherited by its raylet and workers) and threads, as separate machines would: what a
fair scaling measurement on one machine needs."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from algoperf_lab.cpu_cores import slot_cores, thread_env

RAY = str(Path(sys.executable).parent / "ray")
START_TIMEOUT_SEC = 120.0


def free_port() -> int:
  with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    return int(sock.getsockname()[1])


@dataclasses.dataclass
class LocalRayCluster:
  address: str
  nodes: dict[int, subprocess.Popen[bytes]]  # node-manager port -> its `ray start` process

  def kill_node(self, node_manager_port: int) -> None:
    """SIGKILL a node's `ray start` process and its raylet, as a machine that dies."""
    self.nodes[node_manager_port].send_signal(signal.SIGKILL)
    subprocess.run(["pkill", "-9", "-f", f"node-manager-port={node_manager_port}"], check=False)


@contextlib.contextmanager
def local_ray_cluster(num_nodes: int, cpus_per_node: int = 1,
                      pin_nodes: bool = False) -> Iterator[LocalRayCluster]:
  """Starts the cluster, connects this process to it (ray.init), and stops it all after."""
  import ray  # pylint: disable=import-outside-toplevel

  port = free_port()
  address = f"127.0.0.1:{port}"
  common = ["--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
  quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  processes = [subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--num-cpus=0",
                                 "--include-dashboard=false", *common], **quiet)]
  nodes: dict[int, subprocess.Popen[bytes]] = {}
  try:
    time.sleep(8)  # the head's GCS must be up before nodes join
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    for index in range(num_nodes):
      manager_port = free_port()
      # Every port a node opens is its own: two nodes on one host otherwise race for the
      # agents' default ports and one of them may never join.
      own_ports = [f"--{flag}={free_port()}" for flag in (
          "object-manager-port", "metrics-export-port", "dashboard-agent-listen-port",
          "dashboard-agent-grpc-port", "runtime-env-agent-port")]
      pinned = {}
      if pin_nodes and available:
        cores = set(slot_cores(index, cpus_per_node, available))
        pinned = dict(env=thread_env(cpus_per_node),
                      preexec_fn=lambda cores=cores: os.sched_setaffinity(0, cores))
      nodes[manager_port] = subprocess.Popen(
          [RAY, "start", f"--address={address}", f"--num-cpus={cpus_per_node}",
           f"--node-manager-port={manager_port}", *own_ports, *common], **quiet, **pinned)
      processes.append(nodes[manager_port])
      time.sleep(3)
    ray.init(address=address, log_to_driver=False)
    deadline = time.monotonic() + START_TIMEOUT_SEC
    while sum(n["Alive"] for n in ray.nodes()) < num_nodes + 1:
      if time.monotonic() > deadline:
        raise RuntimeError(f"the local Ray cluster did not come up: {ray.nodes()}")
      time.sleep(1)
    yield LocalRayCluster(address, nodes)
  finally:
    ray.shutdown()
    for process in reversed(processes):
      if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    for process in processes:
      try:
        process.wait(timeout=60)
      except subprocess.TimeoutExpired:
        process.kill()

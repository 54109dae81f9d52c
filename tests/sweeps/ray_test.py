"""`--executor=ray` on a real local Ray cluster: a head (no CPUs: it only coordinates) and two
one-CPU nodes on this machine, started and stopped by their process ids. Trials run on both
nodes (each record names its node), match the local executor's metrics, and a trial whose
node is killed mid-run finishes on the other node from its checkpoint. Slow (minutes)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.tuning import study
from algoperf_lab.tuning.study import Ruleset, TuneRequest
from tests.helpers import NADAMW, REPO_ROOT, SMALL_LM_OVERRIDES

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'algoperf_lab[ray]'")
pytestmark = pytest.mark.slow

SPACE = str(REPO_ROOT / "configs" / "search_spaces" / "nadamw.json")


@pytest.fixture
def cluster():
  from algoperf_lab.sweeps.local_ray_cluster import local_ray_cluster

  with local_ray_cluster(num_nodes=2) as started:
    yield started


def _request(workdir: Path, studies: int, trials: int, steps: int) -> TuneRequest:
  return TuneRequest(workload="lm", size="tiny", submission=NADAMW, workdir=workdir,
                     ruleset=Ruleset.EXTERNAL, num_studies=studies, num_trials=trials,
                     search_space=SPACE,
                     config_overrides=(*SMALL_LM_OVERRIDES, "--config.targets.validation=0.0"),
                     settings=RunSettings(max_steps=steps, eval_every_steps=3, progress=False,
                                          checkpoint_every_sec=0.0))


def _metrics(run_dir: Path) -> list[dict]:
  return [{k: v for k, v in json.loads(line).items() if "time" not in k}
          for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_trials_spread_over_both_nodes_match_local_and_survive_a_killed_node(tmp_path, cluster):
  from algoperf_lab.sweeps.ray_executor import RayExecutor

  address = cluster.address
  executor = RayExecutor(address=address)
  assert executor.capacity == 2
  lines: list[str] = []
  outcomes = study.run_tuning(_request(tmp_path / "ray", 2, 2, 9), report=lines.append,
                              executor=executor)
  assert [o.status for o in outcomes] == ["capped"] * 4, lines
  local = tmp_path / "local"
  study.run_tuning(_request(local, 2, 2, 9), report=lambda line: None)
  ran_on = set()
  for run_dir in sorted((tmp_path / "ray").glob("study_*/trial_*")):
    assert _metrics(run_dir) == _metrics(local / run_dir.relative_to(tmp_path / "ray"))
    ran_on.add(json.loads((run_dir / "result.json").read_text())["started"]["node"])
  alive = {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")}
  assert ran_on == alive and len(ran_on) == 2

  # One longer trial; the node running it is stopped once it has a checkpoint past step 6.
  workdir = tmp_path / "fault"
  run_dir = workdir / "study_0" / "trial_0"
  port_of = {n["NodeID"]: n["NodeManagerPort"] for n in ray.nodes()}
  killed: list[int] = []

  def kill_its_node() -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
      steps = [int(p.name) for p in (run_dir / "checkpoints").glob("[0-9]*")
               if p.name.isdigit()] if (run_dir / "checkpoints").is_dir() else []
      if steps and max(steps) >= 6:
        node = json.loads((run_dir / "result.json").read_text())["started"]["node"]
        cluster.kill_node(port_of[node])
        killed.append(port_of[node])
        return
      time.sleep(0.05)

  threading.Thread(target=kill_its_node, daemon=True).start()
  lines.clear()
  outcomes = study.run_tuning(_request(workdir, 1, 1, 60), report=lines.append,
                              executor=RayExecutor(address=address))
  assert killed, "the trial finished before its node could be killed"
  assert [o.status for o in outcomes] == ["capped"], lines
  assert any("died" in line and "resubmitted" in line for line in lines), lines
  study.run_tuning(_request(tmp_path / "fault_local", 1, 1, 60), report=lambda line: None)
  assert _metrics(run_dir) == _metrics(tmp_path / "fault_local" / "study_0" / "trial_0")
  record = json.loads((run_dir / "result.json").read_text())
  assert port_of[record["started"]["node"]] != killed[0]  # it finished on the other node

"""The GNN workload through the harness: a short NadamW run on a slice of QM9 learns."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jax
import pytest

from algoperf_lab import cli, registry
from algoperf_lab.data import paths
from tests.helpers import NADAMW, REPO_ROOT

# 1,000 molecules of QM9's fixed order and a two-step, width-32 network: seconds, real data.
SMALL_GNN_RUN_OVERRIDES = (
    "--config.data.max_molecules=1000", "--config.model.latent_dim=32",
    "--config.model.hidden_dims=(32,)", "--config.model.num_message_passing_steps=2",
    "--config.batch_size=32", "--config.data.num_eval_train_examples=100",
    "--config.data.num_validation_examples=100", "--config.data.num_test_examples=100",
    "--config.data.eval_batch_size=100", "--config.targets.step_hint=100",
    "--config.targets.validation=0.0", "--config.targets.test=0.0",
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
  """A data root for this module: its tests convert (and cache) their own slice of QM9 once."""
  root = tmp_path_factory.mktemp("data")
  with pytest.MonkeyPatch.context() as monkeypatch:
    monkeypatch.setenv(paths.DATA_ROOT_ENV, str(root))
    yield root


def test_short_nadamw_run_learns(tmp_path: Path, data_root: Path) -> None:
  workdir = tmp_path / "run"
  assert cli.main(["run", "--workload=gnn", "--size=tiny", f"--submission={NADAMW}",
                   f"--workdir={workdir}", "--max_steps=20", "--eval_every_steps=5",
                   "--no_progress", *SMALL_GNN_RUN_OVERRIDES]) == 0
  history = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert [line["step"] for line in history] == [5, 10, 15, 20]
  losses = [line["validation/loss"] for line in history]
  assert losses[-1] < losses[0]
  assert history[-1]["train/mae"] < history[0]["train/mae"]
  for line in history:
    assert {"train/mae", "validation/mae", "test/mae", "test/loss"} <= set(line)
  record = json.loads((workdir / "result.json").read_text())
  assert record["status"] == "capped" and record["steps"] == 20  # a target of 0 is never met
  assert record["workload"] == "gnn" and record["batch_size"] == 32
  assert len(list((data_root / "cache").glob("qm9_*.npz"))) == 1


def test_input_queue_serves_fixed_shape_device_batches(data_root: Path) -> None:
  workload = registry.make_workload("gnn", "tiny", SMALL_GNN_RUN_OVERRIDES)
  queue = workload.build_input_queue(jax.random.PRNGKey(0), "train", None, 32)
  shapes = [{key: value.shape for key, value in next(queue).items()} for _ in range(3)]
  assert shapes[0] == shapes[1] == shapes[2]
  assert shapes[0]["node_features"] == (32 * 9 + 1, 9) and shapes[0]["targets"] == (33, 12)
  assert isinstance(next(queue)["senders"], jax.Array)
  assert set(queue.get_state()) == {"position"}
  with pytest.raises(ValueError, match="eval_model"):
    workload.build_input_queue(jax.random.PRNGKey(0), "validation", None, 32)


@pytest.mark.slow
def test_nadamw_reaches_the_tiny_target(tmp_path: Path) -> None:
  """End to end as a user runs it (minutes: converts all of QM9 on first use, then trains)."""
  workdir = tmp_path / "run"
  done = subprocess.run(
      [str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab"), "run", "--workload=gnn", "--size=tiny",
       f"--submission={NADAMW}", f"--workdir={workdir}", "--no_progress"],
      capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
  assert done.returncode == 0, done.stderr
  record = json.loads((workdir / "result.json").read_text())
  assert record["status"] == "reached", record

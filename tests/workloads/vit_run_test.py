"""The ViT workload through the harness: device batches, a short run that learns, and (slow) a
full tiny run that reaches the target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from algoperf_lab import hyperparameters, loader, registry
from algoperf_lab.harness import loop
from algoperf_lab.harness.loop import RunIdentity, RunSettings
from tests.helpers import NADAMW, REPO_ROOT
from tests.workloads.vit_model_test import SMALL_VIT_OVERRIDES


def test_input_queue_yields_sharded_device_batches_and_resumes() -> None:
  workload = registry.make_workload("vit", "tiny", SMALL_VIT_OVERRIDES)
  queue = workload.build_input_queue(jax.random.PRNGKey(0), "train", None, 16)
  batch = next(queue)
  assert isinstance(batch["inputs"], jax.Array) and batch["inputs"].shape == (16, 28, 28, 1)
  assert batch["targets"].dtype == np.int32 and batch["weights"].shape == (16,)
  assert batch["inputs"].sharding.spec[0] == "batch"
  state = queue.get_state()
  expected = next(queue)
  queue.set_state(state)
  np.testing.assert_array_equal(next(queue)["targets"], expected["targets"])
  with pytest.raises(ValueError, match="train split"):
    workload.build_input_queue(jax.random.PRNGKey(0), "validation", None, 16)


def test_short_nadamw_run_learns(tmp_path: Path) -> None:
  overrides = SMALL_VIT_OVERRIDES + ("--config.batch_size=32", "--config.targets.step_hint=100",
                                     "--config.targets.validation=1.0")
  workload = registry.make_workload("vit", "tiny", overrides)
  submission = loader.load_submission(NADAMW)
  hparams = hyperparameters.make_hyperparameters(
      submission.default_hparams, {"learning_rate": 0.005, "warmup_factor": 0.05}, NADAMW)
  identity = RunIdentity(workload="vit", size="tiny", submission=submission.name,
                         submission_path=NADAMW, submission_form=submission.form.value,
                         hparams=hparams._asdict(), seed=0)
  settings = RunSettings(seed=0, eval_every_steps=10, max_steps=20, progress=False)
  result = loop.train_and_evaluate(workload, submission, hparams, settings, identity, tmp_path)
  losses = [line["validation/loss"] for line in result.eval_history]
  assert result.steps == 20 and len(losses) == 2
  assert losses[-1] < losses[0] < np.log(10.0)  # from log(10), as the head starts at zero
  assert losses[-1] < np.log(10.0) - 0.2
  assert result.eval_history[-1]["validation/accuracy"] > 0.15  # chance is 0.1
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["target_metric"] == "validation/accuracy" and record["batch_size"] == 32


@pytest.mark.slow
def test_tiny_vit_reaches_target(tmp_path: Path) -> None:
  command = [str(Path(sys.executable).parent / "algoperf-lab"), "run", "--workload=vit",
             "--size=tiny", f"--submission={NADAMW}", f"--workdir={tmp_path}", "--no_progress"]
  subprocess.run(command, check=True, cwd=REPO_ROOT)
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["status"] == "reached", record

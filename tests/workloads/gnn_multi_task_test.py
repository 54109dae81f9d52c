"""Per-task eval metrics on the GNN and the held-out variants with one corrupted task."""

from __future__ import annotations

import json

import numpy as np
import pytest

from algoperf_lab import cli, registry
from tests.helpers import REPO_ROOT
from tests.workloads.gnn_run_test import SMALL_GNN_RUN_OVERRIDES

DATA = tuple(o for o in SMALL_GNN_RUN_OVERRIDES if o.startswith("--config.data.max_molecules"))


def _dataset(name: str):
  return registry.make_workload(name, "tiny", DATA).dataset(None)


def test_per_task_metrics_are_logged_and_average_to_the_target_metric(tmp_path):
  assert cli.main(["run", "--workload=gnn", f"--submission={REPO_ROOT}/submissions/mtl/pcgrad.py",
                   f"--workdir={tmp_path / 'run'}", "--max_steps=2", "--eval_every_steps=2",
                   "--no_progress", "--no_checkpoints", *SMALL_GNN_RUN_OVERRIDES]) == 0
  line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
  per_task = [line[f"validation/task_{k}/mae"] for k in range(12)]
  assert np.mean(per_task) == pytest.approx(line["validation/mae"], rel=1e-6)
  record = json.loads((tmp_path / "run" / "result.json").read_text())
  assert record["target_metric"] == "validation/mae"  # the per-task values stay out of it
  assert "train_step/conflicting_pairs" in line and "train_step/weight_11" in line


def test_the_noisy_variant_corrupts_only_task_zero_training_labels():
  clean, noisy = _dataset("gnn"), _dataset("gnn_noisy_task")
  train, held_out = clean.splits["train"], np.concatenate([clean.splits["validation"],
                                                           clean.splits["test"]])
  np.testing.assert_array_equal(noisy.labels[held_out], clean.labels[held_out])
  np.testing.assert_array_equal(noisy.labels[train][:, 1:], clean.labels[train][:, 1:])
  noise = noisy.labels[train, 0] - clean.labels[train, 0]
  assert 2.5 < float(noise.std()) < 3.5


def test_the_low_resource_variant_keeps_five_percent_of_task_one_training_labels():
  clean, sparse = _dataset("gnn"), _dataset("gnn_low_resource_task")
  train = clean.splits["train"]
  assert sparse.label_mask[train, 1].sum() == round(0.05 * len(train))
  np.testing.assert_array_equal(sparse.label_mask[clean.splits["validation"]],
                                clean.label_mask[clean.splits["validation"]])
  np.testing.assert_array_equal(sparse.label_mask[train][:, [0, *range(2, 12)]],
                                clean.label_mask[train][:, [0, *range(2, 12)]])


def test_variants_have_targets_measured_for_them():
  base = registry.make_workload("gnn", "tiny", ())
  for name in ("gnn_noisy_task", "gnn_low_resource_task"):
    workload = registry.make_workload(name, "tiny", ())
    assert workload.validation_target_value != base.validation_target_value
    # set by `set-targets` (installed in configs/tiny_targets.json), or by the retired script
    assert ("algoperf-lab set-targets" in workload.targets.how_measured
            or f"measure_targets.py --workloads={name}" in workload.targets.how_measured)

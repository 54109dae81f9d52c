"""A Ray task builds its configs as the driver does: set-targets' "ignore the installed tiny
targets" reaches the worker (which does not inherit the driver's environment), and does not
leak into the next task of a reused worker. Ray itself is faked here (the slow ray_test.py
runs a real cluster)."""

from __future__ import annotations

import os
import types

from algoperf_lab.sweeps import ray_executor, worker
from algoperf_lab.sweeps.spec import TrialSpec
from configs import tiny_targets


def test_the_ignore_targets_setting_travels_with_the_task(monkeypatch, tmp_path):
  context = types.SimpleNamespace(get_node_id=lambda: "node-a")
  monkeypatch.setattr(ray_executor, "_ray",
                      lambda: types.SimpleNamespace(get_runtime_context=lambda: context))
  seen = []

  def fake_run_trial(spec, report):
    seen.append(os.environ.get(tiny_targets.IGNORE_ENV))
    return worker.TrialResult(spec, "capped")
  monkeypatch.setattr(worker, "run_trial", fake_run_trial)
  monkeypatch.delenv(tiny_targets.IGNORE_ENV, raising=False)
  spec = TrialSpec(workload="gnn", size="tiny", submission="submissions/baselines/adamw.py",
                   hparams={}, seed=0, ruleset="external", study=0, trial=0,
                   workdir=str(tmp_path / "trial_0"))
  assert ray_executor._trial_task(spec.to_json(), ignore_tiny_targets=True)["status"] == "capped"
  assert ray_executor._trial_task(spec.to_json())["node"] == "node-a"
  assert seen == ["1", None]

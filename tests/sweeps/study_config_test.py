"""`algoperf-lab study`: a declarative study config run as one sweep (the bundled mtl study,
one run of it), reused when run again; bad configs and subsets are one-line errors."""

from __future__ import annotations

import json

from algoperf_lab import cli
from tests.helpers import REPO_ROOT

STUDY = REPO_ROOT / "configs" / "studies" / "mtl_tiny.py"
ONE_RUN = ["--seeds=0", "--workloads=gnn", "--submissions=linear_scalarisation",
           "--eval_every_steps=2", "--no_progress", "--config.data.max_molecules=1000",
           "--config.targets.max_allowed_cpu_sec=2.0"]


def test_the_bundled_mtl_study_runs_a_subset_and_reuses_it(tmp_path, capsys):
  args = ["study", f"--study={STUDY}", f"--workdir={tmp_path}", *ONE_RUN]
  assert cli.main(args) == 0
  out = capsys.readouterr().out
  record = json.loads((tmp_path / "runs" / "gnn" / "linear_scalarisation" / "seed_0" /
                       "result.json").read_text())
  assert record["status"] in ("missed", "reached") and record["ruleset"] == "none"
  assert record["study"] is None and record["seed"] == 0
  assert "--mtl_reference=linear_scalarisation" in out and "1 of 1 runs finished;" in out
  assert cli.main(args) == 0
  assert "already finished" in capsys.readouterr().out


def test_unknown_keys_and_subsets_are_one_line_errors(tmp_path, capsys):
  bad = tmp_path / "bad.py"
  bad.write_text("def get_config():\n  return dict(name='x', size='tiny', workloads=['gnn'], "
                 "submissions={}, seeds=[0], step=3)\n")
  assert cli.main(["study", f"--study={bad}", f"--workdir={tmp_path / 'w'}"]) == 2
  assert "unknown keys ['step']" in capsys.readouterr().err
  assert cli.main(["study", f"--study={STUDY}", f"--workdir={tmp_path / 'w'}",
                   "--workloads=vit"]) == 2
  assert "--workloads: ['vit'] are not in study 'mtl_tiny'" in capsys.readouterr().err

"""The README's demo figures come from the committed demo records (results/demo_*)."""

from __future__ import annotations

import json
import re

from tests.helpers import REPO_ROOT

DEMO = REPO_ROOT / "results" / "demo_2026-12-06"
WITH_VIT = REPO_ROOT / "results" / "demo_with_vit_2026-12-06"


def _elapsed(folder) -> str:
  text = (folder / "time.txt").read_text()
  minutes, seconds = re.search(r"Elapsed \(wall clock\) time.*: (\d+):([\d.]+)", text).groups()
  total = round(int(minutes) * 60 + float(seconds))
  return f"{total // 60} min {total % 60} s"


def _best(run_dir) -> float:
  result = json.loads((run_dir / "result.json").read_text())
  metric = result["target_metric"]
  values = [row[metric] for row in map(json.loads, (run_dir / "metrics.jsonl").read_text()
                                       .splitlines()) if metric in row]
  return min(values) if result["target_direction"] == "lower" else max(values)


def test_the_readme_demo_time_and_outcomes_are_the_records():
  readme = (REPO_ROOT / "README.md").read_text()
  assert f"**{_elapsed(DEMO)}**" in readme and f"It took {_elapsed(DEMO)}" in readme
  assert f"With vit as well it took {_elapsed(WITH_VIT)}" in readme
  runs = {(p.parent.parent.name, p.parent.name): json.loads(p.read_text())
          for p in DEMO.glob("runs/*/*/result.json")}
  assert len(runs) == 4 and all(r["status"] == "missed" for r in runs.values())
  assert all(r["hardware"]["usable_cpu_cores"] == 1 for r in runs.values())
  gnn = (_best(DEMO / "runs/nadamw_optax/gnn_tiny_tuned"), _best(DEMO / "runs/adamw/gnn_tiny_tuned"))
  lm = (_best(DEMO / "runs/nadamw_optax/lm_tiny_tuned"), _best(DEMO / "runs/adamw/lm_tiny_tuned"))
  assert f"gnn {gnn[0]:.4f} NadamW / {gnn[1]:.4f} AdamW" in readme
  assert f"lm {lm[0]:.4f} / {lm[1]:.4f} bits/byte" in readme
  vit = json.loads((WITH_VIT / "runs/nadamw_optax/vit_tiny_tuned/result.json").read_text())
  assert vit["status"] == "reached" and f"at {vit['time_to_target_sec']:.1f} CPU s" in readme

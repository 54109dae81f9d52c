"""The README's MoE load-balancing table is re-read from the committed run records of the study.

`results/moe_study_tiny/` holds result.json and metrics.jsonl of every run of the measured
study (no checkpoints) in scripts/moe_study.py's layout, and the report it wrote. Summarising
them again with today's code must give that report's table and the rows the README shows.
"""

from __future__ import annotations

import json

from tests.helpers import REPO_ROOT
from tests.moe_study_test import _script

RECORDS = REPO_ROOT / "results" / "moe_study_tiny"
SEEDS = (0, 1)


def _table() -> list[str]:
  script = _script()
  summaries, target = [], None
  for balance in script.BALANCES:
    for seed in SEEDS:
      run_dir = RECORDS / "runs" / balance / f"seed_{seed}"
      summaries.append(script.summarise(run_dir, balance, seed))
      target = script.target_text(json.loads((run_dir / "result.json").read_text()))
  return script.table(summaries, target)


def test_the_committed_records_are_every_run_without_checkpoints():
  script = _script()
  for balance in script.BALANCES:
    for seed in SEEDS:
      run_dir = RECORDS / "runs" / balance / f"seed_{seed}"
      assert {p.name for p in run_dir.iterdir()} == {"result.json", "metrics.jsonl"}, run_dir
      assert json.loads((run_dir / "result.json").read_text())["steps"] == 400


def test_rereading_the_records_gives_the_committed_report_and_the_readme_rows():
  lines = _table()
  report = (RECORDS / "report" / "moe_study.md").read_text()
  assert report == "\n".join(lines) + "\n"
  rows = [line for line in lines if line.startswith("| ") and not line.startswith("| balance")]
  assert len(rows) == 4
  readme = (REPO_ROOT / "README.md").read_text()
  for row in rows:  # the README links the heatmaps under results/, the report beside itself
    assert row.replace("](heatmap_", "](results/moe_study_tiny/report/heatmap_") in readme, row

"""The README's calibration table is re-scored from the committed run records of the study.

`results/calibration_tiny/` holds the result.json and metrics.jsonl of every run of the
measured study (no checkpoints), in calibrate's own layout, and the report it wrote
(report/report.md, the profile plot, calibration.json). Scoring the runs again with today's
code must give that report and the rows the README shows, so neither drifts silently.
"""

from __future__ import annotations

from algoperf_lab.calibration import report
from algoperf_lab.calibration.calibrate import CalibrationRequest, plan_runs
from algoperf_lab.calibration.results import score_calibration
from tests.helpers import REPO_ROOT

RECORDS = REPO_ROOT / "results" / "calibration_tiny"
METHODS = ("prodigy", "schedule_free_adamw", "mechanic")


def _plans() -> list:
  request = CalibrationRequest(
      workdir=RECORDS, submissions=tuple(str(REPO_ROOT / "submissions" / "lr_free" / f"{m}.py")
                                         for m in METHODS),
      workloads=("lm", "vit", "gnn"), num_candidates=3, num_seeds=1,
      # Measured (2026-12-06) with the AlgoPerf-form NadamW, the reference before the
      # optax form (which computes the same iterates) became the default.
      reference=str(REPO_ROOT / "submissions" / "baselines" / "nadamw.py"))
  return plan_runs(request)


def _table_rows(markdown: str) -> list[str]:
  """The default-vs-calibrated rows (one per method and the reference) of a report."""
  lines = markdown.splitlines()
  start = next(i for i, line in enumerate(lines) if line.startswith("| method |"))
  rows = []
  for line in lines[start + 2:]:
    if not line.startswith("|"):
      break
    rows.append(line)
  return rows


def test_the_committed_records_are_the_whole_study_without_checkpoints():
  plans = _plans()
  assert len(plans) == 36  # 4 methods (with the NadamW reference) x 3 candidates x 3 workloads
  runs = {p.name for p in RECORDS.rglob("*") if p.is_file() and p.parent.name != "report"}
  assert runs == {"result.json", "metrics.jsonl", "candidate.json"}, runs
  assert len(list(RECORDS.rglob("result.json"))) == len(plans)


def test_rescoring_the_committed_records_gives_the_readme_table():
  result = score_calibration(_plans(), RECORDS, "nadamw")
  markdown = report.render_markdown(result)
  assert markdown == (RECORDS / "report" / "report.md").read_text()
  rows = _table_rows(markdown)
  assert len(rows) == len(METHODS) + 1
  readme = (REPO_ROOT / "README.md").read_text()
  missing = [row for row in rows if row not in readme]
  assert not missing, f"README lacks (or differs from) these re-scored rows: {missing}"


"""Δm% (Maninis et al. 2019) by hand, and `algoperf-lab score --mtl_reference` end to end."""

from __future__ import annotations

import json
import math

import pytest

from algoperf_lab import cli
from algoperf_lab.scoring.mtl import delta_m_percent
from tests.scoring.factories import lab_run


def test_delta_m_is_the_mean_sign_corrected_relative_change():
  reference = {"task_0/mae": 0.2, "task_1/mae": 0.5}
  method = {"task_0/mae": 0.1, "task_1/mae": 0.6}  # −50% error (better), +20% error (worse)
  assert delta_m_percent(method, reference, lower_is_better=True) == pytest.approx(15.0)
  assert delta_m_percent(method, reference, lower_is_better=False) == pytest.approx(-15.0)
  assert math.isnan(delta_m_percent({}, reference, lower_is_better=True))


def _with_task_metrics(run_dir, per_task: list[float]) -> None:
  lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
  lines[-1].update({f"validation/task_{k}/mae": v for k, v in enumerate(per_task)})
  (run_dir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_score_reports_delta_m_next_to_the_benchmark_score(tmp_path, capsys):
  runs = tmp_path / "runs"
  _with_task_metrics(lab_run(runs, "ls", submission="linear_scalarisation", workload="gnn",
                             times=[1.0, 2.0], losses=[3.0, 1.5]), [0.2, 0.4])
  _with_task_metrics(lab_run(runs, "pc", submission="pcgrad", workload="gnn",
                             times=[1.0, 2.0], losses=[3.0, 1.8]), [0.1, 0.44])
  out = tmp_path / "report"
  assert cli.main(["score", str(runs), f"--out={out}", "--mtl_reference=linear_scalarisation",
                   "--bootstrap_samples=10", "--no_progress"]) == 0
  assert "Δm% pcgrad on gnn/tiny vs linear_scalarisation: +20.00" in capsys.readouterr().out
  report = (out / "report.md").read_text()
  assert "## Multi-task Δm%" in report and "| pcgrad | gnn/tiny | +20.00 | 1 |" in report
  assert report.index("## Benchmark scores") < report.index("## Multi-task Δm%")


def test_an_unknown_reference_is_a_one_line_error(tmp_path, capsys):
  lab_run(tmp_path / "runs", "ls", submission="linear_scalarisation", workload="gnn",
          times=[1.0], losses=[1.0])
  assert cli.main(["score", str(tmp_path / "runs"), f"--out={tmp_path / 'r'}",
                   "--mtl_reference=nash", "--bootstrap_samples=10", "--no_progress"]) == 2
  assert "--mtl_reference 'nash' is not among" in capsys.readouterr().err

"""End to end: a synthetic record tree is scored into scores.json, report.md and PNG figures."""

import json
import math
from pathlib import Path

import pytest

from algoperf_lab.scoring.records import MixedHardwareError, ScoringError
from algoperf_lab.scoring.report import format_score_table, score_directories

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_run(root: Path, name: str, *, submission: str, workload: str, study, trial,
               seed: int, time: float | None, ruleset: str = "external",
               device_kind: str = "cpu", status: str | None = None) -> Path:
  run_dir = root / submission / name
  run_dir.mkdir(parents=True)
  reached = time is not None
  status = status or ("reached" if reached else "missed")
  result = {
      "schema_version": 1, "workload": workload, "size": "tiny", "submission": submission,
      "submission_path": f"submissions/{submission}.py", "submission_form": "optax",
      "ruleset": ruleset, "study": study, "trial": trial, "hparams": {}, "seed": seed,
      "hardware": {"platform": "cpu", "device_kind": device_kind, "device_count": 1,
                   "process_count": 1},
      "versions": {"jax": "0.10.2", "flax": "0.12.8", "optax": "0.2.8", "python": "3.11",
                   "algoperf_lab": "0.1.0"},
      "target_metric": "validation/loss", "target_value": 2.0, "target_direction": "lower",
      "max_allowed_runtime_sec": 180.0, "status": status,
      "reached_target": reached and status == "reached",
      "time_to_target_sec": time if status == "reached" else None, "steps": 100,
      "submission_time_sec": time or 180.0}
  (run_dir / "result.json").write_text(json.dumps(result))
  end = time or 180.0
  rows = [{"step": 10 * i, "submission_time_sec": end * i / 6,
           "validation/loss": 4.0 - (2.1 if reached else 1.5) * i / 6} for i in range(1, 7)]
  (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  return run_dir


def _tree(root: Path) -> None:
  # adamw: external ruleset, 2 studies x 2 trials on each workload.
  for w, (t00, t01, t10, t11) in {"lm": (60.0, 40.0, None, 50.0),
                                  "mnist": (20.0, 30.0, 25.0, None)}.items():
    for study, trial, t in ((0, 0, t00), (0, 1, t01), (1, 0, t10), (1, 1, t11)):
      _write_run(root, f"{w}_s{study}_t{trial}", submission="adamw", workload=w, study=study,
                 trial=trial, seed=10 * study + trial, time=t)
  # sgd: self-tuning, study null -> one study per run (seeds 1, 2).
  for w, times in {"lm": (80.0, 100.0), "mnist": (None, None)}.items():
    for seed, t in zip((1, 2), times):
      _write_run(root, f"{w}_seed{seed}", submission="sgd", workload=w, study=None, trial=None,
                 seed=seed, time=t, ruleset="self")
  _write_run(root, "unfinished", submission="sgd", workload="lm", study=None, trial=None,
             seed=3, time=None, ruleset="self", status="running")
  broken = root / "broken"
  broken.mkdir()
  (broken / "result.json").write_text('{"schema_version": 1, "workl')


def _strict(text: str):
  def reject(token):
    raise ValueError(f"non-strict JSON token {token}")
  return json.loads(text, parse_constant=reject)


def test_score_directories_writes_everything(tmp_path):
  runs, out = tmp_path / "runs", tmp_path / "out"
  _tree(runs)
  report = score_directories([runs], out, baseline="sgd", bootstrap_samples=200, seed=3,
                             allow_incomplete=True)

  # By hand. adamw lm studies: min(60, 40) = 40, min(inf, 50) = 50 -> median 45.
  # adamw mnist: 20, 25 -> 22.5.  sgd lm: 80, 100 -> 90.  sgd mnist: inf, inf -> inf.
  # Ratios: adamw (1, 1) -> score 1.  sgd (2, inf) -> (4 - 2) / 3 / 2 = 1/3.
  assert report.workloads == ("lm/tiny", "mnist/tiny")
  assert report.submissions["adamw"].benchmark_score == pytest.approx(1.0)
  assert report.submissions["sgd"].benchmark_score == pytest.approx(1 / 3)
  # Speedup of adamw over sgd: only lm has both reached -> 90 / 45 = 2.
  assert report.submissions["adamw"].speedup_vs_baseline == pytest.approx(2.0)
  assert report.submissions["adamw"].speedup_num_workloads == 1
  assert {Path(k.path).parent.name for k in report.skipped} == {"unfinished", "broken"}

  for name in ("scores.json", "report.md", "performance_profile.png", "curves_lm_tiny.png",
               "curves_mnist_tiny.png"):
    assert (out / name).is_file(), name
  for png in out.glob("*.png"):
    assert png.read_bytes()[:8] == PNG_MAGIC
  assert not list(out.glob(".*.tmp"))

  scores = _strict((out / "scores.json").read_text())
  assert scores["baseline"] == "sgd" and scores["tau_max"] == 4.0
  sgd_mnist = scores["submissions"]["sgd"]["per_workload"]["mnist/tiny"]
  assert sgd_mnist["time_to_target_sec"] is None and sgd_mnist["performance_ratio"] is None
  assert sgd_mnist["num_studies"] == 2
  assert scores["submissions"]["adamw"]["per_workload"]["lm/tiny"]["time_to_target_sec"] == 45.0
  # Two studies: too few for an interval (issue 19: a "95% CI" of [x, x] meant nothing).
  assert scores["submissions"]["sgd"]["ci95"] is None
  assert scores["submissions"]["sgd"]["min_studies"] == 2
  assert scores["submissions"]["sgd"]["speedup_vs_baseline"] == pytest.approx(1.0)
  assert len(scores["skipped"]) == 2 and all(s["reason"] for s in scores["skipped"])

  md = (out / "report.md").read_text()
  assert "| submission | benchmark score | 95% CI | speedup vs baseline |" in md
  assert "| adamw | 1.000 |" in md
  assert "miss (0/2)" in md
  assert "![performance profile](performance_profile.png)" in md
  assert "(curves_lm_tiny.png)" in md and "(curves_mnist_tiny.png)" in md
  assert "unfinished run" in md and "malformed or truncated JSON" in md

  table = format_score_table(report)
  assert table.splitlines()[0].split()[:4] == ["submission", "score", "95%", "CI"]
  assert "speedup vs sgd" in table and "miss" in table and "2.00x" in table


def test_mixed_hardware_refused_then_allowed(tmp_path):
  runs, out = tmp_path / "runs", tmp_path / "out"
  _write_run(runs, "a", submission="a", workload="lm", study=0, trial=0, seed=0, time=10.0)
  _write_run(runs, "b", submission="b", workload="lm", study=0, trial=0, seed=0, time=20.0,
             device_kind="TPU v4")
  with pytest.raises(MixedHardwareError, match="allow_mixed_hardware"):
    score_directories([runs], out, bootstrap_samples=10)
  assert not (out / "scores.json").exists()
  report = score_directories([runs], out, allow_mixed_hardware=True, bootstrap_samples=10)
  assert any("TPU v4" in w for w in report.warnings)
  assert any("TPU v4" in w for w in _strict((out / "scores.json").read_text())["warnings"])
  assert report.submissions["b"].benchmark_score == pytest.approx((4 - 2) / 3)


def test_nothing_to_score_and_unknown_baseline_are_clear_errors(tmp_path):
  runs = tmp_path / "runs"
  _write_run(runs, "x", submission="a", workload="lm", study=0, trial=0, seed=0, time=None,
             status="preempted")
  with pytest.raises(ScoringError, match="no finished run records"):
    score_directories([runs], tmp_path / "out")
  _write_run(runs, "y", submission="a", workload="lm", study=1, trial=0, seed=0, time=5.0)
  with pytest.raises(ScoringError, match="baseline 'nope' is not among"):
    score_directories([runs], tmp_path / "out", baseline="nope", allow_incomplete=True)
  with pytest.raises(ScoringError, match="no such file"):
    score_directories([tmp_path / "absent"], tmp_path / "out")
  assert math.isfinite(score_directories([runs], tmp_path / "out", bootstrap_samples=5,
                                         allow_incomplete=True).submissions["a"].benchmark_score)


def test_the_curves_axis_names_the_clock():
  """Issue 20: plot axes said "submission time (s)" for CPU seconds."""
  from algoperf_lab.scoring import plots

  assert plots.clock_axis_label(["process_cpu"]) == "submission time (process CPU s)"
  assert plots.clock_axis_label(["wall", "wall"]) == "submission time (wall s)"
  assert plots.clock_axis_label(["wall", "process_cpu"]) == "submission time (process CPU s / wall s)"


def test_an_interval_needs_five_studies_on_every_workload(tmp_path):
  """Issue 19: below 5 studies `score` prints "n/a: k studies" instead of an interval."""
  from algoperf_lab.scoring.report import format_score_table, score_directories
  from tests.scoring.factories import lab_run

  runs = tmp_path / "runs"
  times = [10.0 * (i + 1) for i in range(10)]
  for study in range(5):
    for name, at in (("adamw", 30.0 + study), ("sgd", 60.0 + 5 * study)):
      lab_run(runs, f"{name}_{study}", submission=name, times=times, study=study,
              losses=[3.0 if t < at else 1.5 for t in times], ruleset="self")
  report = score_directories([runs], tmp_path / "out", bootstrap_samples=50)
  assert report.submissions["adamw"].ci95 is not None
  lo, hi = report.submissions["sgd"].ci95
  assert lo <= report.submissions["sgd"].benchmark_score <= hi
  lab_run(runs, "adamw_vit", submission="adamw", workload="vit", times=times, study=0,
          losses=[1.5] * 10, ruleset="self")
  lab_run(runs, "sgd_vit", submission="sgd", workload="vit", times=times, study=0,
          losses=[1.5] * 10, ruleset="self")
  report = score_directories([runs], tmp_path / "out2", bootstrap_samples=50)
  assert report.submissions["adamw"].ci95 is None  # vit has one study
  assert "n/a: 1 study" in format_score_table(report)

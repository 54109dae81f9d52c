"""The calibration's report.md, its profile plot, calibration.json and each chosen config."""

from __future__ import annotations

import json
import math
from pathlib import Path

from algoperf_lab.calibration.candidates import changed_hparams
from algoperf_lab.calibration.results import CalibrationResult, final_label
from algoperf_lab.scoring import plots
from algoperf_lab.scoring.report import write_text_atomic

REPORT_FILE = "report.md"
PROFILE_FILE = "performance_profile.png"
RESULT_FILE = "calibration.json"


def chosen_file(out_dir: Path, method: str) -> Path:
  return out_dir / f"calibrated_{method}.json"


def _seconds(value: float) -> str:
  return f"{value:.1f}" if math.isfinite(value) else "miss"


def render_markdown(result: CalibrationResult) -> str:
  lines = ["# Calibration of non-learning-rate hyperparameters", "",
           f"Workloads: {', '.join(result.workloads)}; τ_max = {result.tau_max:g}; reference "
           f"`{result.reference}`. Candidate 0 is each method's literature default; the "
           "calibrated candidate has the best benchmark score in the pool of every candidate "
           "of every method. Scores below are from a pool of the defaults and calibrated "
           "candidates only.", "",
           "| method | default score | calibrated score | calibrated candidate | changed "
           "hyperparameters | " + " | ".join(f"{w} default / calibrated (s)"
                                            for w in result.workloads) + " |",
           "|" + "---|" * (5 + len(result.workloads))]
  for method, m in result.methods.items():
    name = f"{method} (reference)" if method == result.reference else method
    changed = json.dumps(changed_hparams(m.best.candidate, m.default.candidate), sort_keys=True)
    times = [f"{_seconds(m.default.times_sec[w])} / {_seconds(m.best.times_sec[w])}"
             for w in result.workloads]
    lines.append(f"| {name} | {result.final_scores[final_label(method, 'default')]:.3f} | "
                 f"{result.final_scores[final_label(method, 'calibrated')]:.3f} | "
                 f"{m.best.candidate.index} | `{changed}` | " + " | ".join(times) + " |")
  lines += ["", f"![performance profile]({PROFILE_FILE})", "", "## Every candidate", "",
            "| candidate | pool score | diverged runs | " +
            " | ".join(f"{w} (s, seeds reached)" for w in result.workloads) + " |",
            "|" + "---|" * (3 + len(result.workloads))]
  for c in result.candidates:
    score = result.methods[c.candidate.method].pool_scores[c.candidate.index]
    cells = [f"{_seconds(c.times_sec[w])} ({c.num_reached[w]})" for w in result.workloads]
    lines.append(f"| {c.candidate.method}/{c.candidate.index} | {score:.3f} | "
                 f"{c.num_diverged}/{c.num_runs} | " + " | ".join(cells) + " |")
  lines += ["", "Pass a chosen configuration to a run with "
            "`algoperf-lab run --hparams=calibrated_<method>.json ...`."]
  lines += [f"- warning: {w}" for w in result.hardware_warnings]
  return "\n".join(lines) + "\n"


def write_report(result: CalibrationResult, out_dir: Path) -> Path:
  """Writes report.md, the profile, calibration.json and calibrated_<method>.json files."""
  out_dir.mkdir(parents=True, exist_ok=True)
  plots.plot_performance_profile(result.final_ratios, result.final_scores, result.tau_max,
                                 out_dir / PROFILE_FILE)
  for method, m in result.methods.items():
    write_text_atomic(chosen_file(out_dir, method),
                      json.dumps(dict(m.best.candidate.hparams), indent=2, sort_keys=True) + "\n")
  summary = {method: {"default_score": result.final_scores[final_label(method, "default")],
                      "calibrated_score": result.final_scores[final_label(method, "calibrated")],
                      "calibrated_candidate": m.best.candidate.index,
                      "calibrated_hparams": dict(m.best.candidate.hparams),
                      "pool_scores": {str(k): v for k, v in m.pool_scores.items()}}
             for method, m in result.methods.items()}
  write_text_atomic(out_dir / RESULT_FILE, json.dumps(
      {"workloads": list(result.workloads), "reference": result.reference,
       "tau_max": result.tau_max, "methods": summary}, indent=2, sort_keys=True) + "\n")
  path = out_dir / REPORT_FILE
  write_text_atomic(path, render_markdown(result))
  return path

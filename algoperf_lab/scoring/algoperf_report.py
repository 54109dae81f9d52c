"""Score trials under AlgoPerf's rules and write scores.json, report.md and the profile figure.

`score_algoperf_trials` prints nothing and returns an `AlgoPerfReport`; `format_algoperf_table`
renders it for the terminal (scores to 4 decimals, as AlgoPerf's leaderboards print them).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace as dataclass_replace
from pathlib import Path
from typing import Any

from algoperf_lab.scoring import plots
from algoperf_lab.scoring.algoperf_logs import AlgoPerfTrial
from algoperf_lab.scoring.algoperf_rules import (
    CUT_FACTOR, NUM_TAU_POINTS, AlgoPerfStudy, AlgoPerfTable, collect_algoperf_studies,
    score_algoperf)
from algoperf_lab.scoring.algoperf_targets import AlgoPerfTargets
from algoperf_lab.scoring.records import ScoringError, Skipped
from algoperf_lab.scoring.report import (
    PROFILE_FILE, REPORT_FILE, SCORES_FILE, _md_cell, _md_table, write_text_atomic)

EXTERNAL_TRIALS_PER_STUDY = 5
RULE = (f"AlgoPerf's rules: per study the trial reaching the target at the earliest eval index; "
        f"median over studies; held-out variants, the {CUT_FACTOR:g}x cut, then base workloads "
        f"missed where their variant missed; the profile over base workloads sampled at "
        f"{NUM_TAU_POINTS} evenly spaced τ and integrated with the trapezoid rule, / (τ_max − 1). "
        "(The lab's own tables use the exact integral instead.)")


@dataclass(frozen=True)
class AlgoPerfReport:
  """Everything score_algoperf_trials computed and wrote."""
  targets: AlgoPerfTargets
  ruleset: str
  tau_max: float
  table: AlgoPerfTable
  studies: tuple[AlgoPerfStudy, ...]
  skipped: tuple[Skipped, ...]
  warnings: tuple[str, ...]
  num_trials: int
  out_dir: Path
  files: tuple[Path, ...]

  def ranked(self) -> list[str]:
    """Submissions by descending score, then name."""
    return sorted(self.table.scores, key=lambda s: (-self.table.scores[s], s))


def _without_unlogged_base_workloads(targets: AlgoPerfTargets, trials: Sequence[AlgoPerfTrial]
                                     ) -> tuple[AlgoPerfTargets, list[str]]:
  """The targets less any base workload (and its held-out variants) no submission has logs
  for: it would count as a miss for everyone and lower every score alike (v0.5 logs against
  v0.6 targets, which add finewebedu_lm). Returns the notes saying so."""
  logged = {t.workload for t in trials}
  absent = [w for w in targets.base_workloads if w not in logged]
  if not absent:
    return targets, []
  base = tuple(w for w in targets.base_workloads if w not in absent)
  held_out = tuple(w for w in targets.held_out_workloads if targets.base_of(w) not in absent)
  notes = [f"no submission has logs for base workload {w}: it is left out of the score "
           f"(scored over {len(base)} base workloads of {targets.source}, not "
           f"{len(targets.base_workloads)})" for w in absent]
  return dataclass_replace(targets, base_workloads=base, held_out_workloads=held_out), notes


def _ruleset_warnings(trials: Sequence[AlgoPerfTrial], studies: Sequence[AlgoPerfStudy],
                      ruleset: str) -> list[str]:
  warnings = []
  logged = Counter((t.submission, t.ruleset) for t in trials
                   if t.ruleset is not None and t.ruleset != ruleset)
  warnings += [f"{n} trial(s) of {sub!r} were run under tuning_ruleset {logged_as!r} "
               f"(flags_0.json) but are scored under --ruleset={ruleset}"
               for (sub, logged_as), n in sorted(logged.items())]
  expected = 1 if ruleset == "self" else EXTERNAL_TRIALS_PER_STUDY
  uneven = Counter((s.submission, len(s.trials)) for s in studies if len(s.trials) != expected)
  warnings += [f"{n} study(ies) of {sub!r} have {k} trial(s); the {ruleset} ruleset expects "
               f"{expected}" for (sub, k), n in sorted(uneven.items())]
  return warnings


def _study_count_warnings(studies: Sequence[AlgoPerfStudy]) -> list[str]:
  counts = Counter((s.submission, s.workload) for s in studies)
  warnings = []
  for workload in sorted({w for _, w in counts}):
    per = {sub: n for (sub, w), n in counts.items() if w == workload}
    if len(set(per.values())) > 1:
      warnings.append(f"{workload}: submissions have different numbers of studies "
                      f"({', '.join(f'{s} {n}' for s, n in sorted(per.items()))})")
  return warnings


def _fmt_time(seconds: float) -> str:
  return f"{seconds:.0f}" if math.isfinite(seconds) else "inf"


def _finite_or_none(value: float) -> float | None:
  return value if math.isfinite(value) else None


def _studies_json(report: AlgoPerfReport, submission: str, workload: str) -> list[dict[str, Any]]:
  return [{"study": s.study, "num_trials": len(s.trials),
           "best_trial": s.best.location.trial if s.best else None,
           "eval_index": s.eval_index, "time_sec": _finite_or_none(s.time_sec)}
          for s in report.studies if s.submission == submission and s.workload == workload]


def algoperf_scores_json(report: AlgoPerfReport) -> dict[str, Any]:
  """scores.json for AlgoPerf-rule scoring (inf becomes null)."""
  table = report.table
  submissions = {
      sub: {"benchmark_score": table.scores[sub],
            "per_workload": {
                w: {"median_time_sec": _finite_or_none(table.median_times[sub][w]),
                    "time_sec_after_cuts": _finite_or_none(table.final_times[sub][w]),
                    "performance_ratio": (_finite_or_none(table.ratios[sub][w])
                                          if w in table.base_workloads else None),
                    "note": table.notes.get((sub, w)),
                    "studies": _studies_json(report, sub, w)}
                for w in table.workloads}}
      for sub in report.ranked()}
  return {"scoring_rule": "algoperf", "rule": RULE, "targets": report.targets.source,
          "benchmark_version": report.targets.benchmark_version, "ruleset": report.ruleset,
          "tau_max": report.tau_max, "base_workloads": list(table.base_workloads),
          "held_out_workloads": list(report.targets.held_out_workloads),
          "submissions": submissions, "num_trials": report.num_trials,
          "skipped": [{"path": k.path, "reason": k.reason} for k in report.skipped],
          "warnings": list(report.warnings)}


def render_algoperf_markdown(report: AlgoPerfReport, generated_at: dt.datetime) -> str:
  """report.md: scores (4 decimals), times per workload, what the rules changed, skipped logs."""
  table, ranked = report.table, report.ranked()
  lines = ["# AlgoPerf-rules benchmark report", "",
           f"Generated {generated_at:%Y-%m-%d %H:%M:%S %Z} from {report.num_trials} trials "
           f"({len(report.skipped)} skipped); targets: {report.targets.source}; ruleset "
           f"{report.ruleset}; τ_max = {report.tau_max:g}.", "",
           "## Benchmark scores", "", RULE, ""]
  lines += _md_table(["submission", "benchmark score"],
                     [[s, f"{table.scores[s]:.4f}"] for s in ranked])
  lines += ["", "## Time to target", "",
            "Submission seconds, median over studies; `inf` is a miss; `*` marks a time the "
            "held-out or 4x rules turned into a miss (see the notes). Held-out workloads do not "
            "enter the profile themselves.", ""]
  lines += _md_table(
      ["submission", *table.workloads],
      [[s, *(_fmt_time(table.median_times[s][w]) + ("*" if (s, w) in table.notes else "")
             for w in table.workloads)] for s in ranked])
  if table.notes:
    lines += ["", "## What the rules changed", ""]
    lines += [f"- {s} on {w}: {note}" for (s, w), note in sorted(table.notes.items())]
  lines += ["", "## Performance profile", "", f"![performance profile]({PROFILE_FILE})", ""]
  if report.warnings:
    lines += ["## Warnings", ""] + [f"- {_md_cell(m)}" for m in report.warnings] + [""]
  lines += ["## Skipped logs", ""]
  lines += [f"- `{k.path}`: {_md_cell(k.reason)}" for k in report.skipped] or ["None."]
  return "\n".join(lines) + "\n"


def format_algoperf_table(report: AlgoPerfReport) -> str:
  """Plain text: score to 4 decimals and the base workloads' times after the rules."""
  table = report.table
  header = ["submission", "score", *table.base_workloads]
  rows = [[s, f"{table.scores[s]:.4f}", *(_fmt_time(table.final_times[s][w])
                                          for w in table.base_workloads)]
          for s in report.ranked()]
  widths = [max(len(c) for c in col) for col in zip(header, *rows)]
  def line(cells: Sequence[str]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
  out = [f"AlgoPerf rules ({report.targets.source}, ruleset {report.ruleset}, "
         f"{NUM_TAU_POINTS}-point trapezoid; seconds after the held-out and 4x rules):",
         line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
  if report.skipped:
    out.append(f"({len(report.skipped)} log(s) skipped: the first are listed below, all in "
               "report.md)")
  return "\n".join(out)


def score_algoperf_trials(trials: Sequence[AlgoPerfTrial], skipped: Sequence[Skipped],
                          out_dir: Path, *, targets: AlgoPerfTargets, ruleset: str,
                          tau_max: float, warnings: Sequence[str] = ()) -> AlgoPerfReport:
  """Apply AlgoPerf's rules to the trials and write scores.json, report.md and the profile."""
  scored = set(targets.scored_workloads)
  ignored = Counter(t.workload for t in trials if t.workload not in scored)
  notes = [f"{n} trial(s) of {w} not scored: neither a base nor a held-out workload of "
           f"{targets.source}" for w, n in sorted(ignored.items())]
  trials = [t for t in trials if t.workload in scored]
  if not trials:
    raise ScoringError(f"no AlgoPerf trial to score against {targets.source} "
                       f"({len(skipped)} skipped"
                       + (f", e.g. {skipped[0].path}: {skipped[0].reason}" if skipped else "")
                       + ")")
  targets, left_out = _without_unlogged_base_workloads(targets, trials)
  notes += left_out
  studies = collect_algoperf_studies(trials, targets)
  table = score_algoperf(studies, targets, tau_max)
  absent = [w for w in targets.held_out_workloads if not any(t.workload == w for t in trials)]
  notes += [f"no logs for held-out workload {w}: every submission misses "
            f"{targets.base_of(w)}" for w in absent]
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  report = AlgoPerfReport(
      targets=targets, ruleset=ruleset, tau_max=tau_max, table=table, studies=tuple(studies),
      skipped=tuple(skipped), num_trials=len(trials), out_dir=out_dir,
      warnings=tuple([*warnings, *notes, *_ruleset_warnings(trials, studies, ruleset),
                      *_study_count_warnings(studies)]),
      files=(out_dir / SCORES_FILE, out_dir / REPORT_FILE, out_dir / PROFILE_FILE))
  plots.plot_performance_profile(table.ratios, table.scores, tau_max, out_dir / PROFILE_FILE)
  write_text_atomic(out_dir / SCORES_FILE,
                    json.dumps(algoperf_scores_json(report), indent=2, allow_nan=False) + "\n")
  write_text_atomic(out_dir / REPORT_FILE,
                    render_algoperf_markdown(report, dt.datetime.now(dt.timezone.utc)))
  return report

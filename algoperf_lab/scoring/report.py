"""Score a tree of run records and write scores.json, report.md and the figures.

`score_directories` is the entry point the CLI calls; it prints nothing and returns a
`ScoreReport`, which `format_score_table` renders as plain text for the terminal.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algoperf_lab.atomic_files import write_text_atomically
from algoperf_lab.scoring import paired as paired_lib
from algoperf_lab.scoring import plots
from algoperf_lab.scoring.consistency import check_same_config
from algoperf_lab.scoring.mtl import MtlScore, mtl_scores, render_mtl_markdown
from algoperf_lab.scoring.profiles import DEFAULT_TAU_MAX, benchmark_scores, performance_ratios
from algoperf_lab.scoring.records import (
    RunRecord, ScoringError, Skipped, check_no_duplicate_runs, check_same_hardware, load_records,
    read_curve)
from algoperf_lab.scoring.statistics import bootstrap_ci, speedup_vs_baseline
from algoperf_lab.scoring.time_to_target import (
    CLOCKS, StudyOutcome, collect_studies, on_step_clock, over_budget, study_times,
    workload_times)

SCORES_FILE = "scores.json"
REPORT_FILE = "report.md"
PROFILE_FILE = "performance_profile.png"
GAP_MARK = "†"
EXACT_RULE = ("Scores are the exact area under each performance profile on [1, τ_max] / "
              "(τ_max − 1) (the lab's rule for its own records; AlgoPerf's leaderboards sample "
              "the profile at 100 points and use the trapezoid rule, see --algoperf_rules).")


@dataclass(frozen=True)
class WorkloadScore:
  """One submission on one workload: median time over studies (inf = miss) and its ratio."""
  time_to_target_sec: float
  study_times_sec: tuple[float, ...]
  performance_ratio: float

  @property
  def num_studies(self) -> int:
    return len(self.study_times_sec)

  @property
  def num_reached(self) -> int:
    return sum(math.isfinite(t) for t in self.study_times_sec)


@dataclass(frozen=True)
class SubmissionScore:
  """A submission's benchmark score, its bootstrap interval (None below MIN_STUDIES_FOR_INTERVAL
  studies on some workload: too few to mean anything), speedup and per-workload detail."""
  name: str
  benchmark_score: float
  ci95: tuple[float, float] | None
  speedup_vs_baseline: float | None
  speedup_num_workloads: int
  per_workload: Mapping[str, WorkloadScore]

  @property
  def min_studies(self) -> int:
    """The fewest studies this submission has on any scored workload."""
    return min((ws.num_studies for ws in self.per_workload.values()), default=0)


# A bootstrap over fewer studies gives intervals of a handful of possible values ("[x, x]");
# below this many studies on some workload `score` prints "n/a" and the count instead.
MIN_STUDIES_FOR_INTERVAL = 5


@dataclass(frozen=True)
class ScoreReport:
  """Everything score_directories computed and wrote, including what it had to skip and why."""
  tau_max: float
  workloads: tuple[str, ...]
  submissions: Mapping[str, SubmissionScore]
  baseline: str | None
  skipped: tuple[Skipped, ...]
  warnings: tuple[str, ...]
  hardware: tuple[str, ...]
  num_scored_runs: int
  out_dir: Path
  files: tuple[Path, ...]
  gaps: frozenset[tuple[str, str]] = frozenset()  # (submission, workload) with incomplete runs
  unattributed_gaps: int = 0  # incomplete records that do not say whose they are
  mtl_reference: str | None = None  # --mtl_reference: Δm% against this submission
  moe_section: tuple[str, ...] = ()  # expert specialisation, for runs that record MoE counts
  mtl: tuple[MtlScore, ...] = ()
  clock: str = "time"  # what the times are: "time" (seconds of submission time) or "steps"
  rank_changes: tuple[str, ...] = ()  # lines: how the ranking moves on the other clock
  paired: tuple[paired_lib.PairedComparison, ...] = ()  # against --baseline, seed by seed

  @property
  def unit(self) -> str:
    return "steps" if self.clock == "steps" else "s"

  def has_gap(self, submission: str, workload: str) -> bool:
    """Whether an incomplete record of this submission on this workload was left out."""
    return any(s == submission and (workload == w or workload.startswith(w + " ["))
               for s, w in self.gaps)

  def ranked(self) -> list[SubmissionScore]:
    """Submissions by descending benchmark score (then name)."""
    return sorted(self.submissions.values(), key=lambda s: (-s.benchmark_score, s.name))


def _gap(report: ScoreReport, submission: str, workload: str) -> str:
  return GAP_MARK if report.has_gap(submission, workload) else ""


def gap_note(gaps: int, unattributed: int) -> list[str]:
  """The line that explains GAP_MARK, when some cell has one or some record could not be
  attributed (score's report and the leaderboard's table say the same)."""
  if not gaps and not unattributed:
    return []
  note = (f"{GAP_MARK} incomplete: a record of this submission on this workload is corrupt, "
          "preempted or still running and was left out (--allow_incomplete), so its n is short "
          "of the study count")
  if unattributed:
    note += (f"; {unattributed} more unreadable record(s) could not be attributed to a "
             "submission")
  return [note]


def _gap_note(report: ScoreReport) -> list[str]:
  return gap_note(len(report.gaps), report.unattributed_gaps)


def _finite_or_none(value: float) -> float | None:
  return value if math.isfinite(value) else None


def _fmt_seconds(value: float) -> str:
  return f"{value:.1f}" if math.isfinite(value) else "miss"


def _fmt_speedup(score: SubmissionScore) -> str:
  if score.speedup_vs_baseline is None:
    return "n/a"
  n = score.speedup_num_workloads
  return f"{score.speedup_vs_baseline:.2f}x over {n} workload{'s' if n != 1 else ''}"


def _fmt_ci(score: SubmissionScore) -> str:
  if score.ci95 is None:
    return f"n/a: {score.min_studies} stud{'y' if score.min_studies == 1 else 'ies'}"
  return f"[{score.ci95[0]:.3f}, {score.ci95[1]:.3f}]"


def write_text_atomic(path: Path, text: str) -> None:
  """Write via a temporary file in the same folder and os.replace, so readers never see half."""
  write_text_atomically(path, text)


def scores_json(report: ScoreReport) -> dict[str, Any]:
  """The scores.json document: strict JSON values only (inf and missing become null)."""
  submissions = {}
  for s in report.ranked():
    per_workload = {
        w: {"time_to_target_sec": _finite_or_none(ws.time_to_target_sec),
            "median_over_studies": _finite_or_none(ws.time_to_target_sec),
            "study_times_sec": [_finite_or_none(t) for t in ws.study_times_sec],
            "num_studies": ws.num_studies,
            "num_studies_reached": ws.num_reached,
            "performance_ratio": _finite_or_none(ws.performance_ratio)}
        for w, ws in s.per_workload.items()}
    submissions[s.name] = {
        "benchmark_score": s.benchmark_score,
        "ci95": list(s.ci95) if s.ci95 is not None else None,
        "min_studies": s.min_studies,
        "speedup_vs_baseline": s.speedup_vs_baseline,
        "speedup_num_workloads": s.speedup_num_workloads,
        "per_workload": per_workload}
  return {"scoring_rule": "exact integral", "clock": report.clock, "tau_max": report.tau_max,
          "workloads": list(report.workloads),
          "submissions": submissions, "baseline": report.baseline,
          "skipped": [{"path": k.path, "reason": k.reason} for k in report.skipped],
          "warnings": list(report.warnings), "hardware": list(report.hardware),
          "num_scored_runs": report.num_scored_runs,
          "incomplete": sorted([s, w] for s, w in report.gaps),
          "incomplete_unattributed": report.unattributed_gaps,
          "paired_comparisons": [paired_lib.to_json(c) for c in report.paired]}


def _md_cell(text: str) -> str:
  return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
  lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
  return lines


def render_markdown(report: ScoreReport, generated_at: dt.datetime) -> str:
  """report.md: scores, per-workload times, figures (relative links), warnings, skipped runs."""
  ranked = report.ranked()
  lines = ["# AlgoPerf-lab benchmark report", "",
           f"Generated {generated_at:%Y-%m-%d %H:%M:%S %Z} from {report.num_scored_runs} scored "
           f"runs ({len(report.skipped)} skipped); τ_max = {report.tau_max:g}"
           + (f"; baseline `{report.baseline}`." if report.baseline else "."), "",
           "## Hardware", ""]
  lines += [f"- {h}" for h in report.hardware] + ["", "## Benchmark scores", "", EXACT_RULE, ""]
  lines += _md_table(
      ["submission", "benchmark score", "95% CI", "speedup vs baseline"],
      [[s.name, f"{s.benchmark_score:.3f}", _fmt_ci(s), _fmt_speedup(s)] for s in ranked])
  if report.mtl_reference is not None:
    lines += ["", *render_mtl_markdown(report.mtl, report.mtl_reference)]
  lines += ["", "## Time to target", "",
            ("Steps" if report.clock == "steps" else "Seconds")
            + " to target, median over studies (studies reaching the target / studies); "
            "\"miss\" means the median study did not reach it.", ""]
  lines += _md_table(
      ["submission", *report.workloads],
      [[s.name, *(f"{_fmt_seconds(s.per_workload[w].time_to_target_sec)} "
                  f"({s.per_workload[w].num_reached}/{s.per_workload[w].num_studies})"
                  f"{_gap(report, s.name, w)}"
                  for w in report.workloads)] for s in ranked])
  if note := _gap_note(report):
    lines += ["", *note]
  lines += ["", *paired_lib.render_markdown(report.paired, report.unit)] if report.paired else []
  if report.rank_changes:
    lines += ["", "## Ranks on the time clock and on the step clock", "",
              *report.rank_changes]
  lines += ["", "## Performance profile", "", f"![performance profile]({PROFILE_FILE})", "",
            "## Training curves", ""]
  for w in report.workloads:
    lines += [f"### {w}", "", f"![{w} curves]({plots.curves_filename(w)})", ""]
  lines += list(report.moe_section)
  if report.warnings:
    lines += ["## Warnings", ""] + [f"- {_md_cell(m)}" for m in report.warnings] + [""]
  lines += ["## Skipped records", ""]
  lines += ([f"- `{k.path}`: {_md_cell(k.reason)}" for k in report.skipped]
            or ["None."])
  return "\n".join(lines) + "\n"


def format_score_table(report: ScoreReport) -> str:
  """A plain-text table for the terminal: score, CI, speedup and time-to-target per workload."""
  header = ["submission", "score", "95% CI"]
  if report.baseline is not None:
    header.append(f"speedup vs {report.baseline}")
  header += [f"{w} ({report.unit})" for w in report.workloads]
  rows = []
  for s in report.ranked():
    row = [s.name, f"{s.benchmark_score:.3f}", _fmt_ci(s)]
    if report.baseline is not None:
      row.append(_fmt_speedup(s))
    row += [_fmt_seconds(s.per_workload[w].time_to_target_sec) + _gap(report, s.name, w)
            for w in report.workloads]
    rows.append(row)
  widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
  def line(cells: Sequence[str]) -> str:
    return "  ".join(c.ljust(width) for c, width in zip(cells, widths)).rstrip()
  out = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
  out += _gap_note(report)
  if report.skipped:
    out.append(f"({len(report.skipped)} record(s) skipped; see report.md)")
  return "\n".join(out)


def _hardware_lines(records: Sequence[RunRecord]) -> tuple[str, ...]:
  described = set()
  for r in records:
    hw, v = r.hardware, r.versions
    described.add(
        f"{hw.get('device_kind')} x {hw.get('device_count')} ("
        + (f"{hw['processor']}, " if hw.get("platform") == "cpu" and hw.get("processor") else "")
        + f"platform {hw.get('platform')}, "
        f"{hw.get('process_count')} process(es)"
        + (f", {hw['usable_cpu_cores']} usable core(s)" if "usable_cpu_cores" in hw else "")
        + f"); algoperf_lab {v.get('algoperf_lab')}, "
        f"jax {v.get('jax')}, flax {v.get('flax')}, optax {v.get('optax')}, "
        f"python {v.get('python')}")
  return tuple(sorted(described))


def _consistency_warnings(studies: Sequence[StudyOutcome], workloads: Sequence[str],
                          gaps: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
  """Targets that differ within a workload, over-budget 'reached' runs, missing workloads."""
  warnings = []
  runs = [r for s in studies for r in s.runs]
  for w in workloads:
    targets = {(r.target_metric, r.target_value, r.target_direction)
               for r in runs if r.workload_key == w}
    if len(targets) > 1:
      warnings.append(f"{w}: runs disagree on the target {sorted(targets)}; "
                      "their times are not comparable")
  warnings += [f"{r.run_dir}: reached the target after max_allowed_runtime_sec "
               f"({r.time_to_target_sec} > {r.max_allowed_runtime_sec}); counted as a miss"
               for r in runs if over_budget(r)]
  present = {(s.submission, s.workload) for s in studies}
  for sub in sorted({s.submission for s in studies}):
    warnings += [f"submission {sub!r} has no finished runs on {w}; counted as a miss"
                 + (" (its runs there are incomplete)" if (sub, w) in gaps else "")
                 for w in workloads if (sub, w) not in present]
  return warnings


def _draw_curves(studies: Sequence[StudyOutcome], workloads: Sequence[str],
                 out_dir: Path) -> tuple[list[Path], list[str]]:
  colours = plots.submission_colours(sorted({s.submission for s in studies}))
  files, warnings = [], []
  for w in workloads:
    runs, targets, metrics = [], [], set()
    for study in (s for s in studies if s.workload == w):
      for record in study.runs:
        curve = read_curve(record.run_dir, record.target_metric)
        warnings += curve.warnings
        runs.append(plots.CurveRun(record.submission, curve.times, curve.values,
                                   emphasised=record is study.best))
        targets.append(record.target_value)
        metrics.add(record.target_metric)
    path = out_dir / plots.curves_filename(w)
    clocks = [r.clock for study in studies if study.workload == w for r in study.runs]
    plots.plot_workload_curves(w, " / ".join(sorted(metrics)), targets, runs, colours, path,
                               clocks)
    files.append(path)
  return files, warnings


def _moe_section(studies: Sequence[StudyOutcome], out_dir: Path) -> tuple[list[str], list[Path]]:
  """Specialisation table and heatmaps of each study's counting run, for the runs that record
  MoE expert × domain counts (the lm_moe workload's eval metrics); none for other runs."""
  # numpy only (matplotlib when a figure is drawn): the report still never imports a model.
  from algoperf_lab.scoring import specialisation  # pylint: disable=import-outside-toplevel
  runs = [(f"{s.submission} on {s.workload}, {s.label}", s.best.run_dir) for s in studies]
  return specialisation.report_section(runs, out_dir)


def check_score_options(tau_max: float, bootstrap_samples: int, out_dir: Path) -> None:
  """One-line ScoringErrors for options no score can be computed with."""
  if not (math.isfinite(tau_max) and tau_max > 1.0):
    raise ScoringError(f"--tau_max must be a finite number greater than 1, got {tau_max}")
  if bootstrap_samples < 1:
    raise ScoringError(f"--bootstrap_samples must be at least 1, got {bootstrap_samples}")
  if Path(out_dir).exists() and not Path(out_dir).is_dir():
    raise ScoringError(f"--out {out_dir} is an existing file; give a folder for the report")


def _refuse_incomplete(incomplete: Sequence[Skipped]) -> None:
  shown = "; ".join(f"{k.path} ({k.reason})" for k in incomplete[:5])
  more = f"; and {len(incomplete) - 5} more" if len(incomplete) > 5 else ""
  raise ScoringError(
      f"{len(incomplete)} record(s) are corrupt, preempted, still running or capped by "
      f"--max_steps, so their studies are incomplete (not misses): {shown}{more}. Finish them "
      "(rerun the same command to resume; a capped run without --max_steps), remove them, or "
      "pass --allow_incomplete to score without them (the gaps are marked in the tables)")


def _benchmark_scores_of(records: Sequence[RunRecord], tau_max: float) -> dict[str, float]:
  studies, _ = collect_studies(records)
  workloads = sorted({s.workload for s in studies})
  times = workload_times(study_times(studies), workloads)
  return benchmark_scores(performance_ratios(times, workloads), tau_max)


def _ranks(scores: Mapping[str, float]) -> dict[str, int]:
  return {name: i + 1 for i, name in enumerate(sorted(scores, key=lambda n: (-scores[n], n)))}


def _rank_changes(records: Sequence[RunRecord], tau_max: float) -> list[str]:
  """report.md's table of each submission's rank and score on the time clock and on the step
  clock, or a line saying why they cannot be compared."""
  if not records:
    return []
  step_records, no_steps = on_step_clock(records)
  if no_steps:
    return [f"Not compared: {len(no_steps)} reached record(s) have no step count."]
  on_time = _benchmark_scores_of(records, tau_max)
  on_steps = _benchmark_scores_of(step_records, tau_max)
  time_rank, step_rank = _ranks(on_time), _ranks(on_steps)
  rows = ["| submission | rank (score), time clock | rank (score), step clock | change |",
          "|---|---|---|---|"]
  for name in sorted(on_time, key=lambda n: time_rank[n]):
    change = time_rank[name] - step_rank[name]
    moved = "same" if change == 0 else (f"up {change}" if change > 0 else f"down {-change}")
    rows.append(f"| {name} | {time_rank[name]} ({on_time[name]:.3f}) | "
                f"{step_rank[name]} ({on_steps[name]:.3f}) | {moved} |")
  return rows


def score_directories(paths: list[Path], out_dir: Path, *, tau_max: float = DEFAULT_TAU_MAX,
                      baseline: str | None = None, allow_mixed_hardware: bool = False,
                      bootstrap_samples: int = 1000, seed: int = 0,
                      allow_incomplete: bool = False,
                      group_by_config: bool = False,
                      mtl_reference: str | None = None, clock: str = "time") -> ScoreReport:
  """Score every finished run below `paths` and write scores.json, report.md and PNGs to out_dir.

  Raises ScoringError (or its MixedHardwareError) when nothing can be scored, a path is missing,
  the baseline is unknown, hardware differs without allow_mixed_hardware, records of one
  workload differ in target/budget/config without group_by_config, or some records are
  incomplete (corrupt, preempted, running) without allow_incomplete. Finished but unusable
  records never raise: they are listed in the returned report's `skipped`.
  """
  missing = [str(p) for p in paths if not Path(p).exists()]
  if missing:
    raise ScoringError(f"no such file or directory: {', '.join(missing)}")
  check_score_options(tau_max, bootstrap_samples, out_dir)
  if clock not in CLOCKS:
    raise ScoringError(f"--clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
  records, skipped = load_records(paths)
  check_no_duplicate_runs(records)
  rank_changes = _rank_changes(records, tau_max)
  if clock == "steps":
    records, no_steps = on_step_clock(records)
    skipped += no_steps
  warnings = check_same_hardware(records, allow_mixed_hardware)
  records, config_warnings = check_same_config(records, group_by_config)
  warnings += config_warnings
  studies, ambiguous = collect_studies(records)
  skipped += ambiguous
  if not studies:
    reasons = "; ".join(f"{k.path}: {k.reason}" for k in skipped[:5])
    raise ScoringError(f"no finished run records to score under {', '.join(map(str, paths))}"
                       + (f" ({len(skipped)} skipped, e.g. {reasons})" if skipped else ""))
  incomplete = [k for k in skipped if k.incomplete]
  if incomplete and not allow_incomplete:
    _refuse_incomplete(incomplete)
  submissions = sorted({s.submission for s in studies})
  if baseline is not None and baseline not in submissions:
    raise ScoringError(f"baseline {baseline!r} is not among the scored submissions: "
                       f"{', '.join(submissions)}")
  workloads = sorted({s.workload for s in studies})
  warnings += _consistency_warnings(studies, workloads,
                                    frozenset(k.cell for k in incomplete if k.cell))

  per_study = study_times(studies)
  times = workload_times(per_study, workloads)
  ratios = performance_ratios(times, workloads)
  scores = benchmark_scores(ratios, tau_max)
  cis = bootstrap_ci(per_study, workloads, tau_max=tau_max, samples=bootstrap_samples, seed=seed)
  results = {}
  for sub in submissions:
    speedup = speedup_vs_baseline(times, baseline, sub) if baseline is not None else None
    per_workload = {w: WorkloadScore(times[sub][w], tuple(per_study[sub].get(w, ())),
                                     ratios[sub][w]) for w in workloads}
    enough = min((ws.num_studies for ws in per_workload.values()),
                 default=0) >= MIN_STUDIES_FOR_INTERVAL
    results[sub] = SubmissionScore(
        name=sub, benchmark_score=scores[sub], ci95=cis[sub] if enough else None,
        speedup_vs_baseline=speedup.value if speedup else None,
        speedup_num_workloads=speedup.num_workloads if speedup else 0,
        per_workload=per_workload)

  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  plots.plot_performance_profile(ratios, scores, tau_max, out_dir / PROFILE_FILE)
  curve_files, curve_warnings = _draw_curves(studies, workloads, out_dir)
  moe_lines, moe_files = _moe_section(studies, out_dir)
  scored_records = [r for s in studies for r in s.runs]
  report = ScoreReport(
      tau_max=tau_max, workloads=tuple(workloads), submissions=results, baseline=baseline,
      skipped=tuple(skipped), warnings=tuple(warnings + curve_warnings),
      hardware=_hardware_lines(scored_records), num_scored_runs=len(scored_records),
      out_dir=out_dir, gaps=frozenset(k.cell for k in incomplete if k.cell),
      unattributed_gaps=sum(k.cell is None for k in incomplete),
      mtl_reference=mtl_reference, clock=clock, rank_changes=tuple(rank_changes),
      paired=(tuple(paired_lib.compare_all(studies, baseline, workloads))
              if baseline is not None else ()),
      mtl=mtl_scores(scored_records, mtl_reference) if mtl_reference is not None else (),
      moe_section=tuple(moe_lines),
      files=(out_dir / SCORES_FILE, out_dir / REPORT_FILE, out_dir / PROFILE_FILE,
             *curve_files, *moe_files))
  write_text_atomic(out_dir / SCORES_FILE,
                    json.dumps(scores_json(report), indent=2, allow_nan=False) + "\n")
  write_text_atomic(out_dir / REPORT_FILE,
                    render_markdown(report, dt.datetime.now(dt.timezone.utc)))
  return report

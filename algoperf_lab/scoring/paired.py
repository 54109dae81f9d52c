"""Paired comparisons of a submission against a baseline, study by study (seed by seed).

Two submissions' studies with the same label ("study 3", or "seed 7" for records without a
study number) on one workload ran on the same seeds, so their times form a pair. The test is
the exact two-sided **sign test** on who reached the target first (a miss is slower than any
hit, two misses tie, ties are dropped), which needs no assumption about the time
distribution and handles misses; with 5 pairs its smallest possible p is 2/32 = 0.0625, so
5 seeds can show a consistent direction but never p < 0.05 by themselves. The effect size is
the geometric mean of the paired time ratios with a 95% paired t-interval on their logs,
given only when every pair reached the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from algoperf_lab.scoring.time_to_target import StudyOutcome

MIN_PAIRS_FOR_INTERVAL = 3


@dataclass(frozen=True)
class PairedComparison:
  submission: str
  baseline: str
  workload: str
  pairs: int
  faster: int  # pairs where the submission reached the target first
  slower: int
  ties: int
  sign_test_p: float | None  # None without any untied pair
  ratio_geomean: float | None  # submission time / baseline time, all pairs finite only
  ratio_ci95: tuple[float, float] | None


def sign_test_p(faster: int, slower: int) -> float | None:
  """Exact two-sided binomial test of faster vs slower at p = 1/2 (ties dropped)."""
  n = faster + slower
  if n == 0:
    return None
  return float(stats.binomtest(faster, n, 0.5, alternative="two-sided").pvalue)


def _geomean_interval(ratios: Sequence[float]) -> tuple[float, tuple[float, float] | None]:
  logs = [math.log(r) for r in ratios]
  mean = sum(logs) / len(logs)
  if len(logs) < MIN_PAIRS_FOR_INTERVAL:
    return math.exp(mean), None
  sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
  half = float(stats.t.ppf(0.975, len(logs) - 1)) * sd / math.sqrt(len(logs))
  return math.exp(mean), (math.exp(mean - half), math.exp(mean + half))


def compare(studies: Sequence[StudyOutcome], submission: str, baseline: str,
            workload: str) -> PairedComparison | None:
  """The paired comparison on one workload; None when no study label is shared."""
  mine = {s.label: s.time_sec for s in studies
          if s.submission == submission and s.workload == workload}
  base = {s.label: s.time_sec for s in studies
          if s.submission == baseline and s.workload == workload}
  labels = sorted(set(mine) & set(base))
  if not labels:
    return None
  pairs = [(mine[label], base[label]) for label in labels]
  faster = sum(a < b for a, b in pairs)
  slower = sum(a > b for a, b in pairs)
  finite = all(math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0 for a, b in pairs)
  geomean, interval = (_geomean_interval([a / b for a, b in pairs]) if finite else (None, None))
  return PairedComparison(submission=submission, baseline=baseline, workload=workload,
                          pairs=len(pairs), faster=faster, slower=slower,
                          ties=len(pairs) - faster - slower,
                          sign_test_p=sign_test_p(faster, slower), ratio_geomean=geomean,
                          ratio_ci95=interval)


def compare_all(studies: Sequence[StudyOutcome], baseline: str,
                workloads: Sequence[str]) -> list[PairedComparison]:
  submissions = sorted({s.submission for s in studies} - {baseline})
  found = [compare(studies, sub, baseline, w) for w in workloads for sub in submissions]
  return [c for c in found if c is not None]


def render_markdown(comparisons: Sequence[PairedComparison], unit: str) -> list[str]:
  """The report.md section; empty without comparisons."""
  if not comparisons:
    return []
  lines = [f"## Paired comparisons against `{comparisons[0].baseline}`", "",
           f"Studies paired by label (same seeds); time ratio = submission / baseline {unit} "
           "(below 1: faster). Test: exact two-sided sign test on the pairs (misses count as "
           "slower; 5 pairs cannot reach p < 0.05). Interval: 95% paired t on log ratios, only "
           "when every pair reached the target.", "",
           "| workload | submission | pairs | faster / slower / ties | sign test p | "
           "time ratio (geomean) | 95% CI |", "|---|---|---|---|---|---|---|"]
  for c in comparisons:
    p = "n/a" if c.sign_test_p is None else f"{c.sign_test_p:.3f}"
    ratio = "n/a (a miss)" if c.ratio_geomean is None else f"{c.ratio_geomean:.3f}"
    ci = ("n/a" if c.ratio_ci95 is None
          else f"[{c.ratio_ci95[0]:.3f}, {c.ratio_ci95[1]:.3f}]")
    lines.append(f"| {c.workload} | {c.submission} | {c.pairs} | {c.faster} / {c.slower} / "
                 f"{c.ties} | {p} | {ratio} | {ci} |")
  return lines + [""]


def to_json(c: PairedComparison) -> dict[str, object]:
  return {"submission": c.submission, "baseline": c.baseline, "workload": c.workload,
          "pairs": c.pairs, "faster": c.faster, "slower": c.slower, "ties": c.ties,
          "test": "exact two-sided sign test", "sign_test_p": c.sign_test_p,
          "time_ratio_geomean": c.ratio_geomean,
          "time_ratio_ci95": list(c.ratio_ci95) if c.ratio_ci95 else None}

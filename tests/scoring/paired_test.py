"""Paired comparisons by seed: the sign test's exact p-values (checked against the binomial
by hand), misses, ties, the t-interval on log ratios, and the report section."""

from __future__ import annotations

import math

import pytest

from algoperf_lab.scoring import paired
from algoperf_lab.scoring.time_to_target import StudyOutcome


def _study(submission: str, label: str, time: float) -> StudyOutcome:
  return StudyOutcome(submission=submission, workload="gnn", label=label, runs=(), best=None,  # type: ignore[arg-type]
                      time_sec=time)


def test_sign_test_p_values_are_the_exact_binomial_tails():
  assert paired.sign_test_p(5, 0) == pytest.approx(2 / 32)  # 5 seeds never reach p < 0.05
  assert paired.sign_test_p(4, 1) == pytest.approx(2 * 6 / 32)
  assert paired.sign_test_p(8, 0) == pytest.approx(2 / 256)
  assert paired.sign_test_p(0, 0) is None


def test_pairs_by_label_with_misses_ties_and_unpaired_studies():
  studies = [_study("a", "study 0", 10.0), _study("b", "study 0", 20.0),
             _study("a", "study 1", math.inf), _study("b", "study 1", 30.0),
             _study("a", "study 2", math.inf), _study("b", "study 2", math.inf),
             _study("a", "study 3", 5.0)]  # no partner: left out
  c = paired.compare(studies, "a", "b", "gnn")
  assert (c.pairs, c.faster, c.slower, c.ties) == (3, 1, 1, 1)
  assert c.sign_test_p == pytest.approx(1.0)
  assert c.ratio_geomean is None and c.ratio_ci95 is None  # a miss: no ratio
  assert paired.compare(studies, "a", "c", "gnn") is None


def test_geometric_mean_ratio_and_paired_t_interval_on_logs():
  times = [(10.0, 20.0), (12.0, 20.0), (9.0, 20.0), (11.0, 19.0), (10.0, 21.0)]
  studies = [s for i, (a, b) in enumerate(times)
             for s in (_study("a", f"study {i}", a), _study("b", f"study {i}", b))]
  c = paired.compare(studies, "a", "b", "gnn")
  logs = [math.log(a / b) for a, b in times]
  mean = sum(logs) / 5
  sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 4)
  half = 2.7764451051977987 * sd / math.sqrt(5)  # t(0.975, 4)
  assert c.ratio_geomean == pytest.approx(math.exp(mean))
  assert c.ratio_ci95 == pytest.approx((math.exp(mean - half), math.exp(mean + half)))
  assert (c.faster, c.slower, c.sign_test_p) == (5, 0, pytest.approx(0.0625))
  text = "\n".join(paired.render_markdown([c], "s"))
  assert "| gnn | a | 5 | 5 / 0 / 0 | 0.062 |" in text and "sign test" in text

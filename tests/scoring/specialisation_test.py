"""Expert × domain specialisation measures, the heatmap and the report section (hand examples)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from algoperf_lab.scoring import report
from tests.scoring import factories
from workloads.lm import mixture
from algoperf_lab.scoring import specialisation as sp

# Layer 0: two experts, two domains, 3:1 and 1:3. p(e, d) = [[3, 1], [1, 3]] / 8, p(e) = p(d) = ½.
# I = ¾ ln(3/2) − ¼ ln 2 = 0.130812 nats; H(D) = ln 2, so NMI = 1 − H_b(¼) = 0.188722 (bits).
MIXED = [[[3, 1], [1, 3]]]


def test_independence_is_zero() -> None:
  # Every expert sees the domains in the same 1:2 ratio (and domain sizes differ).
  counts = [[[2, 4], [3, 6], [5, 10], [0, 0]]]
  assert sp.mutual_information(counts)[0] == pytest.approx(0.0, abs=1e-12)
  assert sp.normalised_mutual_information(counts)[0] == pytest.approx(0.0, abs=1e-12)


def test_perfect_specialisation_is_one_however_many_experts_per_domain() -> None:
  counts = [[[5, 0], [0, 3], [7, 0], [0, 1]]]  # experts 0, 2: domain 0; experts 1, 3: domain 1
  assert sp.normalised_mutual_information(counts)[0] == pytest.approx(1.0)
  # I = H(D) = −(12/16) ln(12/16) − (4/16) ln(4/16)
  assert sp.mutual_information(counts)[0] == pytest.approx(-0.75 * math.log(0.75)
                                                           - 0.25 * math.log(0.25))


def test_intermediate_cases_by_hand() -> None:
  assert sp.mutual_information(MIXED)[0] == pytest.approx(0.130812, abs=1e-6)
  assert sp.normalised_mutual_information(MIXED)[0] == pytest.approx(0.188722, abs=1e-6)
  # Three experts: two each own a domain, the third takes both equally. p(e, d) =
  # [[¼, 0], [0, ¼], [¼, ¼]], p(e) = [¼, ¼, ½]: I = 2·¼·ln 2 + 2·¼·ln 1 = ½ ln 2 = ½ H(D).
  assert sp.normalised_mutual_information([[[2, 0], [0, 2], [2, 2]]])[0] == pytest.approx(0.5)


def test_layers_are_measured_apart_and_scale_does_not_matter() -> None:
  counts = np.array([[[3, 1], [1, 3]], [[1, 0], [0, 1]], [[1, 1], [1, 1]]]) * 1000
  np.testing.assert_allclose(sp.normalised_mutual_information(counts), [0.188722, 1.0, 0.0],
                             atol=1e-6)


def test_a_layer_with_one_domain_has_no_nmi() -> None:
  nmi = sp.normalised_mutual_information([[[4, 0], [2, 0]], [[1, 0], [0, 1]]])
  assert math.isnan(nmi[0]) and nmi[1] == pytest.approx(1.0)


def test_shares_load_and_max_violation_by_hand() -> None:
  counts = [[[6, 0], [1, 1], [0, 0], [1, 1]]]
  np.testing.assert_allclose(sp.domain_shares(counts)[0],
                             [[0.75, 0.0], [0.125, 0.5], [0.0, 0.0], [0.125, 0.5]])
  np.testing.assert_allclose(sp.expert_load(counts)[0], [0.6, 0.2, 0.0, 0.2])
  assert sp.max_violation(counts)[0] == pytest.approx(0.6 * 4 - 1.0)
  assert sp.max_violation(MIXED)[0] == pytest.approx(0.0)


@pytest.mark.parametrize("bad", [[[1, 2], [3, 4]], [[[1, -1], [0, 1]]], [[[1, math.nan]]]])
def test_malformed_counts_are_refused(bad: object) -> None:
  with pytest.raises(ValueError, match="expert counts"):
    sp.normalised_mutual_information(bad)


# -- moe_counts.json -----------------------------------------------------------------------------
@pytest.mark.parametrize("stored", [
    MIXED,
    {"counts": MIXED, "step": 40, "domains": ["prose", "code"]},
    {"domains": ["prose", "code"], "evals": [{"step": 20, "counts": [[[1, 0], [0, 1]]]},
                                              {"step": 40, "counts": MIXED}]},
])
def test_read_counts_takes_the_latest_eval(tmp_path: Path, stored: object) -> None:
  (tmp_path / sp.COUNTS_FILE).write_text(json.dumps(stored))
  counts, domains, step = sp.read_counts(tmp_path)
  np.testing.assert_array_equal(counts, MIXED)
  if isinstance(stored, dict):
    assert domains == ("prose", "code") and step == 40
  else:
    assert domains == sp.DEFAULT_DOMAINS and step is None


def test_read_counts_without_a_usable_file(tmp_path: Path) -> None:
  assert sp.read_counts(tmp_path) is None
  (tmp_path / sp.COUNTS_FILE).write_text("{not json")
  assert sp.read_counts(tmp_path) is None
  (tmp_path / sp.COUNTS_FILE).write_text(json.dumps({"counts": [1, 2]}))
  assert sp.read_counts(tmp_path) is None


def _metrics_line(step: int, counts: list) -> dict:
  row = {"step": step, "validation/bits_per_byte": 3.0, "validation/moe/layer_0/max_vio": 0.5}
  for layer, per_expert in enumerate(counts):
    for expert, per_domain in enumerate(per_expert):
      for domain, value in enumerate(per_domain):
        row[f"validation/moe/layer_{layer}/count/e{expert}_d{domain}"] = value
  return row


def test_read_counts_from_the_workloads_eval_metrics(tmp_path: Path) -> None:
  two_layers = [[[1, 0], [0, 1], [0, 0]], [[5, 6], [7, 8], [9, 10]]]  # [2, 3, 2]
  lines = [_metrics_line(10, MIXED), _metrics_line(20, two_layers), {"step": 25, "x": 1.0}]
  (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
  counts, domains, step = sp.read_counts(tmp_path)
  assert step == 20 and domains == sp.DEFAULT_DOMAINS
  np.testing.assert_array_equal(counts, two_layers)
  (tmp_path / sp.COUNTS_FILE).write_text(json.dumps({"step": 30, "counts": MIXED}))
  assert sp.read_counts(tmp_path)[2] == 30  # a counts file, when written, is read first


def test_default_domains_are_the_mixtures() -> None:
  assert sp.DEFAULT_DOMAINS == mixture.DOMAINS
  assert [mixture.DOMAINS[d] for d in (mixture.AUSTEN, mixture.PYTHON)] == ["austen", "python"]


# -- the heatmap and report.md -------------------------------------------------------------------
def _png_size(path: Path) -> tuple[int, int]:
  data = path.read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n"
  return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_heatmap_has_a_panel_per_layer(tmp_path: Path) -> None:
  rng = np.random.default_rng(0)
  one = sp.plot_heatmap(rng.integers(0, 50, (1, 8, 2)), tmp_path / "one.png")
  four = sp.plot_heatmap(rng.integers(0, 50, (4, 8, 2)), tmp_path / "four.png", title="run")
  (w1, h1), (w4, h4) = _png_size(one), _png_size(four)
  assert w4 > 2 * w1 and h4 >= h1  # four panels beside one colour bar


def test_score_report_gains_a_specialisation_section_only_for_moe_runs(tmp_path: Path) -> None:
  runs = tmp_path / "runs"
  moe = factories.lab_run(runs, "moe", submission="adamw_global_lbl", workload="lm_moe",
                          times=[10.0, 20.0], losses=[3.0, 1.5])
  factories.lab_run(runs, "dense", submission="adamw", workload="lm", times=[10.0, 20.0],
                    losses=[3.0, 1.9])
  out = tmp_path / "report_without"
  report.score_directories([runs], out)
  assert "Expert specialisation" not in (out / report.REPORT_FILE).read_text()
  assert not list(out.glob("moe_specialisation_*.png"))

  with (moe / "metrics.jsonl").open("a") as metrics:  # as lm_moe's eval writes them
    metrics.write(json.dumps(_metrics_line(20, MIXED)) + "\n")
  out = tmp_path / "report_with"
  scored = report.score_directories([runs], out)
  text = (out / report.REPORT_FILE).read_text()
  assert "## Expert specialisation" in text
  assert "| adamw_global_lbl on lm_moe/tiny, study 0 | 20 | 0.189 | 0.189 | 0.00 |" in text
  assert "adamw on lm/tiny" not in text.split("## Expert specialisation")[1]
  assert "![adamw_global_lbl on lm_moe/tiny, study 0 expert × domain shares]" \
         "(moe_specialisation_0.png)" in text
  assert (out / "moe_specialisation_0.png") in scored.files
  _png_size(out / "moe_specialisation_0.png")

"""README figures that come from committed benchmark outputs are re-read from them."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO_ROOT

SAM_COST_GNN = REPO_ROOT / "results" / "benchmarks" / "sam_cost_gnn_2026-12-05.txt"


def _ratios(text: str) -> dict[str, tuple[float, float]]:
  return {m.group(1): (float(m.group(2)), float(m.group(3))) for m in re.finditer(
      r"^(\w+) / adamw step time: ([\d.]+) \(medians\), ([\d.]+) \(fastest blocks\)$", text,
      flags=re.M)}


def test_the_readme_step_costs_on_gnn_are_the_committed_benchmark_output():
  ratios = _ratios(SAM_COST_GNN.read_text())
  assert set(ratios) == {"linear_scalarisation", "pcgrad", "cagrad", "sam", "sam_mtl",
                         "sam_mtl_cagrad"}
  readme = (REPO_ROOT / "README.md").read_text()
  assert f"linear scalarisation **{ratios['linear_scalarisation'][0]:.2f}**" in readme
  for name, label in (("sam", "SAM"), ("pcgrad", "PCGrad"), ("cagrad", "CAGrad")):
    median, fastest = ratios[name]
    assert f"{label} {median:.2f} ({fastest:.2f})" in readme, name
  for name, label in (("sam_mtl", "SAM-MTL with PCGrad"), ("sam_mtl_cagrad", "with CAGrad")):
    median, fastest = ratios[name]
    assert f"{label} {median:.1f} ({fastest:.1f})" in readme, name
  reference = re.search(r"^adamw: median ([\d.]+) ms/step", SAM_COST_GNN.read_text(), re.M)
  assert f"AdamW {reference.group(1)} ms/step" in readme


NADAMW_STEP_GNN = REPO_ROOT / "results" / "benchmarks" / "nadamw_step_gnn_2026-12-06.txt"


def test_the_readme_nadamw_step_ratios_are_the_committed_benchmark_output():
  text = NADAMW_STEP_GNN.read_text()
  ratios = {(m.group(1), m.group(2)): float(m.group(3)) for m in re.finditer(
      r"^(nadamw_optax|nadamw) / adamw step time at dropout ([\d.]+): ([\d.]+) \(medians\)",
      text, flags=re.M)}
  readme = (REPO_ROOT / "README.md").read_text()
  assert f"optax-form NadamW **{ratios[('nadamw_optax', '0')]:.2f}**" in readme
  assert f"AlgoPerf-form **{ratios[('nadamw', '0')]:.2f}**" in readme
  assert f"{ratios[('nadamw_optax', '0.1')]:.2f} and {ratios[('nadamw', '0.1')]:.2f}" in readme
  for rate in ("0", "0.1"):
    reference = re.search(rf"^adamw dropout {rate}: median ([\d.]+) ms/step", text, re.M)
    assert f"AdamW {reference.group(1)} ms/step" in readme


SWEEP_THROUGHPUT = [REPO_ROOT / "results" / "benchmarks" / "sweep_throughput_8trials_gnn_2026-12-06.txt"]


@pytest.mark.parametrize("output", SWEEP_THROUGHPUT, ids=lambda p: p.name)
def test_the_readme_sweep_throughput_is_the_committed_benchmark_output(output):
  text = output.read_text()
  rows = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in re.finditer(
      r"^\| ([^|]+?) \| ([\d.]+) \| \d+ \| ([\d.]+) \|$", text, re.M)}
  local = rows["local"][0]
  for name, (seconds, ratio) in rows.items():
    assert abs(local / seconds - ratio) < 0.006, name  # the ratio is the same run's
  readme = (REPO_ROOT / "README.md").read_text()
  for name, (seconds, ratio) in rows.items():
    assert f"| {name} | {seconds:.1f} | {ratio:.2f} |" in readme, name
  efficiency = re.search(r"ray scaling efficiency \(2 nodes vs 1\): ([\d.]+)", text)
  if efficiency:
    one, two = rows["ray (1 node(s) x 1 CPU)"][0], rows["ray (2 node(s) x 1 CPU)"][0]
    assert abs(one / (2 * two) - float(efficiency.group(1))) < 0.001
    assert f"**Ray scaling efficiency {float(efficiency.group(1)):.2f}**" in readme
  overhead = re.search(r"ray per-trial overhead against processes \(1 x 1 thread\): ([-+\d.]+) s", text)
  if overhead:
    value = f"{float(overhead.group(1)):.1f}".replace("-", "−")  # the README's minus sign
    assert f"**Ray per-trial overhead {value} s**" in readme


EVAL_RESOLUTION = REPO_ROOT / "results" / "benchmarks" / "eval_resolution_2026-12-06.txt"


def test_the_readme_eval_resolution_costs_are_the_committed_benchmark_output():
  rows = {}
  for m in re.finditer(r"^\| (\w+) \| every (\d+)% of the budget \| (\d+) \| ([\d.]+) \| "
                       r"([\d.]+) \| ([\d.]+)", EVAL_RESOLUTION.read_text(), flags=re.M):
    rows[(m.group(1), m.group(2))] = (float(m.group(4)), float(m.group(5)), float(m.group(6)))
  assert set(rows) == {(w, c) for w in ("gnn", "vit", "lm") for c in ("2", "10")}
  readme = (REPO_ROOT / "README.md").read_text()
  for workload in ("gnn", "vit", "lm"):
    wall, evals, ratio = rows[(workload, "2")]
    assert ratio == pytest.approx(wall / rows[(workload, "10")][0], abs=0.01)
    assert f"**{ratio:.2f}×** on {workload}" in readme or f"**{ratio:.2f}×** the wall" in readme
    assert f"{evals} of {wall} s on {workload}" in readme

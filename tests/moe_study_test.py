"""scripts/moe_study.py's reading of run records: time to target, the table, the heatmaps.

The runs themselves are exercised by tests/readme_test.py (the README's command, a few steps).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

MIXED = [[[3, 1], [1, 3]]]  # NMI 1 − H_b(¼) = 0.1887; load balanced: MaxVio 0


def _script():
  spec = importlib.util.spec_from_file_location("moe_study", REPO_ROOT / "scripts" / "moe_study.py")
  module = importlib.util.module_from_spec(spec)
  sys.modules["moe_study"] = module  # its dataclass looks its module up by name
  spec.loader.exec_module(module)
  return module


def _run(root: Path, balance: str, seed: int, evals: list[tuple[float, float]],
         counts: list | None = None, budget: float = 100.0) -> Path:
  """A finished lm_moe run record with evals (submission seconds, validation bits/byte)."""
  run_dir = root / "runs" / balance / f"seed_{seed}"
  run_dir.mkdir(parents=True)
  result = {"status": "missed", "steps": 10 * len(evals), "target_metric":
            "validation/bits_per_byte", "target_value": 3.0, "target_direction": "lower",
            "max_allowed_runtime_sec": 100 * budget,
            "workload_config": {"targets": {"max_allowed_runtime_sec": budget}}}
  (run_dir / "result.json").write_text(json.dumps(result))
  lines = []
  for i, (time_sec, bits) in enumerate(evals):
    line = {"step": 10 * (i + 1), "submission_time_sec": time_sec,
            "validation/bits_per_byte": bits}
    if counts is not None:
      line.update({f"validation/moe/layer_{l}/count/e{e}_d{d}": v
                   for l, per_e in enumerate(counts) for e, per_d in enumerate(per_e)
                   for d, v in enumerate(per_d)})
    lines.append(json.dumps(line))
  (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
  return run_dir


def test_time_to_target_is_the_first_eval_within_the_budget(tmp_path: Path) -> None:
  script = _script()
  reached = script.summarise(_run(tmp_path, "none", 0, [(5.0, 3.5), (9.0, 2.9), (12.0, 2.8)]),
                             "none", 0)
  assert reached.time_to_target_sec == 9.0 and reached.bits_per_byte == 2.8 and reached.steps == 30
  late = script.summarise(_run(tmp_path, "none", 1, [(50.0, 3.5), (150.0, 2.9)]), "none", 1)
  assert math.isinf(late.time_to_target_sec)  # reached after the workload's 100 s budget
  assert late.counts_LxExD is None


def test_table_and_heatmaps(tmp_path: Path) -> None:
  script = _script()
  _run(tmp_path, "global_batch_lbl", 0, [(5.0, 3.5), (9.0, 2.9)], counts=MIXED)
  _run(tmp_path, "global_batch_lbl", 1, [(5.0, 3.5), (11.0, 2.7)], counts=MIXED)
  _run(tmp_path, "none", 0, [(5.0, 3.5), (9.0, 3.1)])
  text = script.report(tmp_path, ["none", "global_batch_lbl"], [0, 1])
  rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()
          if line.startswith("| ") and "---" not in line}
  assert rows["global_batch_lbl"] == (
      "| global_batch_lbl | 2 | 20 | 2.8000 ± 0.1414 | 10.0 (2/2) | 0.0000 ± 0.0000 | "
      "0.1887 ± 0.0000 | ![global_batch_lbl](heatmap_global_batch_lbl.png) |")
  assert rows["none"] == "| none | 1 | 20 | 3.1000 | miss (0/1) | n/a | n/a | n/a |"
  assert "validation/bits_per_byte <= 3.0" in text
  assert (tmp_path / "report" / "heatmap_global_batch_lbl.png").read_bytes()[:4] == b"\x89PNG"
  assert not (tmp_path / "report" / "heatmap_none.png").exists()
  assert (tmp_path / "report" / "moe_study.md").read_text() == text


def test_a_finished_run_is_reused_only_with_todays_options(tmp_path: Path) -> None:
  script = _script()
  run_dir = _run(tmp_path, "aux_loss_free", 0, [(5.0, 3.5)])
  result = json.loads((run_dir / "result.json").read_text())
  # The aux-free rule as measured in results/moe_study_tiny: softmax scores (no score_function).
  result["workload_options"] = {"balance": "aux_loss_free", "z_loss_coef": 0.001,
                                "bias_update_rate": 0.001}
  (run_dir / "result.json").write_text(json.dumps(result))
  with pytest.raises(SystemExit, match="use another --workdir to measure it again"):
    script.check_reusable(run_dir, "aux_loss_free", 10)
  result["workload_options"]["score_function"] = "sigmoid"
  (run_dir / "result.json").write_text(json.dumps(result))
  script.check_reusable(run_dir, "aux_loss_free", 10)
  with pytest.raises(SystemExit, match="ran 10 steps, not 20"):
    script.check_reusable(run_dir, "aux_loss_free", 20)


def test_unknown_balance_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
  with pytest.raises(SystemExit):
    _script().main([f"--workdir={tmp_path}", "--balances=none,per_token"])
  assert "per_token" in capsys.readouterr().err

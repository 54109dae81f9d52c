"""Issue 19: a --max_steps debug run in the scored tree is refused (one line naming it), not
pooled as a miss; `score --baseline` pairs studies by seed in report.md and scores.json."""

from __future__ import annotations

import json
import math

from algoperf_lab import cli
from tests.helpers import ADAMW, NADAMW, SMALL_LM_OVERRIDES
from tests.scoring.factories import lab_run


def _run(workdir, submission, *extra):
  return cli.main(["run", "--workload=lm", f"--submission={submission}", f"--workdir={workdir}",
                   "--eval_every_steps=2", "--no_progress", *extra, *SMALL_LM_OVERRIDES])


def test_a_capped_debug_run_in_the_tree_is_refused_by_path_not_scored_as_a_miss(tmp_path, capsys):
  runs = tmp_path / "runs"
  assert _run(runs / "adamw", ADAMW, "--max_runtime_sec=1") == 0
  assert _run(runs / "nadamw", NADAMW, "--max_runtime_sec=1") == 0
  assert _run(runs / "adamw_debug", ADAMW, "--max_steps=2") == 0
  assert json.loads((runs / "adamw_debug" / "result.json").read_text())["status"] == "capped"
  capsys.readouterr()
  assert cli.main(["score", str(runs), f"--out={tmp_path / 'scores'}"]) == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1
  assert "adamw_debug/result.json (capped run (stopped by max_steps at step 2" in err
  assert not (tmp_path / "scores").exists()
  # Scored apart on the explicit flag: the capped run is left out and its study marked.
  assert cli.main(["score", str(runs), f"--out={tmp_path / 'scores'}", "--allow_incomplete"]) == 0
  skipped = json.loads((tmp_path / "scores" / "scores.json").read_text())["skipped"]
  assert [s["path"].endswith("adamw_debug/result.json") for s in skipped] == [True]


def test_score_with_a_baseline_pairs_studies_by_seed(tmp_path):
  runs = tmp_path / "runs"
  for study in range(5):
    lab_run(runs, f"base_{study}", submission="base", study=study, seed=study,
            times=[10.0, 20.0, 30.0], losses=[3.0, 2.5, 1.9])
    faster = [10.0, 15.0 + study, 25.0]
    lab_run(runs, f"new_{study}", submission="new", study=study, seed=study,
            times=faster, losses=[3.0, 1.9, 1.8] if study < 4 else [3.0, 2.5, 2.4])
  assert cli.main(["score", str(runs), f"--out={tmp_path / 'out'}", "--baseline=base"]) == 0
  scores = json.loads((tmp_path / "out" / "scores.json").read_text())
  (paired,) = scores["paired_comparisons"]
  assert paired["submission"] == "new" and paired["pairs"] == 5
  assert (paired["faster"], paired["slower"], paired["ties"]) == (4, 1, 0)
  assert math.isclose(paired["sign_test_p"], 2 * 6 / 32)
  assert paired["time_ratio_geomean"] is None  # study 4 missed: no ratio
  report = (tmp_path / "out" / "report.md").read_text()
  assert "## Paired comparisons against `base`" in report
  assert "| lm/tiny | new | 5 | 4 / 1 / 0 | 0.375 | n/a (a miss) | n/a |" in report

"""The optax-form NadamW (baselines/nadamw_optax.py, the lab's one train step) gives the
AlgoPerf-form file's iterates (baselines/nadamw.py, its own jitted step) on the tiny LM, with
the same seed, dropout 0.1 included: the reference can move to the optax form without moving
any number."""

from __future__ import annotations

import json

import numpy as np

from algoperf_lab import runner
from algoperf_lab.harness.loop import RunSettings
from tests.helpers import NADAMW, REPO_ROOT, SMALL_LM_OVERRIDES

NADAMW_OPTAX = str(REPO_ROOT / "submissions" / "baselines" / "nadamw_optax.py")
STEPS = 8


def _evals(tmp_path, submission: str) -> list[dict]:
  workdir = tmp_path / submission.split("/")[-1]
  runner.run(runner.RunRequest(
      workload="lm", size="tiny", submission=submission, workdir=workdir,
      config_overrides=(*SMALL_LM_OVERRIDES, "--config.targets.validation=0.0"),
      settings=RunSettings(seed=3, max_steps=STEPS, eval_every_steps=2, progress=False,
                           checkpoint_every_sec=None)))
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_both_forms_give_the_same_metrics_at_every_eval(tmp_path):
  algoperf_form, optax_form = _evals(tmp_path, NADAMW), _evals(tmp_path, NADAMW_OPTAX)
  assert [e["step"] for e in algoperf_form] == [e["step"] for e in optax_form] == [2, 4, 6, 8]
  for key in ("train/loss", "validation/loss", "validation/bits_per_byte"):
    np.testing.assert_allclose([e[key] for e in optax_form], [e[key] for e in algoperf_form],
                               rtol=1e-5, err_msg=key)
  assert algoperf_form[-1]["train/loss"] < algoperf_form[0]["train/loss"]  # it trains

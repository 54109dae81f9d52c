"""`algoperf-lab demo`: every tiny workload × NadamW and AdamW, then scored.

The embedded default of the README's first command: it shows the whole lab working (runs,
records, scoring, report) in minutes on a CPU. Each baseline runs with the configuration its
tuning found when the tiny targets were set (the best trial recorded in
results/target_setting_tiny/targets.json), since the targets are set by tuned baselines and
their defaults miss them; a workload without such a record runs the submission's defaults
under the self-tuning ruleset.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import json

from algoperf_lab import registry
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.scoring import ScoreReport, format_score_table, score_directories
from algoperf_lab.sweeps.engine import run_sweep
from algoperf_lab.sweeps.executors import Executor, LocalExecutor
from algoperf_lab.sweeps.fixed_runs import fixed_run_spec
from algoperf_lab.tuning.study import Ruleset, TuneRequest, tuning_specs

SUBMISSIONS_ROOT = Path(__file__).resolve().parent.parent / "submissions"
DEMO_SUBMISSIONS = ("baselines/nadamw_optax.py", "baselines/adamw.py")
DEMO_SIZE = "tiny"
TARGET_SETTING = SUBMISSIONS_ROOT.parent / "results" / "target_setting_tiny"


@dataclasses.dataclass(frozen=True)
class DemoRequest:
  workdir: Path
  submissions: tuple[str, ...] = tuple(str(SUBMISSIONS_ROOT / s) for s in DEMO_SUBMISSIONS)
  workloads: tuple[str, ...] | None = None  # None: every registered workload with a tiny size
  seed: int = 0
  config_overrides: tuple[str, ...] = ()
  progress: bool = True
  baseline: str = "nadamw_optax"
  target_setting: Path = TARGET_SETTING  # where the tuned configurations are read
  clock: str = "auto"
  executor: Executor | None = None  # None: this process, one run at a time
  rerun_hint: str = ""


class DemoStopped(RuntimeError):
  """The demo was stopped (SIGTERM) or some runs did not finish; rerunning goes on."""


# Left out of the default demo, which should take at most 5 minutes on a 2-core CPU
# (`--workloads=...` runs them): an lm_moe tiny run takes ~13 min of wall time (the blocked
# grouped matmul); a vit run spends more wall time in its 50 evals than in training (a tuned
# NadamW run reached the target at 77 CPU s in 200 s of wall time; with vit the demo took
# 10 min 21 s, 2026-12-06).
NOT_IN_DEFAULT_DEMO = ("lm_moe", "vit")


def demo_workloads() -> tuple[str, ...]:
  """Every registered base workload (not the held-out variants) that has a tiny size, but
  those too slow for a demo on a CPU (NOT_IN_DEFAULT_DEMO)."""
  return tuple(name for name, cls in registry.workload_classes().items()
               if DEMO_SIZE in cls.sizes  # type: ignore[attr-defined]
               and getattr(cls, "base_workload", None) is None
               and name not in NOT_IN_DEFAULT_DEMO)


def tuned_hparams(target_setting: Path, workload: str, submission: str) -> dict | None:
  """The hyperparameters of `submission`'s best tuning trial when `workload`'s targets were
  set (None when the target setting has no such record)."""
  try:
    targets = json.loads((target_setting / "targets.json").read_text())
    trial = targets["workloads"][workload]["baselines"][submission]["best_trial"]
    return dict(json.loads((target_setting / trial / "result.json").read_text())["hparams"])
  except (OSError, KeyError, TypeError, json.JSONDecodeError):
    return None


def run_demo(request: DemoRequest, report: Callable[[str], None] = print) -> ScoreReport:
  """Runs each (workload, submission) pair as a one-study self-tuning run, then scores them."""
  workloads: Sequence[str] = request.workloads or demo_workloads()
  runs_dir = request.workdir / "runs"
  started = time.perf_counter()
  pairs = [(w, s) for w in workloads for s in request.submissions]
  specs = []
  for workload, submission in pairs:
    name = Path(submission).stem
    settings = RunSettings(progress=request.progress, clock=request.clock)
    tuned = tuned_hparams(request.target_setting, workload, name)
    if tuned is None:
      _, workload_specs = tuning_specs(TuneRequest(
          workload=workload, size=DEMO_SIZE, submission=submission,
          workdir=runs_dir / name / f"{workload}_{DEMO_SIZE}", ruleset=Ruleset.SELF,
          seed=request.seed, config_overrides=request.config_overrides, settings=settings))
    else:
      workload_specs = [fixed_run_spec(
          workload=workload, size=DEMO_SIZE, submission=submission, seed=request.seed,
          workdir=runs_dir / name / f"{workload}_{DEMO_SIZE}_tuned",
          config_overrides=request.config_overrides, settings=settings, hparams=tuned)]
    specs += [dataclasses.replace(spec, label=f"[{len(specs) + i + 1}/{len(pairs)}] {name} on "
                                  f"{workload}/{DEMO_SIZE}")
              for i, spec in enumerate(workload_specs)]
  outcome = run_sweep(specs, request.executor or LocalExecutor(lambda line: report(f"  {line}")),
                      report=report, rerun_hint=request.rerun_hint)
  if outcome.stopped or outcome.left:
    raise DemoStopped("the demo stopped before every run finished; run the same command again "
                      "to go on (finished runs are reused).")
  scores = score_directories([runs_dir], request.workdir / "report", baseline=request.baseline)
  report("")
  report(format_score_table(scores))
  report(f"\nreport: {request.workdir / 'report' / 'report.md'} "
         f"(plots beside it); demo took {time.perf_counter() - started:.0f}s")
  return scores

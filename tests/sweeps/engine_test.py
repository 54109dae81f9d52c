"""The sweep engine's retry rules with a scripted executor: a preempted trial is resubmitted
without limit, a lost one up to the limit, a failed or refused one never; the end table and
the rerun command; spec hashes."""

from __future__ import annotations

import collections
import dataclasses

from algoperf_lab.sweeps import engine
from algoperf_lab.sweeps.pace import Pace
from algoperf_lab.sweeps.spec import TrialSpec, spec_hash
from algoperf_lab.sweeps.worker import TrialResult


def _spec(trial: int, **changes) -> TrialSpec:
  base = dict(workload="gnn", size="tiny", submission="submissions/baselines/adamw.py",
              hparams={"learning_rate": 1e-3}, seed=trial, ruleset="external", study=0,
              trial=trial, workdir=f"/tmp/sweep/study_0/trial_{trial}",
              settings={"max_steps": 10, "progress": True}, label=f"study 0 trial {trial}")
  return TrialSpec(**{**base, **changes})


class ScriptedExecutor:
  """Each trial ends with the next status of its script (the last one repeats)."""

  name = "scripted"
  capacity = 2

  def __init__(self, scripts: dict[int, list[str]]):
    self.scripts = {k: collections.deque(v) for k, v in scripts.items()}
    self.submitted: list[int] = []
    self.pending: list[TrialSpec] = []

  def submit(self, spec: TrialSpec) -> None:
    self.submitted.append(spec.trial)
    self.pending.append(spec)

  def poll(self, timeout_sec: float) -> list[TrialResult]:
    done, self.pending = self.pending, []
    results = []
    for spec in done:
      script = self.scripts[spec.trial]
      status = script.popleft() if len(script) > 1 else script[0]
      results.append(TrialResult(spec, status, detail="worker died" if status == "lost" else ""))
    return results

  def cancel(self) -> list[TrialResult]:
    return []


def test_preempted_is_resubmitted_lost_retried_to_the_limit_failed_and_refused_never():
  executor = ScriptedExecutor({0: ["preempted", "preempted", "reached"], 1: ["lost", "missed"],
                               2: ["lost"], 3: ["failed"], 4: ["refused"]})
  lines: list[str] = []
  outcome = engine.run_sweep([_spec(t) for t in range(5)], executor, report=lines.append,
                             rerun_hint="algoperf-lab tune ...", max_lost_retries=2)
  assert collections.Counter(executor.submitted) == {0: 3, 1: 2, 2: 3, 3: 1, 4: 1}
  statuses = {r.spec.trial: r.status for r in outcome.results}
  assert statuses == {0: "reached", 1: "missed", 2: "lost", 3: "failed", 4: "refused"}
  assert [s.trial for s in outcome.left] == [2]  # lost after its retries: run it again
  assert "sweep: 2 done (1 reached, 1 missed), 1 failed, 1 refused, 1 lost, 1 left" in lines
  assert lines[-1] == "run the same command again to run only what is left: algoperf-lab tune ..."
  assert any("study 0 trial 2: worker died; resubmitted (2 of 2)" in line for line in lines)


def test_the_hash_covers_what_changes_a_result_and_nothing_else():
  spec = _spec(0)
  assert spec_hash(spec) == spec_hash(_spec(0, workdir="/elsewhere", label="other"))
  assert spec_hash(spec) == spec_hash(dataclasses.replace(
      spec, settings={"max_steps": 10, "progress": False, "data_dir": "/data"}))
  assert spec_hash(spec) != spec_hash(_spec(0, hparams={"learning_rate": 2e-3}))
  assert spec_hash(spec) != spec_hash(_spec(0, settings={"max_steps": 11, "progress": True}))
  assert spec_hash(spec) != spec_hash(_spec(0, config_overrides=("--config.batch_size=8",)))
  assert TrialSpec.from_json(spec.to_json()) == spec


def test_a_folder_holding_another_trials_spec_is_refused_and_left_as_it_was(tmp_path):
  import pytest

  from algoperf_lab.sweeps.spec import write_spec
  from algoperf_lab.sweeps.worker import run_trial
  from algoperf_lab.tuning.study import TuningError

  run_dir = tmp_path / "study_0" / "trial_0"
  held = _spec(0, workdir=str(run_dir), workload="lm")
  write_spec(held, run_dir / "spec.json")
  before = (run_dir / "spec.json").read_text()
  other = dataclasses.replace(held, hparams={"learning_rate": 5e-3})
  with pytest.raises(TuningError, match="holds trial .* not this one"):
    run_trial(other, report=lambda line: None)
  assert sorted(p.name for p in run_dir.iterdir()) == ["spec.json"]
  assert (run_dir / "spec.json").read_text() == before


def test_the_end_line_counts_only_finished_runs_and_names_the_rest():
  a, b, c, d = (_spec(t) for t in range(4))
  outcome = engine.SweepOutcome(
      results=(TrialResult(a, "reached", 3.0), TrialResult(b, "missed"),
               TrialResult(c, "preempted")),
      left=(c, d), stopped=True)
  assert outcome.finished_line(5) == "2 of 5 runs finished (1 preempted, 2 left)"
  done = engine.SweepOutcome(results=(TrialResult(a, "diverged"),), left=(), stopped=False)
  assert done.finished_line(1) == "1 of 1 runs finished"


def test_the_time_left_follows_the_pace_per_second_of_budget():
  """A board mixes short and long trials: after a 60 s-budget trial took 2 minutes, two
  420 s-budget trials left take 14 minutes each, 28 at one side by side (a count of trials would
  say 4); a running trial is counted by what its expected time has left."""
  short, long_a, long_b = (_spec(0, budget_sec=60.0), _spec(1, budget_sec=420.0),
                           _spec(2, budget_sec=420.0))
  pace = Pace(capacity=1)
  assert pace.minutes_left([long_a, long_b], {}, now=0.0) is None  # nothing ended yet
  pace.start("short", 0.0)
  pace.end("short", short, 120.0)
  assert pace.minutes_left([long_a, long_b], {}, now=120.0) == 28.0
  pace.start("a", 120.0)
  assert pace.minutes_left([long_b], {"a": long_a}, now=120.0 + 4 * 60) == 24.0
  assert pace.minutes_left([], {"a": long_a}, now=120.0 + 20 * 60) == 0.0  # overdue: not negative
  two_wide = Pace(capacity=2)
  two_wide.start("short", 0.0)
  two_wide.end("short", short, 120.0)
  assert two_wide.minutes_left([long_a, long_b], {}, now=120.0) == 14.0
  # Each workload at its own pace once one of its trials has ended: an lm trial took 3 wall
  # seconds per budgeted second; gnn's pace stays 2.
  lm = _spec(5, workload="lm", budget_sec=100.0)
  two_wide.start("lm", 0.0)
  two_wide.end("lm", lm, 300.0)
  assert two_wide.expected_wall_sec(_spec(6, workload="lm", budget_sec=200.0)) == 600.0
  assert two_wide.expected_wall_sec(long_a) == 840.0
  assert two_wide.expected_wall_sec(_spec(7, workload="vit", budget_sec=100.0)) == (
      420.0 / 160.0 * 100.0)  # no vit trial has ended: the sweep's pace
  unknown = Pace(capacity=1)
  for key, end in (("x", 200.0), ("y", 400.0)):
    unknown.start(key, 0.0)
    unknown.end(key, _spec(3), end)
  assert unknown.minutes_left([_spec(3), _spec(4)], {}, now=0.0) == 10.0  # budgets unknown: the mean
  assert engine._progress(3, {}, 1, 28.0) == "[sweep] 0/3 ended, 1 running, 0 failed, about 28 min left"  # pylint: disable=protected-access


def test_sigusr1_drains_the_sweep_the_running_trials_finish_and_nothing_new_starts():
  import os
  import signal

  class DrainedAfterTheFirst(ScriptedExecutor):
    def submit(self, spec: TrialSpec) -> None:
      super().submit(spec)
      if spec.trial == 0:
        os.kill(os.getpid(), signal.SIGUSR1)

  executor = DrainedAfterTheFirst({t: ["missed"] for t in range(4)})
  lines: list[str] = []
  before = signal.getsignal(signal.SIGUSR1)
  outcome = engine.run_sweep([_spec(t) for t in range(4)], executor, report=lines.append,
                             rerun_hint="algoperf-lab study ...")
  assert executor.submitted == [0]
  assert [(r.spec.trial, r.status) for r in outcome.results] == [(0, "missed")]
  assert [s.trial for s in outcome.left] == [1, 2, 3] and outcome.stopped
  assert lines[0] == "draining (SIGUSR1): nothing new starts; the 1 running trial(s) finish first"
  assert lines[-2:] == ["sweep: 1 done (1 missed), 3 left",
                        "run the same command again to run only what is left: "
                        "algoperf-lab study ..."]
  assert signal.getsignal(signal.SIGUSR1) == before  # the handler is put back


def test_the_same_trial_twice_in_one_sweep_is_refused_before_anything_runs():
  """Two specs that differ only in the folder are one trial to the engine (it tracks trials by
  spec hash): running both ended the sweep when the first ended and left the second's worker
  unsupervised. Refused, naming both folders; nothing is submitted."""
  import pytest

  executor = ScriptedExecutor({0: ["reached"], 1: ["reached"]})
  copy = _spec(0, workdir="/tmp/elsewhere/trial_0", label="a copy")
  with pytest.raises(engine.DuplicateTrialError) as error:
    engine.run_sweep([_spec(0), _spec(1), copy], executor, report=lambda line: None)
  assert "/tmp/sweep/study_0/trial_0 and /tmp/elsewhere/trial_0" in str(error.value)
  assert "another seed" in str(error.value)
  assert executor.submitted == []
  outcome = engine.run_sweep([_spec(0), _spec(1), _spec(0, seed=7, workdir="/tmp/s7")],
                             executor, report=lambda line: None)
  assert len(outcome.results) == 3  # another seed is another trial

"""Tuning studies: layout, determinism of trial draws, skip/redo, errors, self-tuning budget."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from algoperf_lab import loader
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.tuning import study
from algoperf_lab.tuning.search_space import SearchSpaceError
from algoperf_lab.tuning.study import Ruleset, TuneRequest
from tests.helpers import ADAMW, NADAMW, REPO_ROOT, SMALL_LM_OVERRIDES

NADAMW_SPACE = str(REPO_ROOT / "configs" / "search_spaces" / "nadamw.json")
FAST = RunSettings(max_steps=2, eval_every_steps=2, progress=False)


def _request(tmp_path: Path, **changes) -> TuneRequest:
  base = dict(workload="lm", size="tiny", submission=NADAMW, workdir=tmp_path / "tune",
              ruleset=Ruleset.EXTERNAL, num_studies=2, num_trials=2, search_space=NADAMW_SPACE,
              config_overrides=SMALL_LM_OVERRIDES, settings=FAST)
  return TuneRequest(**{**base, **changes})


def test_plan_is_deterministic_and_a_single_trial_matches_the_full_plan(tmp_path):
  submission = loader.load_submission(NADAMW)
  full = study.plan_trials(_request(tmp_path), submission)
  assert [(p.study, p.trial) for p in full] == [(0, 0), (0, 1), (1, 0), (1, 1)]
  assert full == study.plan_trials(_request(tmp_path), submission)
  (alone,) = study.plan_trials(_request(tmp_path, only_study=1, only_trial=0), submission)
  assert alone == full[2]
  assert alone.workdir == tmp_path / "tune" / "study_1" / "trial_0"
  assert len({p.seed for p in full}) == 4
  assert full[0].hparams != full[1].hparams  # different Halton points
  assert 2e-4 <= full[0].hparams["learning_rate"] <= 1e-2
  other_seed = study.plan_trials(_request(tmp_path, seed=5), submission)
  assert other_seed[0].hparams != full[0].hparams


def test_tuning_writes_records_skips_finished_and_redoes_unfinished(tmp_path):
  lines: list[str] = []
  request = _request(tmp_path, num_studies=1)
  outcomes = study.run_tuning(request, report=lines.append)
  assert [o.skipped for o in outcomes] == [False, False]
  for trial in (0, 1):
    record = json.loads((tmp_path / "tune" / "study_0" / f"trial_{trial}" / "result.json").read_text())
    assert record["ruleset"] == "external" and record["study"] == 0 and record["trial"] == trial
  # Mark trial 1 as killed mid-run: it is redone, trial 0 is skipped.
  result_1 = tmp_path / "tune" / "study_0" / "trial_1" / "result.json"
  record = json.loads(result_1.read_text())
  result_1.write_text(json.dumps({**record, "status": "running"}))
  lines.clear()
  outcomes = study.run_tuning(request, report=lines.append)
  assert [o.skipped for o in outcomes] == [True, False]
  assert "already finished" in lines[0] and "resumed from step" in lines[1]
  assert json.loads(result_1.read_text())["status"] == "capped"
  assert len((result_1.parent / "metrics.jsonl").read_text().splitlines()) == 1  # not mixed


def test_search_space_naming_unknown_hyperparameters_is_refused_before_training(tmp_path):
  space = tmp_path / "space.json"
  space.write_text(json.dumps({"learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
                               "momentum": {"feasible_points": [0.9]}}))
  with pytest.raises(SearchSpaceError, match="momentum"):
    study.run_tuning(_request(tmp_path, search_space=str(space)))
  assert not (tmp_path / "tune").exists()


@pytest.mark.parametrize("changes, message", [
    (dict(search_space=None), "needs --search_space"),
    (dict(ruleset=Ruleset.SELF), "takes no --search_space"),
    (dict(ruleset=Ruleset.SELF, search_space=None), "one trial per study"),
    (dict(only_study=2), "--study=2 is outside 0..1"),
    (dict(num_trials=0), "at least 1"),
])
def test_inconsistent_requests_are_refused(tmp_path, changes, message):
  with pytest.raises(study.TuningError, match=message):
    study.plan_trials(_request(tmp_path, **changes), loader.load_submission(NADAMW))


def test_self_tuning_uses_defaults_and_multiplies_the_budget(tmp_path):
  request = _request(tmp_path, submission=ADAMW, ruleset=Ruleset.SELF, search_space=None,
                     num_trials=1, num_studies=1, settings=dataclasses.replace(FAST, clock="wall"),
                     config_overrides=SMALL_LM_OVERRIDES + ("--config.targets.max_allowed_runtime_sec=40.0",))
  (outcome,) = study.run_tuning(request, report=lambda _: None)
  record = json.loads((outcome.plan.workdir / "result.json").read_text())
  assert record["ruleset"] == "self"
  assert record["max_allowed_runtime_sec"] == pytest.approx(60.0)
  assert record["hparams"] == dict(loader.load_submission(ADAMW).default_hparams)


def test_finished_trial_with_another_config_is_not_reused(tmp_path):
  request = _request(tmp_path, num_studies=1, num_trials=1)
  study.run_tuning(request, report=lambda _: None)
  changed = _request(tmp_path, num_studies=1, num_trials=1,
                     config_overrides=SMALL_LM_OVERRIDES + ("--config.batch_size=4",))
  with pytest.raises(study.TuningError, match="different workload config"):
    study.run_tuning(changed, report=lambda _: None)


def test_finished_trial_with_another_max_steps_is_not_reused(tmp_path):
  """Issue 13: a changed --max_steps used to skip the old trials as if they were this study's."""
  request = _request(tmp_path, num_studies=1, num_trials=1)
  study.run_tuning(request, report=lambda _: None)
  trial_file = tmp_path / "tune" / "study_0" / "trial_0" / study.TRIAL_FILE
  assert json.loads(trial_file.read_text())["max_steps"] == 2
  longer = _request(tmp_path, num_studies=1, num_trials=1,
                    settings=RunSettings(max_steps=4, eval_every_steps=2, progress=False))
  with pytest.raises(study.TuningError, match=r"max_steps \(was 2, now 4\)"):
    study.run_tuning(longer, report=lambda _: None)
  (again,) = study.run_tuning(request, report=lambda _: None)  # the same request still reuses it
  assert again.skipped


def test_trial_seeds_beyond_32_bits_are_refused(tmp_path):
  with pytest.raises(study.TuningError, match=r"\[0, 2\*\*32\)"):
    study.plan_trials(_request(tmp_path, seed=2**32 - 1), loader.load_submission(NADAMW))


def test_a_trial_folder_in_use_is_refused_with_the_holders_pid(tmp_path):
  import os

  from algoperf_lab.harness.workdir_lock import WorkdirLockedError, hold_workdir_lock

  request = _request(tmp_path, num_studies=1, num_trials=1)
  with hold_workdir_lock(study.trial_dir(tmp_path / "tune", 0, 0)):
    with pytest.raises(WorkdirLockedError, match=f"in use by process {os.getpid()}"):
      study.run_tuning(request, report=lambda _: None)
  assert not (tmp_path / "tune" / "study_0" / "trial_0" / "result.json").exists()


def test_a_preempted_trial_stops_the_study(tmp_path, monkeypatch):
  from algoperf_lab import runner
  from algoperf_lab.harness.loop import RunResult
  from algoperf_lab.harness.records import RunStatus

  started = []

  def preempted_run(request):
    started.append(request.trial)
    return RunResult(status=RunStatus.PREEMPTED, reached_target=False, time_to_target_sec=None,
                     steps=1, submission_time_sec=0.1, stop_reason="SIGTERM", eval_history=[])

  monkeypatch.setattr(runner, "run", preempted_run)
  outcomes = study.run_tuning(_request(tmp_path, num_trials=3), report=lambda line: None)
  assert started == [0] and [o.status for o in outcomes] == ["preempted"]


def test_a_finished_trial_its_history_contradicts_is_refused(tmp_path):
  """Issue 19: tune trusted a hand-edited result.json (status reached, 0.5 s) over its
  metrics.jsonl."""
  request = _request(tmp_path, num_studies=1, num_trials=1)
  study.run_tuning(request, report=lambda line: None)
  result = tmp_path / "tune" / "study_0" / "trial_0" / "result.json"
  record = json.loads(result.read_text())
  assert record["status"] == "capped"
  result.write_text(json.dumps({**record, "status": "reached", "reached_target": True,
                                "time_to_target_sec": 0.5}))
  with pytest.raises(study.TuningError, match="contradicts its own history"):
    study.run_tuning(request, report=lambda line: None)


def test_a_self_tuning_bar_names_its_one_and_a_half_budget(tmp_path, capsys):
  """Issue 20: the demo's bar showed 1.5x the budget `list` shows, unexplained."""
  request = _request(tmp_path, ruleset=Ruleset.SELF, search_space=None, num_studies=1,
                     num_trials=1, settings=RunSettings(eval_every_steps=2, progress=True),
                     config_overrides=(*SMALL_LM_OVERRIDES,
                                       "--config.targets.max_allowed_cpu_sec=1.0"))
  study.run_tuning(request, report=lambda line: None)
  err = capsys.readouterr().err
  assert "(self-tuning budget: 1.5x the workload's 1)" in err and "/2 CPU s submission time" in err

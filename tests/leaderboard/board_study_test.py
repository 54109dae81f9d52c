"""`algoperf-lab study` with a board study config: the leaderboard's sweep, end to end on
gnn/tiny with a few-second budget, then its page; and the config errors a user meets."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from algoperf_lab import cli
from algoperf_lab.config_files import read_get_config
from algoperf_lab.sweeps import board_study
from algoperf_lab.sweeps.spec import spec_hash
from algoperf_lab.sweeps.study_config import StudyConfigError
from tests.helpers import REPO_ROOT

SMOKE = REPO_ROOT / "tests" / "fixtures" / "leaderboard_smoke.py"
FAST = ["--config.data.max_molecules=1000", "--config.targets.max_allowed_cpu_sec=2.0",
        "--eval_every_steps=2", "--no_progress"]


@pytest.mark.slow  # ~2 min; the README's board-study and leaderboard commands run in the default set
def test_board_study_runs_each_board_resumes_and_builds_pages(tmp_path, capsys):
  work = tmp_path / "board"
  assert cli.main(["study", f"--study={SMOKE}", f"--workdir={work}", *FAST]) == 0
  out = capsys.readouterr().out
  assert "study leaderboard_smoke: 6 runs; each run compiles from scratch" in out
  assert f"algoperf-lab leaderboard {work / 'self_tuning'} --out={work / 'site' / 'self_tuning'}" in out
  for name in ("adamw", "nesterov"):
    for study in (0, 1):
      record = json.loads((work / "self_tuning" / "gnn" / name / f"study_{study}" / "trial_0"
                           / "result.json").read_text())
      assert record["ruleset"] == "self" and record["study"] == study
      assert record["max_allowed_runtime_sec"] == pytest.approx(3.0)  # 1.5 x the 2 s budget
      assert record["compilation_cache"] is False  # a board's runs each compile from scratch
  trials = sorted(p.name for p in (work / "external" / "gnn" / "adamw" / "study_0").iterdir())
  assert trials == ["trial_0", "trial_1"]
  hparams = [json.loads((work / "external" / "gnn" / "adamw" / "study_0" / t / "result.json")
                        .read_text())["hparams"] for t in trials]
  assert hparams[0] != hparams[1]  # drawn from the search space
  # A re-run runs nothing.
  assert cli.main(["study", f"--study={SMOKE}", f"--workdir={work}", *FAST]) == 0
  assert "already finished" in capsys.readouterr().out
  # Each board's page.
  site = work / "site" / "self_tuning"
  assert cli.main(["leaderboard", str(work / "self_tuning"), f"--out={site}",
                   "--bootstrap_samples=20"]) == 0
  data = json.loads((site / "leaderboard.json").read_text())
  assert set(data["clocks"]["time"]) == {"adamw", "nesterov"} and data["num_runs"] == 4
  assert all(r["command"].startswith("algoperf-lab run-trial --spec=")
             for r in data["submissions"]["adamw"]["runs"]["gnn/tiny"])


def test_the_bundled_leaderboard_study_is_every_cell():
  path = REPO_ROOT / "configs" / "studies" / "leaderboard_tiny.py"
  study = board_study.load_board_study(path, read_get_config(path, StudyConfigError, "", ""))
  boards = {b.name: b for b in study.boards}
  assert set(boards) == {"self_tuning", "multi_task", "moe", "external"}
  bundled = {p.stem for p in (REPO_ROOT / "submissions").glob("*/*.py")
             if p.stem != "__init__" and p.parent.name != "lib"}
  on_boards = {n for b in ("self_tuning", "multi_task", "moe") for n in boards[b].submissions}
  assert on_boards == bundled  # every bundled submission is on a self-tuning board
  assert {b: boards[b].baseline for b in boards} == {
      "self_tuning": "adamw", "multi_task": "linear_scalarisation", "moe": "adamw_none",
      "external": "adamw"}
  assert all(b.studies == 5 for n, b in boards.items() if n != "external")
  assert boards["external"].studies == 3 and boards["external"].trials == 5
  assert set(boards["external"].submissions) == {"adamw", "nadamw_optax", "sgd_momentum",
                                                 "nesterov", "lion", "muon"}
  # Every run pays its own compilation; the cache choice is not part of what a run computes,
  # so records made before the choice existed still count as the same trials.
  specs = board_study.board_specs(study, Path("board"), boards=("moe",))
  assert study.compilation_cache is False and not any(s.compilation_cache for s in specs)
  assert spec_hash(specs[0]) == spec_hash(dataclasses.replace(specs[0], compilation_cache=True))


@pytest.mark.parametrize("board, message", [
    ({"ruleset": "external", "workloads": ["gnn"],
      "submissions": {"adamw": "submissions/baselines/adamw.py"}},
     "the external ruleset needs a search space for ['adamw']"),
    ({"ruleset": "self", "trials": 3, "workloads": ["gnn"],
      "submissions": {"adamw": "submissions/baselines/adamw.py"}},
     "the self-tuning ruleset has one trial per study"),
    ({"ruleset": "tuned", "workloads": ["gnn"], "submissions": {}},
     "ruleset must be 'self' or 'external'"),
    ({"ruleset": "self", "workloads": ["gnn"], "submissions": {"x": "submissions/none.py"}},
     "no such file(s)"),
    ({"ruleset": "self", "workload": ["gnn"], "submissions": {}}, "unknown keys ['workload']"),
    ({"ruleset": "self", "workloads": ["gnn"], "baseline": "sgd",
      "submissions": {"adamw": "submissions/baselines/adamw.py"}},
     "baseline 'sgd' is not one of its submissions (adamw)"),
])
def test_bad_boards_are_one_clear_error(board, message):
  with pytest.raises(StudyConfigError, match=None) as error:
    board_study.load_board_study("my_study.py", {"name": "x", "boards": {"b": board}})
  assert message in str(error.value) and "board 'b'" in str(error.value)


def test_narrowing_to_what_the_study_lacks_is_refused(tmp_path, capsys):
  assert cli.main(["study", f"--study={SMOKE}", f"--workdir={tmp_path}", "--boards=moe"]) == 2
  assert "--boards: ['moe'] are not in study 'leaderboard_smoke'" in capsys.readouterr().err
  assert cli.main(["study", f"--study={SMOKE}", f"--workdir={tmp_path}", "--seeds=0,1"]) == 2
  assert "a board study's seeds follow from its studies" in capsys.readouterr().err


def test_the_sweep_runs_study_by_study_so_a_stopped_sweep_leaves_balanced_cells(tmp_path):
  path = REPO_ROOT / "configs" / "studies" / "leaderboard_tiny.py"
  study = board_study.load_board_study(path, read_get_config(path, StudyConfigError, "", ""))
  specs = board_study.board_specs(study, tmp_path, boards=("self_tuning", "external"))
  assert len(specs) == 450 + 270
  assert [s.study for s in specs] == sorted(s.study for s in specs)
  first = specs[:90 + 90]  # study 0: 90 self-tuning cells, 18 external cells x 5 trials
  assert {s.study for s in first} == {0}
  cells = {(Path(s.workdir).parts[-5], Path(s.workdir).parts[-4], Path(s.workdir).parts[-3])
           for s in first}
  assert len(cells) == 90 + 18


def test_a_spec_names_its_submission_from_the_working_directory(monkeypatch, tmp_path):
  """Run from the lab's root (as the README does), a spec names a bundled submission as
  submissions/...: the same text, so the same hash and a runnable spec, in a clone at any path
  (run folders are named from the working directory too); from elsewhere, absolute."""
  path = REPO_ROOT / "configs" / "studies" / "leaderboard_tiny.py"
  study = board_study.load_board_study(path, read_get_config(path, StudyConfigError, "", ""))
  monkeypatch.chdir(REPO_ROOT)
  spec = board_study.board_specs(study, Path("board"), boards=("moe",))[0]
  assert spec.submission == f"submissions/moe/{Path(spec.workdir).parts[-3]}.py"
  monkeypatch.chdir(tmp_path)
  elsewhere = board_study.board_specs(study, Path("board"), boards=("moe",))[0]
  assert elsewhere.submission == str(REPO_ROOT / spec.submission)
  assert spec_hash(elsewhere) != spec_hash(spec)


def test_a_board_study_takes_a_boolean_compilation_cache():
  board = {"ruleset": "self", "workloads": ["gnn"],
           "submissions": {"adamw": "submissions/baselines/adamw.py"}}
  cached = board_study.load_board_study("s.py", {"compilation_cache": True, "boards": {"b": board}})
  assert cached.compilation_cache is True
  assert all(s.compilation_cache for s in board_study.board_specs(cached, Path("w")))
  with pytest.raises(StudyConfigError, match="compilation_cache must be True or False, got 'no'"):
    board_study.load_board_study("s.py", {"compilation_cache": "no", "boards": {"b": board}})
  with pytest.raises(StudyConfigError, match="a board study has name, size, seed, "
                     "compilation_cache and boards"):
    board_study.load_board_study("s.py", {"cache": True, "boards": {"b": board}})


def test_within_a_study_the_trials_run_in_a_seeded_random_order(tmp_path):
  """Not in the config's list order (the first submissions would always run at the start of a
  round, the last at its end, under whatever drift the machine's speed has over hours), and the
  same order every time, so a resumed sweep runs what is left in the order the first one would."""
  path = REPO_ROOT / "configs" / "studies" / "leaderboard_tiny.py"
  study = board_study.load_board_study(path, read_get_config(path, StudyConfigError, "", ""))
  specs = board_study.board_specs(study, tmp_path, boards=("self_tuning",))
  again = board_study.board_specs(study, tmp_path, boards=("self_tuning",))
  assert [s.workdir for s in specs] == [s.workdir for s in again]
  study_0 = [s for s in specs if s.study == 0]
  listed = [(w, name) for w in ("lm", "vit", "gnn") for name in study.boards[
      [b.name for b in study.boards].index("self_tuning")].submissions]
  run = [(s.workload, Path(s.workdir).parts[-3]) for s in study_0]
  assert sorted(run) == sorted(listed) and run != listed
  adamw_lm = run.index(("lm", "adamw"))
  later = [s for s in specs if s.study == 1]
  assert [(s.workload, Path(s.workdir).parts[-3]) for s in later].index(("lm", "adamw")) != (
      adamw_lm)  # each study its own order

"""scripts/portable_specs.py rewrites old specs (absolute submission paths) as specs are made now,
and the committed board records already are: the bundled study makes their very hashes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from algoperf_lab.sweeps.spec import TrialSpec, read_spec, spec_hash, submitted_spec_path, write_spec
from tests.helpers import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "portable_specs.py"


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                        cwd=cwd, timeout=120)


def _old_spec(lab: Path) -> TrialSpec:
  return TrialSpec(workload="gnn", size="tiny", submission=str(lab / "submissions" / "a.py"),
                   hparams={"learning_rate": 1e-3}, seed=1, ruleset="self", study=0, trial=0,
                   workdir="board/gnn/a/study_0/trial_0")


def test_an_old_spec_is_named_from_the_lab_s_root_rehashed_and_renamed(tmp_path):
  old = _old_spec(tmp_path)
  (tmp_path / "board" / "gnn" / "a" / "study_0" / "trial_0").mkdir(parents=True)
  inside = tmp_path / old.workdir / "spec.json"
  write_spec(old, inside)
  submitted = write_spec(old, tmp_path / submitted_spec_path(old))
  record = tmp_path / old.workdir / "result.json"
  record.write_text('{"status": "missed"}\n')

  done = _run(tmp_path, "board")
  assert done.returncode == 0, done.stderr
  assert "2 spec(s) rewritten, 0 refused" in done.stderr
  new = read_spec(inside)
  assert new.submission == "submissions/a.py"
  assert json.loads(inside.read_text())["spec_hash"] == spec_hash(new) != spec_hash(old)
  assert not submitted.exists()
  assert read_spec(submitted.with_name(f"trial_0.{spec_hash(new)}.spec.json")) == new
  assert record.read_text() == '{"status": "missed"}\n'  # records untouched
  again = _run(tmp_path, "board")
  assert again.returncode == 0 and "0 spec(s) rewritten" in again.stderr


def test_a_spec_whose_hash_is_not_its_contents_is_refused_and_kept(tmp_path):
  old = _old_spec(tmp_path)
  path = tmp_path / "board" / "spec.json"
  write_spec(old, path)
  data = json.loads(path.read_text())
  data["seed"] = 2  # edited by hand: the stored hash no longer says what it holds
  path.write_text(json.dumps(data))
  before = path.read_text()
  done = _run(tmp_path, "board")
  assert done.returncode == 1 and "is not its contents'" in done.stderr
  assert path.read_text() == before
  assert _run(tmp_path, "nowhere").returncode == 2


def test_the_bundled_study_makes_the_committed_records_hashes(monkeypatch):
  """Run from the lab's root, `study` recognises every committed board run as finished by its
  spec.json's hash (no worker needed to re-check it), wherever the clone is."""
  from algoperf_lab.config_files import read_get_config
  from algoperf_lab.sweeps import board_study
  from algoperf_lab.sweeps.spec import SPEC_FILE
  from algoperf_lab.sweeps.study_config import StudyConfigError

  from configs import tiny_targets

  path = REPO_ROOT / "configs" / "studies" / "leaderboard_tiny.py"
  study = board_study.load_board_study(path, read_get_config(path, StudyConfigError, "", ""))
  monkeypatch.chdir(REPO_ROOT)
  # The board's specs as its machine makes them: its records' processor reads the reference
  # budgets (another processor's own budgets give other specs: tests/sweeps/board_hardware_test).
  monkeypatch.setattr(tiny_targets, "processor_model", lambda: "Intel(R) Xeon(R) Processor")
  specs = board_study.board_specs(study, Path("results") / "leaderboard_tiny")
  finished = [s for s in specs if (Path(s.workdir) / SPEC_FILE).is_file() and json.loads(
      (Path(s.workdir) / "result.json").read_text())["status"] in ("reached", "missed", "diverged")]
  stored = {s.workdir: json.loads((Path(s.workdir) / SPEC_FILE).read_text())["spec_hash"]
            for s in finished}
  assert len(stored) >= 55  # the finished moe and multi-task boards at least
  assert {s.workdir: spec_hash(s) for s in specs if s.workdir in stored} == stored

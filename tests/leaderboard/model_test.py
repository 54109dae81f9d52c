"""The leaderboard's numbers, on records the lab's harness made (committed under results/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from algoperf_lab import cli
from algoperf_lab.leaderboard import anytime, model, page, submission_info
from algoperf_lab.scoring.records import load_records, read_curve
from algoperf_lab.scoring.time_to_target import collect_studies, trial_time
from tests.helpers import REPO_ROOT

TABLE = REPO_ROOT / "results" / "submissions_table_2026-12-05"  # 4 submissions x 3 workloads
SEEDS = REPO_ROOT / "results" / "target_setting_tiny" / "gnn" / "seeds"  # 3 x 5 seeds


def _results(root: Path) -> list[dict]:
  return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


@pytest.mark.parametrize("root", [TABLE, SEEDS, REPO_ROOT / "results" / "target_setting_tiny" / "lm" / "tuning"])
def test_times_read_off_the_curves_are_the_records_own(root):
  records, _ = load_records([root])
  assert len(records) >= 5
  for record in records:
    run = anytime.RunCurve(record, read_curve(record.run_dir, record.target_metric))
    assert anytime.time_to(run, 1.0, 0.0) == trial_time(record), record.run_dir


@pytest.fixture(scope="module")
def table_board(tmp_path_factory) -> dict:
  return model.build([TABLE], tmp_path_factory.mktemp("board"), bootstrap_samples=200)


def test_the_full_budget_and_target_give_score_s_own_scores(table_board):
  scores = {name: row["score"] for name, row in table_board["clocks"]["time"].items()}
  assert table_board["anytime"]["by_budget"]["1.0"] == pytest.approx(scores)
  assert table_board["anytime"]["by_target"]["0.0"] == pytest.approx(scores)
  assert scores["muon"] > scores["nadamw"]  # muon's times are the lowest on lm and vit


def test_half_the_budget_counts_only_runs_within_it(table_board):
  """Recomputed from result.json alone: who reaches within half of its budget."""
  reached: dict[str, set[str]] = {}
  for result in _results(TABLE):
    if result["time_to_target_sec"] <= 0.5 * result["max_allowed_runtime_sec"]:
      reached.setdefault(result["workload"], set()).add(result["submission"])
  half = table_board["anytime"]["by_budget"]["0.5"]
  for name, score in half.items():
    only = sum(reached.get(w, set()) == {name} for w in ("gnn", "lm", "vit"))
    assert score == pytest.approx(only / 3), name  # a lone finisher has ratio 1 on its workload
  assert sum(score > 0 for score in half.values()) < len(half)  # the ranking differs from 100%


def test_a_looser_target_is_reached_no_later(table_board):
  records, _ = load_records([SEEDS])
  for record in records:
    run = anytime.RunCurve(record, read_curve(record.run_dir, record.target_metric))
    times = [anytime.time_to(run, 1.0, e) for e in anytime.TARGET_LOOSENINGS]
    assert times == sorted(times, reverse=True), record.run_dir
  assert anytime.loosened_target(2.0, "lower", 0.05) == pytest.approx(2.1)
  assert anytime.loosened_target(0.8, "higher", 0.05) == pytest.approx(0.76)


def test_intervals_need_five_studies_and_hold_the_median():
  assert model.median_interval([1.0, 2.0, 3.0, 4.0]) is None
  low, high = model.median_interval([1.0, 2.0, 3.0, 4.0, 5.0])
  assert low <= 3.0 <= high
  assert model.median_interval([math.inf] * 5) == (None, None)  # a miss has no finite end
  assert model.median_interval([1.0, math.inf, math.inf, math.inf, math.inf])[1] is None


def test_seed_board_has_intervals_curves_and_commands(tmp_path):
  board = model.build([SEEDS], tmp_path, bootstrap_samples=200)
  time = board["clocks"]["time"]
  assert set(time) == {"adamw", "nadamw_optax", "nesterov"}
  for row in time.values():
    assert row["min_studies"] == 5 and row["interval"] is not None
    assert row["workloads"]["gnn/tiny"]["n"] == 5
  assert time["nesterov"]["workloads"]["gnn/tiny"]["median"] is None  # missed every seed
  band = board["curves"]["gnn/tiny"]["submissions"]["adamw"]
  assert band["n"] == 5 and len(band["median"]) == len(board["curves"]["gnn/tiny"]["grid"])
  runs = board["submissions"]["adamw"]["runs"]["gnn/tiny"]
  assert len(runs) == 5 and all((tmp_path / r["record"] / "result.json").is_file() for r in runs)
  for run in runs:  # the sweep engine left each run's spec beside its record
    command, spec = run["command"].split("=", 1)
    assert command == "algoperf-lab run-trial --spec" and Path(spec).name == "spec.json"
    assert Path(spec).is_file()
  assert board["submissions"]["adamw"]["family"] == "baselines"
  assert "AdamW" in board["submissions"]["adamw"]["doc"]
  assert (tmp_path / "scores" / "steps" / "scores.json").is_file()


def test_the_command_writes_a_site_and_refuses_bad_input(tmp_path, capsys, monkeypatch):
  out = tmp_path / "site"
  assert cli.main(["leaderboard", str(TABLE), f"--out={out}", "--bootstrap_samples=50"]) == 0
  assert f"leaderboard: {out / 'index.html'}" in capsys.readouterr().out
  assert {p.name for p in out.iterdir()} >= {"index.html", "page.js", "page.css", "data.js",
                                             "plotly.min.js", "leaderboard.json", "scores"}
  data = json.loads((out / "leaderboard.json").read_text())
  assert (out / "data.js").read_text().startswith("window.LEADERBOARD = ")
  assert data["num_runs"] == 12
  assert cli.main(["leaderboard", str(tmp_path / "none"), f"--out={tmp_path / 'o'}"]) == 2
  assert "no such file or directory" in capsys.readouterr().err
  assert not (tmp_path / "o").exists()

  def no_plotly():
    raise page.PlotlyMissingError("the leaderboard page needs the plotly package")
  monkeypatch.setattr(page, "plotly_js", no_plotly)
  assert cli.main(["leaderboard", str(TABLE), f"--out={tmp_path / 'p'}"]) == 2
  assert "needs the plotly package" in capsys.readouterr().err


def test_a_run_without_a_spec_is_reproduced_by_a_run_command(tmp_path):
  source = SEEDS / "adamw" / "study_1" / "trial_0"
  copy = tmp_path / "trial_0"
  copy.mkdir()
  for name in ("result.json", "metrics.jsonl"):
    (copy / name).write_bytes((source / name).read_bytes())
  (record,), _ = load_records([copy])
  command = submission_info.reproduce_command(record, submission_info.raw_result(record))
  result = json.loads((source / "result.json").read_text())
  assert command.startswith("algoperf-lab run --workload=gnn --size=tiny ")
  assert f"--seed={result['seed']}" in command and f"--workdir={copy}" in command
  named = result["submission_path"]
  bundled = named[named.rindex("submissions/"):]
  assert f"--submission={bundled} " in command  # from the lab's root, wherever the record ran


def test_a_record_made_in_another_clone_finds_its_bundled_submission_here():
  """A record names the file of the clone that made it; a clone elsewhere finds the same
  bundled submission (family, docstring) by its part from submissions/ on."""
  here = submission_info.submission_file({"submission_path": "submissions/baselines/adamw.py"})
  moved = submission_info.submission_file(
      {"submission_path": "/elsewhere/lab/submissions/baselines/adamw.py"})
  assert here is not None and moved == here
  assert submission_info.family(moved) == "baselines"
  assert submission_info.shown_path(moved, {}) == "submissions/baselines/adamw.py"
  user = {"submission_path": "/elsewhere/my_submission.py"}
  assert submission_info.submission_file(user) is None  # not the lab's: named as recorded
  assert submission_info.shown_path(None, user) == "/elsewhere/my_submission.py"
  assert submission_info.submission_file(
      {"submission_path": "/elsewhere/submissions/no_such.py"}) is None


def test_another_clone_s_file_that_exists_names_this_lab_s_copy_only_if_the_same(tmp_path):
  other = tmp_path / "clone" / "submissions" / "baselines"
  other.mkdir(parents=True)
  ours = REPO_ROOT / "submissions" / "baselines" / "adamw.py"
  (other / "adamw.py").write_bytes(ours.read_bytes())
  found = submission_info.submission_file({"submission_path": str(other / "adamw.py")})
  assert found == ours.resolve()  # the same bytes: this lab's bundled submission
  (other / "adamw.py").write_text('"""My own AdamW."""\n')
  found = submission_info.submission_file({"submission_path": str(other / "adamw.py")})
  assert found == (other / "adamw.py").resolve()  # a user's own file of the same name
  assert submission_info.family(found) == "user"


def test_the_markdown_table_is_the_page_s_numbers(tmp_path):
  """table.md (the README's leaderboard table) says what leaderboard.json says."""
  from algoperf_lab.leaderboard import markdown

  board = model.build([SEEDS], tmp_path, bootstrap_samples=200)
  lines = markdown.leaderboard_table(board).splitlines()
  assert lines[0].startswith("| submission | family | form | score (time) | score (steps) |")
  assert lines[0].endswith(
      "| gnn/tiny: median time / steps (reached/n); a miss: best validation/mae |")
  rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:lines.index("")]}
  assert list(rows) == list(board["clocks"]["time"])  # ranked on the time clock
  adamw = board["clocks"]["time"]["adamw"]
  low, high = adamw["interval"]
  assert f"| {adamw['score']:.3f} [{low:.3f}, {high:.3f}] |" in rows["adamw"]
  cell = adamw["workloads"]["gnn/tiny"]
  steps = board["clocks"]["steps"]["adamw"]["workloads"]["gnn/tiny"]["median"]
  assert rows["adamw"].endswith(
      f"| {cell['median']:.1f} s / {steps:.0f} ({cell['reached']}/5) |")
  best = board["closest"]["gnn/tiny"]["nesterov"]  # a miss says how close its studies came
  assert rows["nesterov"].endswith(
      f"| miss (0/5), best {best['median']:#.4g} ({best['low']:#.4g}–{best['high']:#.4g}) |")
  assert best["median"] > board["curves"]["gnn/tiny"]["target"]  # MAE: lower is better
  results = _results(SEEDS)
  wall = sum(r["wall_time_sec"] for r in results) / 3600
  assert board["compute"]["runs"] == len(results) == 15
  assert board["compute"]["core_hours"] == pytest.approx(wall)  # one core per run
  assert lines[-1].startswith(f"15 runs, {wall:.1f} core-hours")
  loads = [r[k]["load_average"][0] for r in results for k in ("started", "ended")]
  assert board["compute"]["load_1min"] == [min(loads), max(loads)]
  assert f"(1-minute load average at run starts and ends {min(loads):.2f}–{max(loads):.2f})" in (
      lines[-1])
  # target-setting records made before records said how they compiled
  assert board["compute"]["compilation"] == {"from_scratch": 0, "cached": 0, "unrecorded": 15}
  assert "; compilation: 15 unrecorded, on: " in lines[-1]


def test_screenshots_without_a_browser_is_a_one_line_error_before_any_work(
    tmp_path, capsys, monkeypatch):
  from algoperf_lab.leaderboard import browser

  monkeypatch.setattr(browser, "missing", lambda: "no Chromium at /usr/bin/chromium")
  out = tmp_path / "site"
  assert cli.main(["leaderboard", str(TABLE), f"--out={out}",
                   f"--screenshots={tmp_path / 'shots'}"]) == 2
  assert "--screenshots: no Chromium at /usr/bin/chromium" in capsys.readouterr().err
  assert not out.exists()


def test_paired_comparisons_against_the_baseline_are_the_records(tmp_path):
  """--baseline: each submission against it study by study, on both clocks, from result.json."""
  board = model.build([SEEDS], tmp_path, bootstrap_samples=50, baseline="adamw")
  assert board["baseline"] == "adamw"
  by_study: dict[str, dict[int, dict]] = {}
  for result in _results(SEEDS):
    by_study.setdefault(result["submission"], {})[result["study"]] = result
  for clock, key in (("time", "time_to_target_sec"), ("steps", "steps_to_target")):
    rows = {c["submission"]: c for c in board["paired"][clock]}
    assert set(rows) == {"nadamw_optax", "nesterov"}
    for name, row in rows.items():
      def time(result):
        return result[key] if result["status"] == "reached" else math.inf
      pairs = [(time(by_study[name][k]), time(by_study["adamw"][k])) for k in by_study["adamw"]]
      assert row["pairs"] == len(pairs) == 5
      assert (row["faster"], row["slower"]) == (sum(a < b for a, b in pairs),
                                                sum(a > b for a, b in pairs)), (clock, name)
      if all(math.isfinite(a) for a, _ in pairs):
        ratio = math.exp(sum(math.log(a / b) for a, b in pairs) / 5)
        assert row["time_ratio_geomean"] == pytest.approx(ratio)
        low, high = row["time_ratio_ci95"]
        assert low < ratio < high
      else:
        assert row["time_ratio_geomean"] is None
  assert model.build([SEEDS], tmp_path / "none", bootstrap_samples=50)["paired"] == {
      "time": [], "steps": []}


def test_an_unknown_baseline_is_one_line_before_the_page(tmp_path, capsys):
  assert cli.main(["leaderboard", str(SEEDS), f"--out={tmp_path / 'site'}",
                   "--baseline=sgd"]) == 2
  err = capsys.readouterr().err
  assert "baseline 'sgd' is not among the scored submissions" in err
  assert not (tmp_path / "site" / "index.html").exists()


def test_the_table_line_says_how_the_runs_compiled():
  from algoperf_lab.leaderboard.markdown import _compilation

  assert _compilation({"from_scratch": 20, "cached": 0, "unrecorded": 0}) == (
      "; compilation: each run from scratch")
  assert _compilation({"from_scratch": 4, "cached": 16, "unrecorded": 1}) == (
      "; compilation: 4 from scratch, 16 with the persistent cache, 1 unrecorded")
  assert _compilation(None) == ""


# What a finished record adds to the one the harness writes when a run starts (loop.py: the
# header and {"status": "running"}).
END_FIELDS = ("reached_target", "time_to_target_sec", "steps_to_target", "steps",
              "submission_time_sec", "stop_reason", "num_evals", "wall_time_sec", "ended")


def test_a_running_record_is_a_marked_gap_and_a_cell_without_runs_says_so(tmp_path):
  """--allow_incomplete on a board with a run still running: its cell is marked (†), it is
  attributed to its submission and workload, and a cell left with no run says "no runs"."""
  import shutil

  from algoperf_lab.leaderboard import markdown

  board = tmp_path / "board"
  shutil.copytree(TABLE, board)
  result = board / "muon" / "vit" / "seed_0" / "result.json"
  data = json.loads(result.read_text())
  running = {k: v for k, v in data.items() if k not in END_FIELDS} | {"status": "running"}
  result.write_text(json.dumps(running))
  with pytest.raises(Exception, match="incomplete"):
    model.build([board], tmp_path / "refused", bootstrap_samples=50)
  built = model.build([board], tmp_path / "site", bootstrap_samples=50, allow_incomplete=True)
  assert built["gaps"] == [["muon", "vit/tiny"]] and built["unattributed_gaps"] == 0
  lines = markdown.leaderboard_table(built).splitlines()
  row = next(line for line in lines if line.startswith("| muon |"))
  assert row.endswith("| no runs (0/0)† |")
  assert sum("†" in line for line in lines if line.startswith("| ")) == 1
  assert any(line.startswith("† incomplete: a record of this submission on this workload is "
                             "corrupt, preempted or still running") for line in lines)
  assert built["clocks"]["time"]["muon"]["workloads"]["vit/tiny"]["n"] == 0

"""Run records: atomic, strictly valid JSON files and the metrics log."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

import algoperf_lab
from algoperf_lab.harness import records


def _strict_loads(text: str) -> Any:
  """json.loads that refuses the NaN/Infinity tokens Python's json would otherwise accept."""
  def refuse(token: str) -> Any:
    raise ValueError(f"non-standard JSON token {token}")
  return json.loads(text, parse_constant=refuse)


def _leftovers(folder: Path, name: str) -> list[str]:
  return sorted(p.name for p in folder.iterdir() if p.name != name)


def test_write_creates_and_replaces(tmp_path: Path) -> None:
  path = tmp_path / "sub" / "result.json"  # the parent folder is created
  records.write_json_atomically(path, {"status": "running", "steps": 0})
  assert _strict_loads(path.read_text()) == {"status": "running", "steps": 0}
  records.write_json_atomically(path, {"status": "reached", "steps": 12})
  assert _strict_loads(path.read_text()) == {"status": "reached", "steps": 12}
  assert _leftovers(path.parent, "result.json") == []


def test_non_finite_values_become_null(tmp_path: Path) -> None:
  path = tmp_path / "result.json"
  records.write_json_atomically(path, {"loss": math.nan, "up": math.inf, "down": -math.inf,
                                       "ok": 1.5, "name": "x"})
  text = path.read_text()
  assert _strict_loads(text) == {"loss": None, "up": None, "down": None, "ok": 1.5, "name": "x"}
  for token in ("NaN", "Infinity"):
    assert token not in text


def test_strict_loader_would_catch_nan() -> None:
  with pytest.raises(ValueError, match="NaN"):
    _strict_loads('{"loss": NaN}')


def test_to_strict_json_stringifies_unknown_objects() -> None:
  assert _strict_loads(records.to_strict_json({"path": Path("/a/b")})) == {"path": "/a/b"}


def test_failed_replace_keeps_old_file_and_no_temp(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
  path = tmp_path / "result.json"
  records.write_json_atomically(path, {"version": 1})

  def failing_replace(*args: Any, **kwargs: Any) -> None:
    raise OSError("disk gone")

  monkeypatch.setattr(records.os, "replace", failing_replace)
  with pytest.raises(OSError, match="disk gone"):
    records.write_json_atomically(path, {"version": 2})
  assert _strict_loads(path.read_text()) == {"version": 1}
  assert _leftovers(tmp_path, "result.json") == []


def test_failure_mid_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
  path = tmp_path / "result.json"
  records.write_json_atomically(path, {"version": 1})
  real_fsync = os.fsync

  def failing_fsync(descriptor: int) -> None:
    real_fsync(descriptor)
    raise KeyboardInterrupt  # an interruption after the temp file was written

  monkeypatch.setattr(records.os, "fsync", failing_fsync)
  with pytest.raises(KeyboardInterrupt):
    records.write_json_atomically(path, {"version": 2})
  assert _strict_loads(path.read_text()) == {"version": 1}
  assert _leftovers(tmp_path, "result.json") == []


def test_failure_in_json_dumps_keeps_old_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
  path = tmp_path / "result.json"
  records.write_json_atomically(path, {"version": 1})
  real_dumps = json.dumps

  def dumps_failing_when_indented(obj: Any, **kwargs: Any) -> str:
    if kwargs.get("indent") is not None:
      raise TypeError("boom")
    return real_dumps(obj, **kwargs)

  monkeypatch.setattr(records.json, "dumps", dumps_failing_when_indented)
  with pytest.raises(TypeError, match="boom"):
    records.write_json_atomically(path, {"version": 2})
  monkeypatch.undo()
  assert _strict_loads(path.read_text()) == {"version": 1}
  assert _leftovers(tmp_path, "result.json") == []


def test_append_metrics_line(tmp_path: Path) -> None:
  path = tmp_path / "run" / records.METRICS_FILE
  records.append_metrics_line(path, {"step": 1, "validation/loss": 2.5})
  records.append_metrics_line(path, {"step": 2, "validation/loss": math.nan})
  lines = path.read_text().splitlines()
  assert [_strict_loads(line) for line in lines] == [
      {"step": 1, "validation/loss": 2.5}, {"step": 2, "validation/loss": None}]
  assert path.read_text().endswith("\n")


def test_hardware_info() -> None:
  info = records.hardware_info()
  assert {"platform", "device_kind", "device_count"} <= set(info)
  assert isinstance(info["platform"], str) and info["platform"]
  assert isinstance(info["device_count"], int) and info["device_count"] >= 1
  json.dumps(info, allow_nan=False)  # recordable as is


def test_software_versions() -> None:
  versions = records.software_versions()
  assert {"jax", "flax", "optax", "python", "algoperf_lab"} <= set(versions)
  assert versions["algoperf_lab"] == algoperf_lab.__version__
  for package in ("jax", "flax", "optax", "python"):
    assert isinstance(versions[package], str) and versions[package][0].isdigit()


def test_strict_json_cleans_nested_and_numpy_values() -> None:
  import numpy as np

  text = records.to_strict_json({"a": {"b": float("nan"), "c": [float("inf"), 1.0]},
                                 "d": np.float32(1.5), "e": np.float32("nan")})
  assert json.loads(text) == {"a": {"b": None, "c": [None, 1.0]}, "d": 1.5, "e": None}


def test_progress_in_a_log_is_one_plain_line_per_eval(capsys):
  """Issue 20: tqdm wrote duplicate lines into a log file (stderr not a terminal)."""
  from algoperf_lab.harness.progress import RunProgress

  progress = RunProgress(True, "adamw on lm/tiny", 146.0, "bits_per_byte", 2.8876,
                         clock="process_cpu")
  progress.advance(3, 1.0)
  progress.on_eval(6, 12.5, 3.1)
  progress.on_eval(12, 25.0, 2.9)
  progress.close()
  err = capsys.readouterr().err
  assert "\r" not in err
  assert err.splitlines() == [
      "adamw on lm/tiny: step 6, 12.5/146 CPU s submission time, 3.1000 vs bits_per_byte target 2.8876",
      "adamw on lm/tiny: step 12, 25.0/146 CPU s submission time, 2.9000 vs bits_per_byte target 2.8876"]


def test_a_fixed_horizon_run_shows_its_steps_not_a_runtime_cap(capsys):
  """Issue 20: moe_study and set-targets run fixed horizons under a 100x runtime cap; their
  progress counts steps (and moe_study shows it at all)."""
  from algoperf_lab.harness.progress import RunProgress

  progress = RunProgress(True, "adamw on gnn/tiny", 5300.0, "mae", 0.2, clock="process_cpu",
                         total_steps=700)
  progress.on_eval(28, 1.5, 0.9)
  progress.close()
  assert capsys.readouterr().err.splitlines() == [
      "adamw on gnn/tiny: step 28/700, 1.5 CPU s submission time, 0.9000 vs mae target 0.2"]

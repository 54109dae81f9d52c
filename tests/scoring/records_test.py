"""Reading run records: broken and unfinished ones are skipped with a reason, never raised."""

import json
from pathlib import Path

import pytest

from algoperf_lab.scoring.records import (
    MixedHardwareError, check_same_hardware, load_records, read_curve)


def _result(**overrides):
  result = {
      "schema_version": 1, "workload": "lm", "size": "tiny", "submission": "nadamw",
      "submission_path": "submissions/nadamw.py", "submission_form": "algoperf",
      "ruleset": "external", "study": 0, "trial": 0, "hparams": {"learning_rate": 1e-3},
      "seed": 0, "hardware": {"platform": "cpu", "device_kind": "cpu", "device_count": 1,
                              "process_count": 1},
      "versions": {"jax": "0.10.2", "algoperf_lab": "0.1.0"},
      "target_metric": "validation/loss", "target_value": 2.0, "target_direction": "lower",
      "max_allowed_runtime_sec": 180.0, "status": "reached", "reached_target": True,
      "time_to_target_sec": 42.0, "steps": 100, "submission_time_sec": 50.0}
  result.update(overrides)
  return result


def _write(root: Path, name: str, content) -> Path:
  run_dir = root / name
  run_dir.mkdir(parents=True)
  text = content if isinstance(content, str) else json.dumps(content)
  (run_dir / "result.json").write_text(text)
  return run_dir


def test_good_record_is_read(tmp_path):
  _write(tmp_path, "deep/nested/good", _result())
  records, skipped = load_records([tmp_path])
  assert not skipped
  assert len(records) == 1
  assert records[0].workload_key == "lm/tiny"
  assert records[0].time_to_target_sec == 42.0


@pytest.mark.parametrize("name, content, reason", [
    ("garbage", "this is not json", "malformed or truncated JSON at line 1"),
    ("truncated", json.dumps(_result())[:60], "malformed or truncated JSON"),
    ("missing", {k: v for k, v in _result().items() if k not in ("seed", "status")},
     "missing required keys: seed, status"),
    ("running", _result(status="running", reached_target=False, time_to_target_sec=None),
     "unfinished run (status 'running')"),
    ("preempted", _result(status="preempted", reached_target=False, time_to_target_sec=None),
     "unfinished run (status 'preempted')"),
    ("array", [1, 2, 3], "not an object"),
    ("inconsistent", _result(status="missed"), "inconsistent record"),
    ("no_time", _result(time_to_target_sec=None), "time_to_target_sec"),
])
def test_bad_records_are_skipped_with_path_and_reason(tmp_path, name, content, reason):
  _write(tmp_path, "ok", _result())
  bad_dir = _write(tmp_path, name, content)
  records, skipped = load_records([tmp_path])
  assert len(records) == 1
  assert len(skipped) == 1
  assert skipped[0].path == str((bad_dir / "result.json").resolve())
  assert reason in skipped[0].reason


def test_missed_and_diverged_records_are_kept(tmp_path):
  _write(tmp_path, "m", _result(status="missed", reached_target=False, time_to_target_sec=None))
  _write(tmp_path, "d", _result(status="diverged", reached_target=False, time_to_target_sec=None))
  records, skipped = load_records([tmp_path])
  assert not skipped and sorted(r.status for r in records) == ["diverged", "missed"]


def test_truncated_last_metrics_line_is_tolerated(tmp_path):
  run_dir = _write(tmp_path, "run", _result())
  lines = [json.dumps({"step": s, "submission_time_sec": 10.0 * s, "validation/loss": 5.0 - s})
           for s in (1, 2, 3)]
  (run_dir / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 4, "submission_ti')
  curve = read_curve(run_dir, "validation/loss")
  assert curve.times == (10.0, 20.0, 30.0)
  assert curve.values == (4.0, 3.0, 2.0)
  assert len(curve.warnings) == 1 and "truncated last line" in curve.warnings[0]


def test_missing_metrics_file_is_a_warning(tmp_path):
  curve = read_curve(_write(tmp_path, "run", _result()), "validation/loss")
  assert curve.times == () and "cannot read metrics" in curve.warnings[0]


def test_mixed_hardware_is_refused_unless_allowed(tmp_path):
  _write(tmp_path, "cpu", _result())
  _write(tmp_path, "gpu", _result(hardware={"device_kind": "H100", "device_count": 1}))
  records, _ = load_records([tmp_path])
  with pytest.raises(MixedHardwareError, match="--allow_mixed_hardware") as info:
    check_same_hardware(records, allow_mixed=False)
  assert "H100" in str(info.value) and "device_kind=cpu" in str(info.value)
  warnings = check_same_hardware(records, allow_mixed=True)
  assert len(warnings) == 1 and "H100" in warnings[0]


def test_failed_run_is_skipped_with_its_error(tmp_path):
  _write(tmp_path, "failed", _result(status="failed", error="RuntimeError: boom",
                                     reached_target=False, time_to_target_sec=None))
  records, skipped = load_records([tmp_path])
  assert not records
  assert "the run failed (RuntimeError: boom)" in skipped[0].reason

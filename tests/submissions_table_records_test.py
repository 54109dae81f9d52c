"""The README's re-measured rows of the submissions table (marked †) are re-read from the
committed run records in results/submissions_table_2026-12-05/, so they cannot drift from them."""

from __future__ import annotations

import json

import pytest

from tests.helpers import REPO_ROOT

RECORDS = REPO_ROOT / "results" / "submissions_table_2026-12-05"
ROWS = {"nadamw": "baselines/nadamw.py", "muon": "matrix/muon.py",
        "one_cycle": "schedules/one_cycle.py", "wsd": "schedules/wsd.py"}
WORKLOADS = ("lm", "vit", "gnn")


def _cell(record: dict, first: bool) -> str:
  if record["status"] != "reached":
    return record["status"]
  steps = f"{record['steps']} steps" if first else str(record["steps"])
  return f"{record['time_to_target_sec']:.0f} s ({steps})"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_the_readme_row_is_the_committed_records(name):
  cells = []
  for index, workload in enumerate(WORKLOADS):
    folder = RECORDS / name / workload / "seed_0"
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.jsonl", "result.json"]
    record = json.loads((folder / "result.json").read_text())
    assert record["seed"] == 0 and record["clock"] == "process_cpu" and record["size"] == "tiny"
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["step"] == record["steps"]  # the record agrees with its own history
    cells.append(_cell(record, index == 0))
  row = f"| `{ROWS[name]}` † | " + " | ".join(cells) + " |"
  assert row in (REPO_ROOT / "README.md").read_text()

"""The leaderboard's table as Markdown, from the page's data (`leaderboard.json`): what the
README shows, generated, never typed. A test re-reads the committed sites and checks the
README holds exactly this text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from algoperf_lab.scoring.report import GAP_MARK, gap_note


def _number(value: float | None, digits: int = 3) -> str:
  return "miss" if value is None else f"{value:.{digits}f}"


def _metric(data: Mapping[str, Any], workload: str) -> str:
  return data.get("curves", {}).get(workload, {}).get("metric", "validation value")


def _score(row: Mapping[str, Any]) -> str:
  interval = row.get("interval")
  if interval is None:
    return f"{row['score']:.3f} (n/a, n={row['min_studies']})"
  low, high = interval
  return f"{row['score']:.3f} [{low:.3f}, {high:.3f}]"


def _best(best: Mapping[str, Any] | None) -> str:
  """", best 2.784 (2.758–2.827)": the median and range over studies of each study's best
  validation value (one study: its value alone; empty when unknown)."""
  if not best or best.get("median") is None:
    return ""
  if best["n"] == 1:
    return f", best {best['median']:#.4g}"
  return f", best {best['median']:#.4g} ({best['low']:#.4g}–{best['high']:#.4g})"


def _cell(time_row: Mapping[str, Any] | None, step_row: Mapping[str, Any] | None,
          best: Mapping[str, Any] | None = None) -> str:
  """Median time and steps to target over studies, with reached/n: "41.2 s / 610 (5/5)"; a
  miss adds how close the studies came: "miss (0/5), best 2.784 (2.758–2.827)"; a submission
  with no finished run there (scored as a miss): "no runs (0/0)"."""
  if time_row is None:
    return "–"
  if time_row["n"] == 0:
    return "no runs (0/0)"
  time = time_row["median"]
  steps = step_row["median"] if step_row else None
  if time is None:
    return f"miss ({time_row['reached']}/{time_row['n']}){_best(best)}"
  return (f"{time:.1f} s / {_number(steps, 0)} ({time_row['reached']}/{time_row['n']})")


def leaderboard_table(data: Mapping[str, Any]) -> str:
  """One row per submission, ranked on the time clock: family, form, score on each clock with
  its 95% interval (n/a below the interval's minimum studies), ranks, and per workload the
  median time and steps to target over studies with how many studies reached it (on a miss,
  the median and range of the studies' best validation values)."""
  workloads: Sequence[str] = data["workloads"]
  time_table, step_table = data["clocks"]["time"], data["clocks"]["steps"]
  header = ["submission", "family", "form", "score (time)", "score (steps)", "rank time / steps",
            *[f"{w}: median time / steps (reached/n); a miss: best {_metric(data, w)}"
              for w in workloads]]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  gaps = {tuple(g) for g in data.get("gaps", [])}  # cells with a record left out: GAP_MARK
  for name, row in time_table.items():
    about = data["submissions"].get(name, {})
    steps = step_table.get(name)
    ranks = data["ranks"][name]
    cells = [name, about.get("family", "?"), about.get("form", "?"), _score(row),
             _score(steps) if steps else "–", f"{ranks['time']} / {ranks['steps']}",
             *[_cell(row["workloads"].get(w), steps["workloads"].get(w) if steps else None,
                     data.get("closest", {}).get(w, {}).get(name))
               + (GAP_MARK if (name, w) in gaps else "") for w in workloads]]
    lines.append("| " + " | ".join(cells) + " |")
  if note := gap_note(len(gaps), data.get("unattributed_gaps", 0)):
    lines += ["", *note]
  cost = data.get("compute")
  if cost:
    lines += ["", f"{cost['runs']} runs, {cost['core_hours']:.1f} core-hours ({cost['wall_hours']:.1f} "
              f"wall-hours of runs), from {cost['first_started']} to {cost['last_ended']}"
              + (f" (1-minute load average at run starts and ends {cost['load_1min'][0]:.2f}–"
                 f"{cost['load_1min'][1]:.2f})" if cost.get("load_1min") else "")
              + _compilation(cost.get("compilation"))
              + ", on: " + "; ".join(data.get("hardware", []))]
  return "\n".join(lines) + "\n"


def _compilation(counts: dict[str, int] | None) -> str:
  """How the runs compiled: from scratch, or loading what earlier runs put in JAX's cache."""
  if not counts:
    return ""
  if counts["from_scratch"] and not counts["cached"] and not counts["unrecorded"]:
    return "; compilation: each run from scratch"
  parts = [f"{counts[key]} {words}" for key, words in (
      ("from_scratch", "from scratch"), ("cached", "with the persistent cache"),
      ("unrecorded", "unrecorded")) if counts[key]]
  return f"; compilation: {', '.join(parts)}" if parts else ""

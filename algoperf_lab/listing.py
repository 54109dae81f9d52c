"""`algoperf-lab list`: the registered workloads and the bundled submissions."""

from __future__ import annotations

import ast
from pathlib import Path

from algoperf_lab import config as config_lib
from algoperf_lab import registry

SUBMISSIONS_ROOT = Path(__file__).resolve().parent.parent / "submissions"


def workload_rows() -> list[tuple[str, str, str, str, str, str]]:
  """(workload, size, target, wall budget, process-CPU budget, description) per size."""
  rows = []
  for name, cls in registry.workload_classes().items():
    for size in cls.sizes:  # type: ignore[attr-defined]
      config = cls.get_config(size)  # type: ignore[attr-defined]
      targets = config_lib.dataclass_from_config(config_lib.TargetsConfig, config.targets,
                                                 f"{name}.targets")
      sign = "<=" if targets.direction == "lower" else ">="
      cpu_budget = (f"{targets.max_allowed_cpu_sec:g} CPU s" if targets.max_allowed_cpu_sec
                    else "-")
      rows.append((name, size, f"validation/{targets.metric} {sign} {targets.validation:g}",
                   f"{targets.max_allowed_runtime_sec:g} s", cpu_budget,
                   cls.description))  # type: ignore[attr-defined]
  return rows


# Folders under submissions/ that hold the pieces submissions compose (optax transformations,
# schedules), not submissions: `submissions/lib/...`. Files whose name starts with "_" are
# private helpers of the submission beside them.
LIBRARY_FOLDERS = frozenset({"lib"})


def is_bundled_submission(path: Path, root: Path = SUBMISSIONS_ROOT) -> bool:
  relative = path.relative_to(root)
  return (path.suffix == ".py" and not path.name.startswith("_")
          and not LIBRARY_FOLDERS.intersection(relative.parts[:-1]))


def bundled_submissions(root: Path = SUBMISSIONS_ROOT) -> list[Path]:
  return sorted(p for p in root.rglob("*.py") if is_bundled_submission(p, root))


def description(path: Path) -> str:
  """The first line of a submission module's docstring (read without importing it)."""
  try:
    doc = ast.get_docstring(ast.parse(path.read_text()))
  except (OSError, SyntaxError):
    return ""
  return doc.strip().splitlines()[0] if doc else ""


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
  widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
  line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
  return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, rows)])


def render_listing() -> str:
  workloads = _table(("workload", "size", "target", "wall budget", "CPU budget", "description"),
                     workload_rows())
  root = SUBMISSIONS_ROOT.parent
  submissions = _table(("submission", "description"),
                       [(str(p.relative_to(root)), description(p)) for p in bundled_submissions()])
  broken = "".join(f"\n  {name}: {reason}" for name, reason in registry.load_errors().items())
  broken = f"\n\nWorkloads that failed to import{broken}" if broken else ""
  clocks = ("Budgets are submission time: on a CPU backend a tiny workload with a CPU budget is "
            "timed by this process's CPU time (--clock=auto), else by wall time.")
  return (f"Workloads\n{workloads}\n{clocks}{broken}\n\nBundled submissions\n{submissions}")

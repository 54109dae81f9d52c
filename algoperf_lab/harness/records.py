"""Run records: `metrics.jsonl` (one line per eval) and `result.json`, written atomically."""

from __future__ import annotations

import datetime
import enum
import json
import math
import os
import socket
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np

import algoperf_lab
from algoperf_lab import cpu_cores
from algoperf_lab.atomic_files import write_text_atomically
from algoperf_lab.processor import processor_model

SCHEMA_VERSION = 1
METRICS_FILE = "metrics.jsonl"
RESULT_FILE = "result.json"


class RunStatus(enum.Enum):
  RUNNING = "running"
  REACHED = "reached"
  MISSED = "missed"
  # Stopped by --max_steps before its budget without reaching the target: a debugging run that
  # says nothing about time to target; scoring refuses it rather than count it as a miss.
  CAPPED = "capped"
  DIVERGED = "diverged"
  PREEMPTED = "preempted"  # stopped by SIGTERM after saving a checkpoint; the next run resumes
  INTERRUPTED = "interrupted"  # stopped by Ctrl-C; the next run resumes from the last checkpoint
  FAILED = "failed"  # the submission (or the run's setup) raised; the record holds the error


def _strict(value: Any) -> Any:
  """Numpy scalars become Python numbers; non-finite floats become None, at any depth."""
  if isinstance(value, np.generic):
    value = value.item()
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, Mapping):
    return {key: _strict(item) for key, item in value.items()}
  if isinstance(value, (list, tuple)):
    return [_strict(item) for item in value]
  return value


def to_strict_json(data: Mapping[str, Any]) -> str:
  """JSON without NaN/Infinity tokens (they become null), so every reader can parse it."""
  return json.dumps(_strict(data), sort_keys=False, allow_nan=False, default=str)


def write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
  """Writes strict JSON to a temporary file in the same folder, fsyncs, renames over `path`."""
  write_text_atomically(path, json.dumps(json.loads(to_strict_json(data)), indent=2) + "\n")


def append_metrics_line(path: Path, line: Mapping[str, Any]) -> None:
  """Appends one eval as a single JSON line, flushed to disk."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "a") as handle:
    handle.write(to_strict_json(line) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def hardware_info() -> dict[str, Any]:
  """The hardware identity of a run; on CPU the processor model and core count are part of it."""
  devices = jax.devices()
  return {"platform": devices[0].platform, "device_kind": devices[0].device_kind,
          "device_count": jax.device_count(), "process_count": jax.process_count(),
          "host_cpu_count": os.cpu_count(), "host_machine": platform.machine(),
          "processor": processor_model(),
          # the cores this run could use (part of a CPU run's hardware: see cpu_cores.py)
          "usable_cpu_cores": cpu_cores.usable_cpu_cores(),
          "xla_eigen_threads": cpu_cores.xla_eigen_threads_on()}


def _version(package: str) -> str | None:
  try:
    return metadata.version(package)
  except metadata.PackageNotFoundError:
    return None


def software_versions() -> dict[str, str | None]:
  return {"algoperf_lab": algoperf_lab.__version__, "python": platform.python_version(),
          "jax": jax.__version__, "jaxlib": _version("jaxlib"), "flax": _version("flax"),
          "optax": _version("optax"), "orbax-checkpoint": _version("orbax-checkpoint"),
          "grain": _version("grain")}


def lab_commit() -> str | None:
  """The lab checkout's git commit (with "+dirty" when it has uncommitted changes), or None
  outside a git checkout."""
  root = Path(algoperf_lab.__file__).resolve().parent.parent
  try:
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                            text=True, timeout=10, check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10, check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return f"{commit}+dirty" if dirty else commit


NODE_ENV = "ALGOPERF_LAB_NODE"


def moment() -> dict[str, Any]:
  """When, and under what machine load, something happened: UTC time and the 1/5/15-minute
  load averages (a record's start and end; how busy the machine was shows in the timings)."""
  try:
    load = [round(x, 2) for x in os.getloadavg()]
  except OSError:
    load = None
  return {"utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "load_average": load,
          # The node that ran it: a sweep executor's node id (Ray), else the host name.
          "node": os.environ.get(NODE_ENV) or socket.gethostname()}

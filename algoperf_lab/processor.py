"""Which processor this machine has, and the short name the lab files its budgets under.

A CPU-clock budget belongs to the processor it was timed on: the same steps cost a different
number of CPU seconds on another model (the lab's tiny board ran 10-20% slower in process-CPU
time on an AMD EPYC than on the Intel Xeon its budgets were timed on). Runs record the model
(`harness.records.hardware_info`), scoring refuses to mix models, and budgets timed on another
model live in `configs/tiny_budgets.json` under the model's slug.
"""

from __future__ import annotations

import platform
import re


def processor_model() -> str:
  """The host CPU's model name (/proc/cpuinfo 'model name', else platform.processor())."""
  try:
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
      for line in handle:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
          return value.strip()
  except OSError:
    pass
  return platform.processor() or platform.machine() or "unknown"


def processor_slug(model: str) -> str:
  """A file-name-safe name for a processor model: 'Intel(R) Xeon(R) Processor' ->
  'intel-xeon-processor', 'AMD EPYC' -> 'amd-epyc'."""
  plain = re.sub(r"\((r|tm)\)", "", model.lower())
  slug = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")
  return slug or "unknown"

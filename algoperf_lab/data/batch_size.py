"""The error a workload raises for a batch size its data cannot serve (the CLI prints it as one line)."""

from __future__ import annotations


class BatchSizeError(ValueError):
  """A batch size the dataset cannot fill; the message names both sizes and the fix."""

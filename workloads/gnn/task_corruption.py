"""Training-label corruption of one task, for the held-out multi-task variants.

Negative transfer is real when one task's training signal is bad: `gnn_noisy_task` adds heavy
Gaussian noise to one target's training labels (labels are standardised, so a std of 3 buries
the signal), `gnn_low_resource_task` keeps one target's labels on a small fraction of the
training molecules and masks the loss elsewhere. Validation and test labels stay clean, so
the per-task metrics measure how well that task is still learnt. Fixed for a corruption seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from workloads.gnn.molecules import MoleculeDataset


@dataclasses.dataclass(frozen=True)
class TaskCorruption:
  task: str = ""  # the corrupted task's name (e.g. "mu"); "": none
  label_noise_std: float = 0.0  # Gaussian noise added to its training labels
  labels_dropped: float = 0.0  # the share of training molecules losing its label, in [0, 1)
  seed: int = 0

  def __post_init__(self) -> None:
    if self.label_noise_std < 0 or not 0.0 <= self.labels_dropped < 1.0:
      raise ValueError(f"data.corrupted_label_noise_std must be >= 0 and "
                       f"data.corrupted_labels_dropped in [0, 1), got {self.label_noise_std} "
                       f"and {self.labels_dropped}.")

  @property
  def active(self) -> bool:
    return bool(self.task) and (self.label_noise_std > 0 or self.labels_dropped > 0)


def corrupt_training_labels(dataset: MoleculeDataset,
                            corruption: TaskCorruption) -> MoleculeDataset:
  """The dataset with `corruption` applied to the training split's labels of one task."""
  if not corruption.active:
    return dataset
  if corruption.task not in dataset.task_names:
    raise ValueError(f"data.corrupted_task={corruption.task!r} is not one of the data's tasks "
                     f"{list(dataset.task_names)}.")
  rng = np.random.default_rng(corruption.seed)
  train = dataset.splits["train"]
  k = dataset.task_names.index(corruption.task)
  labels, mask = dataset.labels.copy(), dataset.label_mask.copy()
  if corruption.label_noise_std > 0:
    noise = rng.normal(0.0, corruption.label_noise_std, len(train)).astype(labels.dtype)
    labels[train, k] = np.where(mask[train, k], labels[train, k] + noise, 0.0)
  if corruption.labels_dropped > 0:
    kept = max(1, round((1.0 - corruption.labels_dropped) * len(train)))
    dropped = rng.permutation(train)[kept:]
    mask[dropped, k] = False
    labels[dropped, k] = 0.0
  return dataclasses.replace(dataset, labels=labels, label_mask=mask)

"""ogbg-molpcba (about 438k molecules, 128 binary assays) from its OGB folder, without torch.

The folder is what OGB unpacks (`ogbg_molpcba/`): `mapping/mol.csv.gz` has a `smiles` column
and one column per task (empty where the molecule was not assayed), and
`split/scaffold/{train,valid,test}.csv.gz` list row indices, one per line. Molecules are
converted with the same RDKit featuriser as QM9 and cached (several minutes, once).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from pathlib import Path

import numpy as np

from algoperf_lab.data import paths
from workloads.gnn import molecules
from workloads.gnn.molecules import MoleculeDataset

NUM_TASKS = 128
MAPPING = Path("mapping") / "mol.csv.gz"
SPLIT_FILES = {"train": "train.csv.gz", "validation": "valid.csv.gz", "test": "test.csv.gz"}
SPLIT_DIR = Path("split") / "scaffold"
NON_TASK_COLUMNS = ("smiles", "mol_id")
FORMAT_VERSION = 1
HOW_TO_GET = ("Download ogbg-molpcba from OGB (the `pcba` zip of the graph-property-prediction "
              "datasets), unzip it, and pass --data_dir=DIR/ogbg_molpcba (or unpack it into "
              "$ALGOPERF_LAB_DATA_ROOT/ogbg_molpcba). No code here downloads it.")


def find_dataset_dir(data_dir: str | Path | None = None) -> Path:
  """The OGB folder holding mapping/mol.csv.gz."""
  candidates = ([Path(data_dir), Path(data_dir) / "ogbg_molpcba"] if data_dir is not None
                else [paths.data_root() / "ogbg_molpcba"])
  return paths.first_existing(candidates, str(MAPPING), "ogbg-molpcba", HOW_TO_GET)


def read_mapping(folder: Path) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
  """SMILES, labels [rows, tasks] float32 (NaN where missing), and the task names."""
  with gzip.open(folder / MAPPING, "rt", newline="") as file:
    reader = csv.reader(file)
    header = next(reader)
    if "smiles" not in header:
      raise paths.DatasetCorruptError(f"{folder / MAPPING} has no 'smiles' column. {HOW_TO_GET}")
    smiles_at = header.index("smiles")
    task_at = [i for i, name in enumerate(header) if name not in NON_TASK_COLUMNS]
    smiles, labels = [], []
    for row in reader:
      smiles.append(row[smiles_at])
      labels.append([float(row[i]) if row[i] != "" else np.nan for i in task_at])
  names = tuple(header[i] for i in task_at)
  return smiles, np.asarray(labels, np.float32).reshape(-1, len(names)), names


def read_split(folder: Path) -> dict[str, np.ndarray]:
  """Row indices of each scaffold split."""
  splits = {}
  for split, name in SPLIT_FILES.items():
    path = folder / SPLIT_DIR / name
    if not path.is_file():
      raise paths.DatasetNotFoundError(f"ogbg-molpcba split file {path} is missing. {HOW_TO_GET}")
    with gzip.open(path, "rt") as file:
      lines = [line.strip() for line in file if line.strip()]
    splits[split] = np.asarray([int(line) for line in lines if line.lstrip("-").isdigit()],
                               np.int64)
  return splits


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
  """Area under the precision-recall steps (sklearn's definition); tied scores act as one."""
  order = np.argsort(-scores, kind="stable")
  sorted_scores, hits = scores[order], labels[order].astype(bool)
  true_positives, false_positives = np.cumsum(hits), np.cumsum(~hits)
  threshold_ends = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
  true_positives, false_positives = true_positives[threshold_ends], false_positives[threshold_ends]
  precision = true_positives / (true_positives + false_positives)
  recall = true_positives / true_positives[-1]
  return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def mean_average_precision(labels: np.ndarray, scores: np.ndarray, mask: np.ndarray) -> float:
  """Mean over tasks of the average precision on valid labels ([examples, tasks] arrays).

  Tasks whose valid labels lack either class are left out (as OGB's evaluator does); NaN if
  no task has both.
  """
  per_task = []
  for task in range(labels.shape[1]):
    valid = mask[:, task].astype(bool)
    task_labels = labels[valid, task] > 0.5
    if task_labels.any() and not task_labels.all():
      per_task.append(average_precision(task_labels, scores[valid, task]))
  return float(np.mean(per_task)) if per_task else float("nan")


def _source_files(folder: Path) -> list[Path]:
  return [folder / MAPPING] + [folder / SPLIT_DIR / name for name in SPLIT_FILES.values()]


def load(data_dir: str | None = None) -> MoleculeDataset:
  """ogbg-molpcba as graphs with masked binary labels and OGB's scaffold splits."""
  folder = find_dataset_dir(data_dir)
  key = f"{molecules.source_fingerprint(_source_files(folder))}|v{FORMAT_VERSION}"
  cache = paths.data_root() / "cache" / f"molpcba_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
  stored = molecules.load_cached(cache, ("labels", "kept", "task_names", "num_rows", "num_skipped"))
  if stored is None:
    smiles, labels, names = read_mapping(folder)
    graphs, kept = molecules.graphs_from_smiles(smiles)
    stored = {**graphs.to_arrays(), "labels": labels[kept], "kept": kept,
              "task_names": np.asarray(names), "num_rows": np.int64(len(smiles)),
              "num_skipped": np.int64(len(smiles) - len(kept))}
    molecules.save_atomically(cache, stored)
  graphs = molecules.GraphSet.from_arrays(stored)
  position = np.full(int(stored["num_rows"]), -1, np.int64)  # row index -> graph index
  position[stored["kept"]] = np.arange(len(stored["kept"]))
  splits = {split: position[rows][position[rows] >= 0]
            for split, rows in read_split(folder).items()}
  labels = stored["labels"]
  label_mask = ~np.isnan(labels)
  return MoleculeDataset(graphs=graphs, labels=np.where(label_mask, labels, 0.0).astype(np.float32),
                         label_mask=label_mask, splits=splits,
                         task_names=tuple(str(n) for n in stored["task_names"]),
                         num_skipped=int(stored["num_skipped"]))

"""QM9 (about 131k small molecules) from the CSVs the PyPI package `qm9pack` ships.

The CSVs are read by path (`import qm9pack` needs pkg_resources and parses the command line).
Each row holds a SMILES string and the standard quantum-chemistry properties; the 12 used
here are the usual QM9 regression tasks. Molecules are converted with RDKit once and cached
under `$ALGOPERF_LAB_DATA_ROOT/cache` (about 45 s for all of them on 2 CPU cores).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from algoperf_lab.data import paths
from workloads.gnn import molecules
from workloads.gnn.molecules import MoleculeDataset

# (task name, CSV column): dipole moment, polarizability, orbital energies, spatial extent,
# zero-point energy, energies at 0 K and 298 K, enthalpy, free energy, heat capacity.
TASKS = (("mu", "Dipole_debye"), ("alpha", "Polarizability_bohr3"), ("homo", "HOMO_au"),
         ("lumo", "LUMO_au"), ("gap", "HOMO_LUMO_gap_au"), ("r2", "R2_bohr2"),
         ("zpve", "ZPVE_au"), ("u0", "InternalEnergy_0K_au"), ("u298", "InternalEnergy_298K_au"),
         ("h298", "Enthalphy_298K_au"), ("g298", "GibbsFreeEnergy_298K_au"),
         ("cv", "Heatcapacity_Cv_cal_mol_K"))
TASK_NAMES = tuple(name for name, _ in TASKS)
NUM_TASKS = len(TASKS)
SMILES_COLUMN = "SMILES"
CSV_NAMES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
# Fixes the molecule order (and so the splits and any subset) for every run and seed.
PERMUTATION_SEED = 20_240_901
FORMAT_VERSION = 1  # bump when the cached arrays change meaning
HOW_TO_GET = (f"Install the PyPI package that ships the QM9 CSVs: `pip install qm9pack` (or run "
              f"`{paths.SETUP_COMMAND}`), or pass --data_dir=DIR holding {', '.join(CSV_NAMES)}.")


def find_csv_files(data_dir: str | Path | None = None) -> list[Path]:
  """The three QM9 CSVs: in `data_dir` if given, else inside the installed qm9pack package."""
  if data_dir is not None:
    folder = Path(data_dir)
  else:
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
      raise paths.DatasetNotFoundError(f"QM9 not found: the package qm9pack is not installed. "
                                       f"{HOW_TO_GET}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
  missing = [name for name in CSV_NAMES if not (folder / name).is_file()]
  if missing:
    raise paths.DatasetNotFoundError(f"QM9 not found: no {', '.join(missing)} in {folder}. "
                                     f"{HOW_TO_GET}")
  return [folder / name for name in CSV_NAMES]


@dataclasses.dataclass(frozen=True)
class Qm9Rows:
  """The columns of the QM9 CSVs this workload uses, one entry per row."""

  smiles: list[str]
  targets: np.ndarray  # [rows, NUM_TASKS] float64, in the CSV's units

  def __len__(self) -> int:
    return len(self.smiles)

  def take(self, indices: Sequence[int] | np.ndarray) -> Qm9Rows:
    indices = np.asarray(indices, np.int64)
    return Qm9Rows([self.smiles[i] for i in indices], self.targets[indices])


def read_rows(csv_files: Sequence[Path]) -> Qm9Rows:
  """SMILES and the 12 target columns of every row, in file order."""
  csv.field_size_limit(1 << 30)  # the coordinate and frequency columns are long
  smiles, targets = [], []
  for path in csv_files:
    with open(path, newline="") as file:
      reader = csv.reader(file)
      header = next(reader)
      missing = [c for c in (SMILES_COLUMN, *(column for _, column in TASKS)) if c not in header]
      if missing:
        raise paths.DatasetCorruptError(f"{path} lacks the column(s) {missing}. {HOW_TO_GET}")
      smiles_at = header.index(SMILES_COLUMN)
      target_at = [header.index(column) for _, column in TASKS]
      for row in reader:
        smiles.append(row[smiles_at])
        targets.append([float(row[i]) for i in target_at])
  return Qm9Rows(smiles, np.asarray(targets, np.float64).reshape(-1, NUM_TASKS))


def molecule_order(num_rows: int, max_molecules: int = 0) -> np.ndarray:
  """The fixed permutation of CSV rows; with max_molecules > 0, only its first rows."""
  order = np.random.default_rng(PERMUTATION_SEED).permutation(num_rows)
  return order[:max_molecules] if max_molecules > 0 else order


def convert_rows(rows: Qm9Rows) -> tuple[molecules.GraphSet, np.ndarray, int]:
  """RDKit graphs of the rows, their raw targets [n, 12], and how many rows were skipped."""
  graphs, kept = molecules.graphs_from_smiles(rows.smiles, "QM9 molecules")
  return graphs, rows.targets[kept].astype(np.float32), len(rows) - len(kept)


def cache_path(csv_files: Sequence[Path], max_molecules: int) -> Path:
  """Where the converted molecules live, keyed by the CSVs' contents and the format."""
  fingerprint = molecules.source_fingerprint(csv_files)
  key = f"{fingerprint}|v{FORMAT_VERSION}|{PERMUTATION_SEED}|{max_molecules}"
  return paths.data_root() / "cache" / f"qm9_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def converted(csv_files: Sequence[Path], max_molecules: int = 0
              ) -> tuple[molecules.GraphSet, np.ndarray, int]:
  """The (cached) graphs in the fixed molecule order, raw targets, and the skipped count."""
  path = cache_path(csv_files, max_molecules)
  stored = molecules.load_cached(path, ("targets", "num_skipped"))
  if stored is not None:
    return (molecules.GraphSet.from_arrays(stored), stored["targets"],
            int(stored["num_skipped"]))
  rows = read_rows(csv_files)
  graphs, targets, num_skipped = convert_rows(rows.take(molecule_order(len(rows), max_molecules)))
  molecules.save_atomically(path, {**graphs.to_arrays(), "targets": targets,
                                   "num_skipped": np.int64(num_skipped)})
  return graphs, targets, num_skipped


def split_indices(count: int, validation_fraction: float,
                  test_fraction: float) -> dict[str, np.ndarray]:
  """Contiguous train / validation / test ranges of molecules already in a random order."""
  if not (validation_fraction > 0 and test_fraction > 0
          and validation_fraction + test_fraction < 1):
    raise ValueError(f"validation_fraction={validation_fraction} and test_fraction="
                     f"{test_fraction} must be positive and leave some training molecules.")
  num_test = max(1, round(count * test_fraction))
  num_validation = max(1, round(count * validation_fraction))
  num_train = count - num_validation - num_test
  bounds = np.cumsum([0, num_train, num_validation, num_test])
  return {split: np.arange(bounds[i], bounds[i + 1])
          for i, split in enumerate(("train", "validation", "test"))}


def standardise(targets: np.ndarray,
                train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Targets scaled with the training molecules' per-task mean and std; also (mean, std)."""
  mean = targets[train].mean(axis=0, dtype=np.float64)
  std = targets[train].std(axis=0, dtype=np.float64)
  std = np.where(std > 0, std, 1.0)
  return ((targets - mean) / std).astype(np.float32), mean, std


def load(data_dir: str | None = None, max_molecules: int = 0, validation_fraction: float = 0.1,
         test_fraction: float = 0.1) -> MoleculeDataset:
  """QM9 as graphs with standardised targets and fixed splits (the same for every seed)."""
  graphs, targets, num_skipped = converted(find_csv_files(data_dir), max_molecules)
  splits = split_indices(len(graphs), validation_fraction, test_fraction)
  labels, mean, std = standardise(targets, splits["train"])
  return MoleculeDataset(graphs=graphs, labels=labels, label_mask=np.ones(labels.shape, bool),
                         splits=splits, task_names=TASK_NAMES, num_skipped=num_skipped,
                         label_mean=mean, label_std=std)

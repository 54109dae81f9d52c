"""SMILES → OGB-style molecular graphs (RDKit), and many graphs held in flat arrays.

Each heavy atom is a node with 9 small-integer features and each bond two directed edges
(i→j, then j→i) with 3 features, as OGB's `smiles2graph` defines them. A value outside a
feature's known list takes that feature's last index ("misc").
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, RDLogger
from tqdm import tqdm

NODE_FEATURE_NAMES = ("atomic_num", "chirality", "degree", "formal_charge", "num_hs",
                      "num_radical_electrons", "hybridization", "is_aromatic", "is_in_ring")
EDGE_FEATURE_NAMES = ("bond_type", "bond_stereo", "is_conjugated")

_CHIRALITY = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER")
_HYBRIDIZATION = ("SP", "SP2", "SP3", "SP3D", "SP3D2")
_BOND_TYPE = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
_BOND_STEREO = ("STEREONONE", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS", "STEREOANY")

# How many values each feature takes, "misc" included (OGB's get_atom/bond_feature_dims).
NODE_FEATURE_SIZES = (119, len(_CHIRALITY) + 1, 12, 12, 10, 6, len(_HYBRIDIZATION) + 1, 2, 2)
EDGE_FEATURE_SIZES = (len(_BOND_TYPE) + 1, len(_BOND_STEREO), 2)


def _lookup(options: Sequence[str], misc: int | None = None) -> Callable[[Any], int]:
  """Maps an RDKit enum value (by name) to its index in `options`, else to `misc`.

  `misc` defaults to len(options), one past the list.
  """
  table = {name: index for index, name in enumerate(options)}
  misc = len(options) if misc is None else misc
  return lambda value: table.get(str(value), misc)


def _clipped(low: int, high: int) -> Callable[[int], int]:
  """Maps an integer in [low, high] to value - low; anything else to the misc index."""
  return lambda value: value - low if low <= value <= high else high - low + 1


_chirality = _lookup(_CHIRALITY)
_hybridization = _lookup(_HYBRIDIZATION)
_bond_type = _lookup(_BOND_TYPE)
_bond_stereo = _lookup(_BOND_STEREO, misc=len(_BOND_STEREO) - 1)  # OGB's list has no "misc"
_atomic_num = _clipped(1, 118)
_degree = _clipped(0, 10)
_formal_charge = _clipped(-5, 5)
_num_hs = _clipped(0, 8)
_radicals = _clipped(0, 4)


def atom_features(atom: Chem.Atom) -> tuple[int, ...]:
  """The 9 OGB node features of one atom, each an index below NODE_FEATURE_SIZES."""
  return (_atomic_num(atom.GetAtomicNum()), _chirality(atom.GetChiralTag()),
          _degree(atom.GetTotalDegree()), _formal_charge(atom.GetFormalCharge()),
          _num_hs(atom.GetTotalNumHs()), _radicals(atom.GetNumRadicalElectrons()),
          _hybridization(atom.GetHybridization()), int(atom.GetIsAromatic()),
          int(atom.IsInRing()))


def bond_features(bond: Chem.Bond) -> tuple[int, ...]:
  """The 3 OGB edge features of one bond, each an index below EDGE_FEATURE_SIZES."""
  return (_bond_type(bond.GetBondType()), _bond_stereo(bond.GetStereo()),
          int(bond.GetIsConjugated()))


@dataclasses.dataclass(frozen=True)
class MoleculeGraph:
  """One molecule: nodes [n, 9], edges [e, 3], and each edge's sender and receiver node."""

  node_features: np.ndarray
  edge_features: np.ndarray
  senders: np.ndarray
  receivers: np.ndarray

  @property
  def num_nodes(self) -> int:
    return len(self.node_features)

  @property
  def num_edges(self) -> int:
    return len(self.edge_features)


def smiles_to_graph(smiles: str) -> MoleculeGraph | None:
  """The molecule's heavy-atom graph, or None when RDKit cannot parse the SMILES."""
  molecule = Chem.MolFromSmiles(smiles)
  if molecule is None or molecule.GetNumAtoms() == 0:
    return None
  nodes = [atom_features(atom) for atom in molecule.GetAtoms()]
  edges, senders, receivers = [], [], []
  for bond in molecule.GetBonds():
    features = bond_features(bond)
    begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    edges += [features, features]
    senders += [begin, end]
    receivers += [end, begin]
  return MoleculeGraph(
      node_features=np.asarray(nodes, np.uint8).reshape(-1, len(NODE_FEATURE_SIZES)),
      edge_features=np.asarray(edges, np.uint8).reshape(-1, len(EDGE_FEATURE_SIZES)),
      senders=np.asarray(senders, np.int32), receivers=np.asarray(receivers, np.int32))


@dataclasses.dataclass(frozen=True)
class GraphSet:
  """Many graphs in flat arrays; graph i owns rows node_offsets[i]:node_offsets[i + 1].

  `senders`/`receivers` are indices within their own graph (0 is the graph's first node).
  """

  node_features: np.ndarray  # [total nodes, 9] uint8
  edge_features: np.ndarray  # [total edges, 3] uint8
  senders: np.ndarray  # [total edges] int32
  receivers: np.ndarray  # [total edges] int32
  node_offsets: np.ndarray  # [graphs + 1] int64
  edge_offsets: np.ndarray  # [graphs + 1] int64

  def __len__(self) -> int:
    return len(self.node_offsets) - 1

  @functools.cached_property
  def num_nodes(self) -> np.ndarray:
    return np.diff(self.node_offsets)

  @functools.cached_property
  def num_edges(self) -> np.ndarray:
    return np.diff(self.edge_offsets)

  def graph(self, index: int) -> MoleculeGraph:
    nodes = slice(self.node_offsets[index], self.node_offsets[index + 1])
    edges = slice(self.edge_offsets[index], self.edge_offsets[index + 1])
    return MoleculeGraph(self.node_features[nodes], self.edge_features[edges],
                         self.senders[edges], self.receivers[edges])

  def subset(self, indices: np.ndarray) -> GraphSet:
    """The graphs at `indices`, in that order."""
    indices = np.asarray(indices, np.int64)
    node_rows = concatenated_ranges(self.node_offsets[indices], self.num_nodes[indices])
    edge_rows = concatenated_ranges(self.edge_offsets[indices], self.num_edges[indices])
    offsets = lambda counts: np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # noqa: E731
    return GraphSet(self.node_features[node_rows], self.edge_features[edge_rows],
                    self.senders[edge_rows], self.receivers[edge_rows],
                    offsets(self.num_nodes[indices]), offsets(self.num_edges[indices]))

  @classmethod
  def array_names(cls) -> tuple[str, ...]:
    """The keys to_arrays writes (and from_arrays reads)."""
    return tuple(f"graph_{field.name}" for field in dataclasses.fields(cls))

  def to_arrays(self) -> dict[str, np.ndarray]:
    return {f"graph_{field.name}": getattr(self, field.name) for field in dataclasses.fields(self)}

  @classmethod
  def from_arrays(cls, arrays: Any) -> GraphSet:
    return cls(**{field.name: np.asarray(arrays[f"graph_{field.name}"])
                  for field in dataclasses.fields(cls)})


def concatenated_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
  """np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts)]), vectorised."""
  counts = np.asarray(counts, np.int64)
  within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
  return np.repeat(np.asarray(starts, np.int64), counts) + within


def from_graphs(graphs: Sequence[MoleculeGraph]) -> GraphSet:
  """Concatenates graphs into one GraphSet."""
  offsets = lambda counts: np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # noqa: E731
  concat = lambda arrays, dtype, width=None: (  # noqa: E731
      np.concatenate(arrays).astype(dtype) if arrays else
      np.zeros((0,) if width is None else (0, width), dtype))
  return GraphSet(
      node_features=concat([g.node_features for g in graphs], np.uint8, len(NODE_FEATURE_SIZES)),
      edge_features=concat([g.edge_features for g in graphs], np.uint8, len(EDGE_FEATURE_SIZES)),
      senders=concat([g.senders for g in graphs], np.int32),
      receivers=concat([g.receivers for g in graphs], np.int32),
      node_offsets=offsets([g.num_nodes for g in graphs]),
      edge_offsets=offsets([g.num_edges for g in graphs]))


def graphs_from_smiles(smiles: Sequence[str], what: str = "molecules"
                       ) -> tuple[GraphSet, np.ndarray]:
  """Converts every SMILES; returns the graphs and the indices of those RDKit could parse.

  Shows one progress line on stderr (a first conversion of QM9 takes about 45 s): a live bar
  on a terminal, a line every 30 s in a log."""
  RDLogger.DisableLog("rdApp.*")  # unparseable SMILES are counted by the caller, not printed
  try:
    progress = tqdm(smiles, desc=f"converting {what} to graphs (once; cached)", unit="mol",
                    file=sys.stderr, disable=len(smiles) < 1000, leave=False,
                    mininterval=0.5 if sys.stderr.isatty() else 30.0)
    converted = [smiles_to_graph(s) for s in progress]
  finally:
    RDLogger.EnableLog("rdApp.*")
  kept = np.asarray([i for i, g in enumerate(converted) if g is not None], np.int64)
  return from_graphs([g for g in converted if g is not None]), kept


@dataclasses.dataclass(frozen=True)
class MoleculeDataset:
  """Graphs with per-task labels (a mask marks the labels that exist) and fixed splits."""

  graphs: GraphSet
  labels: np.ndarray  # [graphs, tasks] float32; 0 where label_mask is False
  label_mask: np.ndarray  # [graphs, tasks] bool
  splits: dict[str, np.ndarray]  # split name -> indices into graphs
  task_names: tuple[str, ...]
  num_skipped: int = 0  # molecules RDKit could not parse
  label_mean: np.ndarray | None = None  # the standardisation undone by labels * std + mean
  label_std: np.ndarray | None = None

  @property
  def num_tasks(self) -> int:
    return self.labels.shape[1]


# -- the on-disk cache -----------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
  del size, mtime_ns  # part of the memo key: a changed file is hashed again
  with open(path, "rb") as file:
    return hashlib.file_digest(file, "sha1").hexdigest()


def source_fingerprint(files: Sequence[Path]) -> str:
  """A hash of the files' contents (memoised per process while they stay unchanged)."""
  digests = []
  for path in files:
    stat = path.stat()
    digests.append(_file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns))
  return hashlib.sha1("|".join(digests).encode()).hexdigest()


def load_cached(path: Path, required: Sequence[str]) -> dict[str, np.ndarray] | None:
  """The arrays stored at `path`, or None if absent or damaged (the caller rebuilds it)."""
  if not path.is_file():
    return None
  try:
    with np.load(path, allow_pickle=False) as stored:
      arrays = {name: stored[name] for name in stored.files}
  except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
    return None
  wanted = (*required, *GraphSet.array_names())
  return arrays if all(name in arrays for name in wanted) else None


def save_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
  """Writes an npz next to `path` and renames it into place; a failure only loses the cache."""
  partial = path.with_name(f"{path.stem}.partial{np.random.randint(1 << 30)}.npz")
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(partial, **arrays)
    partial.replace(path)
  except OSError:
    partial.unlink(missing_ok=True)

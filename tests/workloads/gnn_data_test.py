"""GNN data: the real QM9 CSVs, SMILES → graphs, the cache, splits, padded batches, molpcba."""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from algoperf_lab.data import paths
from workloads.gnn import batching, input_pipeline, molecules, ogb_molpcba, qm9
from workloads.gnn.batching import BatchBudget
from workloads.gnn.molecules import EDGE_FEATURE_SIZES, NODE_FEATURE_SIZES, MoleculeDataset

QM9_ROWS = 130_831  # the CSVs hold QM9 without its 3,054 molecules that fail the geometry check
NUM_CONVERTED = 300


@pytest.fixture(scope="module")
def rows() -> qm9.Qm9Rows:
  return qm9.read_rows(qm9.find_csv_files())


@pytest.fixture(scope="module")
def sample(rows: qm9.Qm9Rows) -> MoleculeDataset:
  """The first few hundred molecules of QM9's fixed order, converted, split and standardised."""
  order = qm9.molecule_order(len(rows), NUM_CONVERTED)
  graphs, targets, skipped = qm9.convert_rows(rows.take(order))
  assert skipped == 0
  splits = qm9.split_indices(len(graphs), 0.1, 0.1)
  labels, mean, std = qm9.standardise(targets, splits["train"])
  return MoleculeDataset(graphs, labels, np.ones(labels.shape, bool), splits, qm9.TASK_NAMES,
                         label_mean=mean, label_std=std)


# -- the CSVs ------------------------------------------------------------------------------------
def test_csv_files_hold_the_columns() -> None:
  for path in qm9.find_csv_files():
    with open(path, newline="") as file:
      header = next(csv.reader(file))
    assert header[:3] == ["XYZ_file", "Index", "SMILES"]
    assert all(column in header for _, column in qm9.TASKS)


def test_csv_rows(rows: qm9.Qm9Rows) -> None:
  assert len(rows) == QM9_ROWS
  assert rows.targets.shape == (QM9_ROWS, qm9.NUM_TASKS) and np.isfinite(rows.targets).all()
  assert rows.smiles[:3] == ["C", "N", "O"]  # methane, ammonia, water
  methane = dict(zip(qm9.TASK_NAMES, rows.targets[0]))
  assert methane["mu"] == 0.0 and methane["alpha"] == 13.21
  assert methane["u0"] == pytest.approx(-40.47893)
  assert methane["cv"] == pytest.approx(6.469)
  gaps = rows.targets[:, qm9.TASK_NAMES.index("gap")]
  lumo_minus_homo = rows.targets[:, 3] - rows.targets[:, 2]
  np.testing.assert_allclose(gaps, lumo_minus_homo, atol=1e-3)


def test_missing_qm9_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
  with pytest.raises(paths.DatasetNotFoundError) as error:
    qm9.find_csv_files(tmp_path)
  assert "pip install qm9pack" in str(error.value) and "scripts/setup.sh" in str(error.value)
  monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
  with pytest.raises(paths.DatasetNotFoundError, match="pip install qm9pack"):
    qm9.load()


# -- SMILES → graph ------------------------------------------------------------------------------
def test_water_is_one_node() -> None:
  water = molecules.smiles_to_graph("O")
  assert water is not None and (water.num_nodes, water.num_edges) == (1, 0)
  features = dict(zip(molecules.NODE_FEATURE_NAMES, water.node_features[0]))
  assert features["atomic_num"] == 7  # oxygen, Z = 8, index Z - 1
  assert features["num_hs"] == 2 and features["degree"] == 2  # degree counts the hydrogens
  assert features["hybridization"] == 2  # SP3
  assert water.edge_features.shape == (0, 3) and water.senders.shape == (0,)


def test_ethanol_edges_run_both_ways() -> None:
  ethanol = molecules.smiles_to_graph("CCO")
  assert ethanol is not None and (ethanol.num_nodes, ethanol.num_edges) == (3, 4)
  assert list(ethanol.node_features[:, 0]) == [5, 5, 7]
  pairs = list(zip(ethanol.senders.tolist(), ethanol.receivers.tolist()))
  assert pairs == [(0, 1), (1, 0), (1, 2), (2, 1)]
  assert (ethanol.edge_features == [0, 0, 0]).all()  # single, no stereo, not conjugated


def test_benzene_is_aromatic() -> None:
  benzene = molecules.smiles_to_graph("c1ccccc1")
  assert benzene is not None and (benzene.num_nodes, benzene.num_edges) == (6, 12)
  nodes = dict(zip(molecules.NODE_FEATURE_NAMES, benzene.node_features.T))
  assert (nodes["is_aromatic"] == 1).all() and (nodes["is_in_ring"] == 1).all()
  assert (nodes["hybridization"] == 1).all() and (nodes["num_hs"] == 1).all()  # SP2, one H
  assert (benzene.edge_features == [3, 0, 1]).all()  # aromatic, no stereo, conjugated
  assert np.bincount(benzene.senders).tolist() == [2] * 6


def test_charges_and_unknown_values() -> None:
  ammonium = molecules.smiles_to_graph("[NH4+]")
  assert ammonium is not None
  assert ammonium.node_features[0, 3] == 6 and ammonium.node_features[0, 4] == 4  # +1, 4 H
  carbene = molecules.smiles_to_graph("[CH2]")  # two radical electrons
  assert carbene is not None and carbene.node_features[0, 5] == 2


def test_unparseable_smiles_are_skipped_and_counted() -> None:
  graphs, kept = molecules.graphs_from_smiles(["CCO", "C1CC", "not a molecule", "O"])
  assert kept.tolist() == [0, 3] and len(graphs) == 2
  assert graphs.num_nodes.tolist() == [3, 1]
  assert molecules.smiles_to_graph("C1CC") is None


def test_features_within_ranges(sample: MoleculeDataset) -> None:
  graphs = sample.graphs
  assert graphs.node_features.dtype == np.uint8 and graphs.node_features.shape[1] == 9
  assert (graphs.node_features.max(axis=0) < np.asarray(NODE_FEATURE_SIZES)).all()
  assert (graphs.edge_features.max(axis=0) < np.asarray(EDGE_FEATURE_SIZES)).all()
  assert 1 <= graphs.num_nodes.min() and graphs.num_nodes.max() <= 9  # QM9: up to 9 heavy atoms
  assert (graphs.num_edges % 2 == 0).all()
  for index in range(len(graphs)):
    graph = graphs.graph(index)
    assert graph.senders.max(initial=0) < graph.num_nodes
    assert graph.receivers.max(initial=0) < graph.num_nodes


def test_graph_set_subset_matches_graphs(sample: MoleculeDataset) -> None:
  picked = np.array([5, 0, 17, 5])
  subset = sample.graphs.subset(picked)
  assert len(subset) == 4
  for position, index in enumerate(picked):
    want, got = sample.graphs.graph(int(index)), subset.graph(position)
    for field in ("node_features", "edge_features", "senders", "receivers"):
      np.testing.assert_array_equal(getattr(got, field), getattr(want, field))


# -- splits, standardisation and the cache -------------------------------------------------------
def test_splits_are_disjoint_and_sized() -> None:
  splits = qm9.split_indices(QM9_ROWS, 0.1, 0.1)
  sizes = {name: len(indices) for name, indices in splits.items()}
  assert sizes == {"train": 104_665, "validation": 13_083, "test": 13_083}
  joined = np.concatenate(list(splits.values()))
  assert np.array_equal(np.sort(joined), np.arange(QM9_ROWS))
  with pytest.raises(ValueError, match="leave some training"):
    qm9.split_indices(100, 0.5, 0.5)


def test_molecule_order_is_fixed_and_prefix_subsets() -> None:
  order = qm9.molecule_order(QM9_ROWS)
  np.testing.assert_array_equal(order, qm9.molecule_order(QM9_ROWS))
  np.testing.assert_array_equal(qm9.molecule_order(QM9_ROWS, 1000), order[:1000])
  assert not np.array_equal(order[:100], np.arange(100))


def test_targets_standardised_on_train(sample: MoleculeDataset) -> None:
  train = sample.labels[sample.splits["train"]]
  np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
  np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-4)
  validation = sample.labels[sample.splits["validation"]]
  assert not np.allclose(validation.mean(axis=0), 0.0, atol=1e-3)  # not rescaled on its own
  assert sample.label_std is not None and (sample.label_std > 0).all()


def test_load_caches_and_rebuilds_damaged_cache(rows: qm9.Qm9Rows, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path))
  reads = []
  monkeypatch.setattr(qm9, "read_rows", lambda files: reads.append(files) or rows)
  first = qm9.load(max_molecules=120)
  (cache,) = (tmp_path / "cache").glob("qm9_*.npz")
  assert len(reads) == 1 and len(first.graphs) == 120 and first.num_tasks == 12
  assert first.num_skipped == 0
  assert {name: len(i) for name, i in first.splits.items()} == {
      "train": 96, "validation": 12, "test": 12}
  again = qm9.load(max_molecules=120)
  assert len(reads) == 1  # read from the cache
  np.testing.assert_array_equal(again.labels, first.labels)
  np.testing.assert_array_equal(again.graphs.node_features, first.graphs.node_features)
  cache.write_bytes(cache.read_bytes()[:200])  # damaged
  rebuilt = qm9.load(max_molecules=120)
  assert len(reads) == 2
  np.testing.assert_array_equal(rebuilt.labels, first.labels)
  assert len(list((tmp_path / "cache").glob("*.npz"))) == 1  # no partial files left behind
  assert qm9.cache_path(qm9.find_csv_files(), 121) != cache  # keyed by the subset


# -- padded batches ------------------------------------------------------------------------------
def _budget() -> BatchBudget:
  return BatchBudget.for_batch_size(batch_size=8, nodes_per_graph=6, edges_per_graph=12)


def test_budget_for_batch_size() -> None:
  budget = BatchBudget.for_batch_size(64, 9, 20)
  assert (budget.max_graphs, budget.max_nodes, budget.max_edges) == (65, 577, 1280)
  assert budget.fits(64, 576, 1280) and not budget.fits(65, 10, 10)
  assert not budget.fits(1, 577, 0)  # one node slot stays for padding


def test_packing_covers_every_graph_once(sample: MoleculeDataset) -> None:
  budget = _budget()
  graphs = sample.graphs
  order = np.random.default_rng(0).permutation(len(graphs))
  batches = list(batching.pack_in_order(graphs.num_nodes, graphs.num_edges, order, budget))
  np.testing.assert_array_equal(np.concatenate(batches), order)  # none dropped, none repeated
  for indices, following in zip(batches, batches[1:] + [None]):
    nodes, edges = graphs.num_nodes[indices].sum(), graphs.num_edges[indices].sum()
    assert budget.fits(len(indices), nodes, edges)
    if following is not None:  # greedy: the next graph did not fit
      first = following[0]
      assert not budget.fits(len(indices) + 1, nodes + graphs.num_nodes[first],
                             edges + graphs.num_edges[first])


def test_padded_batch_layout(sample: MoleculeDataset) -> None:
  budget = _budget()
  indices = batching.next_greedy_batch(np.arange(len(sample.graphs)), 0, sample.graphs.num_nodes,
                                       sample.graphs.num_edges, budget)
  batch = batching.pad_batch(sample, np.asarray(indices), budget)
  n_graphs = len(indices)
  n_nodes = int(sample.graphs.num_nodes[indices].sum())
  n_edges = int(sample.graphs.num_edges[indices].sum())
  G, N, E, T = budget.max_graphs, budget.max_nodes, budget.max_edges, 12
  shapes = {"node_features": (N, 9), "edge_features": (E, 3), "senders": (E,), "receivers": (E,),
            "node_graph_index": (N,), "node_mask": (N,), "edge_mask": (E,), "graph_mask": (G,),
            "targets": (G, T), "target_mask": (G, T), "weights": (G, T)}
  assert {key: value.shape for key, value in batch.items()} == shapes
  assert batch["node_mask"].sum() == n_nodes and batch["node_mask"][:n_nodes].all()
  assert batch["edge_mask"].sum() == n_edges and batch["edge_mask"][:n_edges].all()
  assert batch["graph_mask"].sum() == n_graphs and batch["graph_mask"][:n_graphs].all()
  # Segment ids in bounds; real edges stay inside their graph; padding goes to padding slots.
  for key in ("senders", "receivers"):
    assert 0 <= batch[key].min() and batch[key].max() < N
    assert (batch[key][~batch["edge_mask"]] == N - 1).all()
  node_graph = batch["node_graph_index"]
  assert 0 <= node_graph.min() and node_graph.max() < G
  assert (node_graph[:n_nodes] < n_graphs).all() and (node_graph[n_nodes:] == G - 1).all()
  real = batch["edge_mask"]
  np.testing.assert_array_equal(node_graph[batch["senders"][real]],
                                node_graph[batch["receivers"][real]])
  np.testing.assert_array_equal(np.bincount(node_graph[:n_nodes]),
                                sample.graphs.num_nodes[indices])
  # Each graph's rows are its own features and labels.
  last = indices[-1]
  last_rows = node_graph[:n_nodes] == n_graphs - 1
  np.testing.assert_array_equal(batch["node_features"][:n_nodes][last_rows],
                                sample.graphs.graph(last).node_features)
  np.testing.assert_array_equal(batch["targets"][:n_graphs], sample.labels[indices])
  assert batch["weights"][n_graphs:].sum() == 0 and batch["weights"][:n_graphs].all()


def test_graph_larger_than_a_batch_is_an_error(sample: MoleculeDataset) -> None:
  tiny_budget = BatchBudget(max_graphs=4, max_nodes=4, max_edges=100)
  big = int(np.argmax(sample.graphs.num_nodes))
  with pytest.raises(ValueError, match=f"graph {big} has 9 nodes"):
    list(batching.pack_in_order(sample.graphs.num_nodes, sample.graphs.num_edges,
                                np.array([big]), tiny_budget))
  with pytest.raises(ValueError, match="do not fit"):
    batching.pad_batch(sample, np.arange(10), tiny_budget)
  with pytest.raises(ValueError, match="padding"):
    BatchBudget(max_graphs=1, max_nodes=10, max_edges=10)


def test_train_batches_deterministic_and_resumable(sample: MoleculeDataset) -> None:
  budget = _budget()
  first = input_pipeline.train_batches(sample, "train", budget, seed=3)
  iterator = iter(first)
  batches = [next(iterator) for _ in range(6)]
  again = iter(input_pipeline.train_batches(sample, "train", budget, seed=3))
  for want in batches:
    np.testing.assert_array_equal(next(again)["node_features"], want["node_features"])
  other = next(iter(input_pipeline.train_batches(sample, "train", budget, seed=4)))
  assert not np.array_equal(other["targets"], batches[0]["targets"])
  # Resuming from a saved state yields the same batches.
  iterator = iter(first)
  next(iterator), next(iterator)
  state = iterator.get_state()
  expected = [next(iterator) for _ in range(3)]
  resumed = iter(first)
  resumed.set_state(state)
  for want in expected:
    got = next(resumed)
    for key in ("node_features", "senders", "targets", "weights"):
      np.testing.assert_array_equal(got[key], want[key])


def test_train_batches_draw_only_train_graphs_each_epoch_once(sample: MoleculeDataset) -> None:
  budget = _budget()
  train = set(sample.splits["train"].tolist())
  iterator = iter(input_pipeline.train_batches(sample, "train", budget, seed=0))
  seen = []
  while len(seen) < len(train):
    batch = next(iterator)
    real = batch["targets"][batch["graph_mask"]]
    seen += [int(np.flatnonzero((sample.labels == row).all(axis=1))[0]) for row in real]
  assert sorted(seen[:len(train)]) == sorted(train)


def test_eval_batches_take_the_first_examples_in_order(sample: MoleculeDataset) -> None:
  budget = _budget()
  batches = input_pipeline.eval_batches(sample, "validation", 20, budget)
  targets = input_pipeline.real_graph_rows(batches, "targets")
  np.testing.assert_array_equal(targets, sample.labels[sample.splits["validation"][:20]])


# -- ogbg-molpcba (a synthetic folder in its on-disk format) -------------------------------------
def _write_csv_gz(path: Path, rows: list[list[str]]) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with gzip.open(path, "wt", newline="") as file:
    csv.writer(file).writerows(rows)


def _fake_molpcba(folder: Path) -> None:
  tasks = [f"PCBA-{i}" for i in range(ogb_molpcba.NUM_TASKS)]
  smiles = ["CCO", "c1ccccc1", "not a molecule", "O", "CC(=O)O"]
  rows = []
  for row, text in enumerate(smiles):
    labels = ["" if (row + task) % 3 == 0 else str((row * task) % 2)
              for task in range(ogb_molpcba.NUM_TASKS)]
    rows.append(labels + [str(row), text])
  _write_csv_gz(folder / "mapping" / "mol.csv.gz", [tasks + ["mol_id", "smiles"]] + rows)
  for name, indices in {"train": [0, 1, 2], "valid": [3], "test": [4]}.items():
    _write_csv_gz(folder / "split" / "scaffold" / f"{name}.csv.gz", [[i] for i in indices])


def test_molpcba_reads_ogb_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "root"))
  _fake_molpcba(tmp_path / "ogbg_molpcba")
  dataset = ogb_molpcba.load(str(tmp_path))
  assert len(dataset.graphs) == 4 and dataset.num_skipped == 1
  assert dataset.labels.shape == (4, 128) and dataset.num_tasks == 128
  assert dataset.task_names[:2] == ("PCBA-0", "PCBA-1")
  # Row 2 did not parse: train keeps rows 0 and 1; rows 3, 4 are graphs 2, 3.
  assert {name: s.tolist() for name, s in dataset.splits.items()} == {
      "train": [0, 1], "validation": [2], "test": [3]}
  for graph, row in enumerate([0, 1, 3, 4]):
    present = [(row + task) % 3 != 0 for task in range(128)]
    np.testing.assert_array_equal(dataset.label_mask[graph], present)
    values = [(row * task) % 2 if p else 0 for task, p in enumerate(present)]
    np.testing.assert_array_equal(dataset.labels[graph], values)
  assert dataset.graphs.num_nodes.tolist() == [3, 6, 1, 4]
  assert len(list((tmp_path / "root" / "cache").glob("molpcba_*.npz"))) == 1
  cached = ogb_molpcba.load(str(tmp_path / "ogbg_molpcba"))
  np.testing.assert_array_equal(cached.label_mask, dataset.label_mask)


def test_molpcba_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path))
  with pytest.raises(paths.DatasetNotFoundError, match="ogbg-molpcba"):
    ogb_molpcba.load(None)
  with pytest.raises(paths.DatasetNotFoundError, match="--data_dir"):
    ogb_molpcba.load(str(tmp_path / "elsewhere"))


def test_average_precision_by_hand() -> None:
  labels = np.array([1, 0, 1, 0], bool)
  scores = np.array([0.9, 0.8, 0.7, 0.1])
  # Thresholds: 0.9 (P=1, R=.5), 0.8 (P=.5), 0.7 (P=2/3, R=1): AP = .5 * 1 + .5 * 2/3.
  assert ogb_molpcba.average_precision(labels, scores) == pytest.approx(0.5 + 1 / 3)
  # Tied scores count as one threshold.
  assert ogb_molpcba.average_precision(np.array([1, 0], bool), np.array([0.5, 0.5])) == 0.5
  assert ogb_molpcba.average_precision(labels, -scores) < 0.6


def test_mean_average_precision_skips_one_class_tasks_and_missing_labels() -> None:
  labels = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]], np.float32)
  scores = np.array([[0.9, 0.1, 0.3], [0.8, 0.2, 0.9], [0.7, 0.3, 0.2], [0.1, 0.4, 0.8]])
  mask = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1], [1, 0, 1]], bool)
  # Task 1's valid labels are all 1: left out. Task 2 is ranked perfectly (AP 1).
  expected = (0.5 + 1 / 3 + 1.0) / 2
  assert ogb_molpcba.mean_average_precision(labels, scores, mask) == pytest.approx(expected)
  assert np.isnan(ogb_molpcba.mean_average_precision(labels[:, 1:2], scores[:, 1:2],
                                                     mask[:, 1:2]))


# -- issue 13: a batch size the dataset cannot fill ----------------------------------------------
def test_a_batch_larger_than_the_train_split_is_refused_up_front(sample: MoleculeDataset) -> None:
  """get_batch_size returning 10**9 used to hang in next_greedy_batch, deaf to signals."""
  num_train = len(sample.splits["train"])
  budget = BatchBudget.for_batch_size(10**9, nodes_per_graph=12, edges_per_graph=24)
  with pytest.raises(batching.BatchSizeError, match=f"batch size 1000000000 .* {num_train} graphs"):
    input_pipeline.train_batches(sample, "train", budget, seed=0)
  whole = BatchBudget.for_batch_size(num_train, nodes_per_graph=30, edges_per_graph=60)
  first = next(iter(input_pipeline.train_batches(sample, "train", whole, seed=0)))
  assert first["graph_mask"].sum() == num_train  # the largest batch the split fills


def test_greedy_packing_reads_a_bounded_part_of_an_endless_stream(sample: MoleculeDataset) -> None:
  class Endless:
    """An index stream as long as a repeated grain dataset; counts the positions read."""

    def __init__(self) -> None:
      self.reads = 0

    def __len__(self) -> int:
      return 2**62

    def __getitem__(self, position: int) -> int:
      self.reads += 1
      return position % 3

  order = Endless()
  budget = BatchBudget(max_graphs=5, max_nodes=10**6, max_edges=10**6)
  batch = batching.next_greedy_batch(order, 0, sample.graphs.num_nodes, sample.graphs.num_edges,
                                     budget)
  assert batch == [0, 1, 2, 0] and order.reads <= budget.max_graphs


def test_a_long_conversion_shows_one_progress_line(capsys):
  """Issue 20: the first QM9 conversion was silent for about 45 s."""
  molecules.graphs_from_smiles(["CCO"] * 1200, "test molecules")
  err = capsys.readouterr().err
  assert "converting test molecules to graphs (once; cached)" in err

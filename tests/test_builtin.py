"""Tests of golden.builtin: the generated two-class dataset is deterministic, well formed and
balanced, its classes differ in cycle count, and random graphs obey their arguments.
"""

from __future__ import annotations

import numpy as np
import pytest

from golden.builtin import (
    builtin_dataset,
    cycle_rank,
    random_graph,
    random_graphs_within,
    stratified_folds,
)
from golden.datasets import Graph


def ring(n: int) -> np.ndarray:
    adjacency = np.zeros((n, n), dtype=np.int64)
    adjacency[np.arange(n), (np.arange(n) + 1) % n] = 1
    return adjacency | adjacency.T


def n_components(adjacency: np.ndarray) -> int:
    """Connected components via the transitive closure, independent of cycle_rank."""
    n = adjacency.shape[0]
    reach = (adjacency | adjacency.T | np.eye(n, dtype=np.int64)) > 0
    for _ in range(n):
        reach = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
    return len({tuple(row) for row in reach})


@pytest.fixture(scope="module")
def dataset():
    return builtin_dataset()


# --------------------------------------------------------------------------------------------
# cycle_rank


@pytest.mark.parametrize(
    ("adjacency", "expected"),
    [
        pytest.param(ring(6), 1, id="hexagon"),
        pytest.param(ring(5), 1, id="pentagon"),
        pytest.param(np.ones((4, 4), dtype=np.int64) - np.eye(4, dtype=np.int64), 3, id="K4"),
        pytest.param(np.zeros((3, 3), dtype=np.int64), 0, id="isolated"),
        pytest.param(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]]), 0, id="star"),
        pytest.param(np.kron(np.eye(2, dtype=np.int64), ring(3)), 2, id="two-triangles"),
        pytest.param(np.array([[1, 1], [0, 0]]), 0, id="directed-entry-and-self-loop"),
    ],
)
def test_cycle_rank_of_known_graphs(adjacency, expected):
    assert cycle_rank(adjacency) == expected


def test_cycle_rank_accepts_a_graph():
    assert cycle_rank(Graph(ring(6), np.ones((6, 1)), 0)) == 1


# --------------------------------------------------------------------------------------------
# builtin_dataset


def test_equal_seeds_give_equal_datasets(dataset):
    again = builtin_dataset(seed=0)
    assert len(again) == len(dataset)
    for a, b in zip(dataset, again, strict=True):
        np.testing.assert_array_equal(a.adjacency, b.adjacency)
        np.testing.assert_array_equal(a.features, b.features)
        assert a.label == b.label
    for (train_a, test_a), (train_b, test_b) in zip(dataset.folds, again.folds, strict=True):
        np.testing.assert_array_equal(train_a, train_b)
        np.testing.assert_array_equal(test_a, test_b)


def test_different_seeds_give_different_datasets(dataset):
    other = builtin_dataset(seed=1)
    assert not np.array_equal(other.labels, dataset.labels)
    assert [a.n_nodes for a in dataset] != [b.n_nodes for b in other]


def test_description(dataset):
    assert dataset.name == "builtin"
    assert len(dataset) == 60
    assert dataset.n_classes == 2
    assert dataset.n_tags == 7
    assert dataset.label_values == (0, 1)
    assert dataset.tag_values == tuple(range(7))


def test_graphs_are_undirected_loop_free_connected_and_one_hot(dataset):
    for graph in dataset:
        adjacency = graph.adjacency
        assert set(np.unique(adjacency)) <= {0, 1}
        np.testing.assert_array_equal(adjacency, adjacency.T)
        assert not np.diagonal(adjacency).any()
        assert 4 <= graph.n_nodes <= 24
        assert graph.degrees.min() >= 1
        assert graph.degrees.max() <= 4
        assert n_components(adjacency) == 1
        np.testing.assert_array_equal(graph.features.sum(axis=1), 1.0)
        assert set(np.unique(graph.features)) <= {0.0, 1.0}


def test_classes_are_balanced(dataset):
    np.testing.assert_array_equal(np.bincount(dataset.labels), [30, 30])
    np.testing.assert_array_equal(np.bincount(builtin_dataset(n_graphs=41).labels), [21, 20])


def test_classes_differ_in_cycle_count(dataset):
    ranks = np.array([cycle_rank(graph) for graph in dataset])
    cycles_0 = ranks[dataset.labels == 0]
    cycles_1 = ranks[dataset.labels == 1]
    # Class 0 is trees only; every class-1 graph has at least one ring, several have more.
    np.testing.assert_array_equal(cycles_0, 0)
    assert cycles_1.min() >= 1
    assert cycles_1.mean() > 1.5
    # Cycle rank = edges - nodes + components, checked by hand for the first class-1 graph.
    first = dataset[int(np.flatnonzero(dataset.labels == 1)[0])]
    assert cycles_1[0] == first.n_edges // 2 - first.n_nodes + 1


def test_class_one_rings_carry_tag_zero(dataset):
    tag_zero = np.array([graph.features[:, 0].sum() for graph in dataset])
    assert tag_zero[dataset.labels == 1].min() >= 5
    assert tag_zero[dataset.labels == 1].mean() > 2 * tag_zero[dataset.labels == 0].mean()


def test_node_counts_stay_within_a_small_maximum():
    small = builtin_dataset(n_graphs=100, seed=3, max_nodes=6, n_tags=1)
    sizes = np.array([graph.n_nodes for graph in small])
    assert sizes.min() >= 4
    assert sizes.max() == 6
    np.testing.assert_array_equal(np.concatenate([g.features for g in small]), 1.0)


def test_folds_are_stratified_and_partition_the_graphs(dataset):
    assert len(dataset.folds) == 10
    tests = []
    for train, test in dataset.folds:
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(60))
        np.testing.assert_array_equal(np.bincount(dataset.labels[test], minlength=2), [3, 3])
        tests.append(test)
    np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.arange(60))
    train, test = dataset.fold(1)
    assert (len(train), len(test)) == (54, 6)


def test_stratified_folds_of_uneven_classes():
    labels = np.array([0] * 7 + [1] * 4 + [2] * 2)
    folds = stratified_folds(labels, 3, rng=0)
    sizes = [len(test) for _, test in folds]
    assert sorted(sizes) == [4, 4, 5]
    for k in range(3):
        for value, count in ((0, 7), (1, 4), (2, 2)):
            in_test = np.count_nonzero(labels[folds[k][1]] == value)
            assert in_test in (count // 3, -(-count // 3))
    with pytest.raises(ValueError, match="n_folds \\(20\\) must not exceed the number of graphs"):
        stratified_folds(labels, 20, rng=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_nodes": 5}, ValueError, "max_nodes must be at least 6, but it is 5"),
        ({"n_graphs": 9}, ValueError, "n_graphs must be at least 10, but it is 9"),
        ({"seed": -1}, ValueError, "seed must be at least 0, but it is -1"),
        ({"n_tags": 0}, ValueError, "n_tags must be at least 1, but it is 0"),
        ({"n_folds": 1}, ValueError, "n_folds must be at least 2, but it is 1"),
        ({"n_graphs": 60.0}, TypeError, "n_graphs must be an integer, not 60.0"),
        ({"seed": True}, TypeError, "seed must be an integer, not True"),
    ],
)
def test_builtin_dataset_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        builtin_dataset(**kwargs)


# --------------------------------------------------------------------------------------------
# random_graph


def test_random_graph_is_symmetric_loop_free_and_in_range():
    graph = random_graph(np.random.default_rng(7), 12, 0.4, 5, label=1, name="r")
    np.testing.assert_array_equal(graph.adjacency, graph.adjacency.T)
    assert not np.diagonal(graph.adjacency).any()
    assert graph.features.shape == (12, 5)
    assert 0.0 <= graph.features.min() and graph.features.max() <= 1.0
    assert (graph.label, graph.name) == (1, "r")
    assert 0 < graph.n_edges < 12 * 11


def test_random_graph_is_deterministic_for_a_seed():
    a, b = random_graph(3, 8, 0.5, 2), random_graph(3, 8, 0.5, 2)
    np.testing.assert_array_equal(a.adjacency, b.adjacency)
    np.testing.assert_array_equal(a.features, b.features)
    c = random_graph(4, 8, 0.5, 2)
    assert not np.array_equal(a.features, c.features)


def test_random_graph_density_extremes_and_isolated_nodes():
    assert random_graph(0, 6, 0.0, 1).n_edges == 0
    np.testing.assert_array_equal(random_graph(0, 6, 1.0, 1).degrees, [5] * 6)
    graph = random_graph(0, 10, 1.0, 1, n_isolated=3)
    np.testing.assert_array_equal(np.sort(graph.degrees), [0, 0, 0] + [6] * 7)
    assert random_graph(0, 1, 1.0, 1).n_edges == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, 5, 1.5, 2), {}, ValueError, "density must lie in \\[0, 1\\], but it is 1.5"),
        ((0, 5, "x", 2), {}, TypeError, "density must be a number"),
        ((0, 0, 0.5, 2), {}, ValueError, "n_nodes must be at least 1, but it is 0"),
        ((0, 5, 0.5, 0), {}, ValueError, "n_features must be at least 1, but it is 0"),
        ((0, 5, 0.5, 2), {"n_isolated": 6}, ValueError, "n_isolated \\(6\\) must not exceed"),
    ],
)
def test_random_graph_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        random_graph(*args, **kwargs)


def test_random_graphs_within_respect_the_limits_and_the_seed():
    graphs = random_graphs_within(np.random.default_rng(5), 60, 12, 20, 3)
    assert len(graphs) == 60
    assert all(1 <= g.n_nodes <= 12 and g.n_edges <= 20 for g in graphs)
    assert {g.n_nodes for g in graphs} >= {1, 12}
    assert all(g.features.shape == (g.n_nodes, 3) for g in graphs)
    again = random_graphs_within(np.random.default_rng(5), 60, 12, 20, 3)
    assert all(np.array_equal(a.adjacency, b.adjacency) for a, b in zip(graphs, again, strict=True))
    # Dense draws over the edge limit are redrawn sparser, not dropped or truncated.
    dense = random_graphs_within(np.random.default_rng(1), 40, 30, 8, 2)
    assert max(g.n_edges for g in dense) <= 8 and max(g.n_nodes for g in dense) > 20

"""Tests of golden.datasets: the graph text and TUDataset loaders on hand-written files, their
error messages, folds and padded batches, and the MUTAG benchmark where ../shared is present.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from golden.datasets import (
    DatasetFormatError,
    Graph,
    GraphDataset,
    degree_one_hot,
    load_dataset,
    load_text,
    load_tudataset,
    mutag_path,
    shared_data_dir,
)

# Two graphs: a 3-node path 0-1-2 with label 5 and tags 3, 7, 3; a single directed entry
# 1 -> 0 (node 1 aggregates node 0) with label -2 and tags 7, 9.
TINY = """2
3 5
3 1 1
7 2 0 2
3 1 1
2 -2
7 0
9 1 0
"""


def write(tmp_path, text: str, name: str = "tiny.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_at(path, line: int, words: str) -> str:
    """Pattern of a DatasetFormatError message naming ``path``, ``line`` and some words."""
    return f"^{re.escape(str(path))}, line {line}: expected .*{words}"


# --------------------------------------------------------------------------------------------
# The text format


def test_load_text_values(tmp_path):
    dataset = load_text(write(tmp_path, TINY))

    assert dataset.name == "tiny"
    assert len(dataset) == 2
    assert dataset.n_classes == 2
    assert dataset.label_values == (-2, 5)
    assert dataset.tag_values == (3, 7, 9)
    assert dataset.n_tags == 3
    assert dataset.folds == ()
    np.testing.assert_array_equal(dataset.labels, [1, 0])

    path_graph, pair = dataset[0], dataset[1]
    np.testing.assert_array_equal(path_graph.adjacency, [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(path_graph.features, [[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    assert path_graph.adjacency.dtype == np.int64
    assert path_graph.features.dtype == np.float64
    assert path_graph.n_nodes == 3
    assert path_graph.n_edges == 4
    np.testing.assert_array_equal(path_graph.degrees, [1, 2, 1])
    assert path_graph.name == "tiny[0]"

    np.testing.assert_array_equal(pair.adjacency, [[0, 0], [1, 0]])
    np.testing.assert_array_equal(pair.features, [[0, 1, 0], [0, 0, 1]])
    assert pair.n_edges == 1
    np.testing.assert_array_equal(pair.degrees, [0, 1])
    assert pair.label == 0


def test_label_mapping_of_minus_one_and_one(tmp_path):
    text = "3\n1 1\n0 0\n1 -1\n0 0\n1 1\n0 0\n"
    dataset = load_text(write(tmp_path, text))
    assert dataset.label_values == (-1, 1)
    np.testing.assert_array_equal(dataset.labels, [1, 0, 1])


def test_label_mapping_of_three_values(tmp_path):
    text = "4\n1 40\n0 0\n1 -7\n0 0\n1 3\n0 0\n1 40\n0 0\n"
    dataset = load_text(write(tmp_path, text))
    assert dataset.n_classes == 3
    assert dataset.label_values == (-7, 3, 40)
    np.testing.assert_array_equal(dataset.labels, [2, 0, 1, 2])


def test_trailing_blank_lines_and_extra_spaces_are_accepted(tmp_path):
    text = "1\n 2   0 \n0 1 1\n0\t1 0\n\n   \n"
    dataset = load_text(write(tmp_path, text))
    np.testing.assert_array_equal(dataset[0].adjacency, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(dataset[0].features, [[1], [1]])


def test_load_text_name_argument(tmp_path):
    assert load_text(write(tmp_path, TINY), name="other").name == "other"


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "absent.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        load_text(path)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_text(tmp_path)


def test_error_is_a_value_error_with_path_and_line(tmp_path):
    path = write(tmp_path, "1\n1 0\n0 1 4\n")
    with pytest.raises(ValueError) as info:
        load_text(path)
    assert isinstance(info.value, DatasetFormatError)
    assert info.value.path == path
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        pytest.param("", 1, "the number of graphs, but the file is empty", id="empty"),
        pytest.param("\n  \n", 1, "the number of graphs, but the file is empty", id="blank"),
        pytest.param("two\n", 1, "number of graphs, .*'two' is not an integer", id="not-int"),
        pytest.param("1.5\n1 0\n0 0\n", 1, "'1.5' is not an integer", id="float-count"),
        pytest.param("1 2\n1 0\n0 0\n", 1, r"one positive integer\), but found \[1, 2\]", id="two"),
        pytest.param("-1\n", 1, r"one positive integer\), but found \[-1\]", id="negative"),
        pytest.param("0\n", 1, r"one positive integer\), but found \[0\]", id="zero-graphs"),
        pytest.param(
            "1\n2\n0 0\n0 0\n", 2, r"header 'n l' of graph 1 of 1, but found \[2\]", id="hdr"
        ),
        pytest.param("1\n2 0 1\n0 0\n0 0\n", 2, r"header 'n l' .*found \[2, 0, 1\]", id="header-3"),
        pytest.param("1\n-2 0\n", 2, "positive node count .*found -2", id="neg-nodes"),
        pytest.param("1\n0 0\n", 2, "positive node count .*found 0", id="zero-nodes"),
        pytest.param("1\n2 x\n0 0\n0 0\n", 2, "'x' is not an integer", id="label-not-int"),
        pytest.param("1\n2 0\n0\n0 0\n", 3, r"node line .* 1 of 2 of graph 1, .*\[0\]", id="m"),
        pytest.param("1\n2 0\n0 -1\n0 0\n", 3, "non-negative neighbour count .*-1", id="neg-m"),
        pytest.param("1\n2 0\n0 2 1\n1 0\n", 3, "2 neighbour indices .*found 1", id="few-nbrs"),
        pytest.param("1\n2 0\n0 1 1 0\n1 0\n", 3, "1 neighbour indices .*found 2", id="extra"),
        pytest.param("1\n2 0\n0 1 2\n1 0\n", 3, "from 0 to 1 .*found 2", id="nbr-range"),
        pytest.param("1\n2 0\n0 1 -1\n1 0\n", 3, "from 0 to 1 .*found -1", id="nbr-negative"),
        pytest.param("1\n2 0\n0 1 a\n1 0\n", 3, "'a' is not an integer", id="nbr-not-int"),
        pytest.param("1\n2 0\n\n1 0\n", 3, "node line .*the line is empty", id="blank-line"),
        pytest.param("1\n2 0\n0 0\n", 4, "node line .* 2 of 2 .*ends after line 3", id="short"),
        pytest.param("2\n1 0\n0 0\n", 4, "header .* 2 of 2, .*ends after line 3", id="missing"),
        pytest.param(
            "1\n1 0\n0 0\n1 0\n",
            4,
            "end of the file after graph 1 of 1, but found '1 0'",
            id="garbage",
        ),
    ],
)
def test_malformed_text_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(DatasetFormatError, match=error_at(path, line, words)):
        load_text(path)


def test_non_utf8_bytes_name_the_line(tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"1\n1 0\n0 0\xff\n")
    with pytest.raises(DatasetFormatError, match=error_at(path, 3, "UTF-8 text")):
        load_text(path)


# --------------------------------------------------------------------------------------------
# Containers


def test_graph_checks_its_arrays():
    with pytest.raises(ValueError, match="only 0 and 1"):
        Graph(np.array([[0, 2], [1, 0]]), np.ones((2, 1)), 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Graph(np.zeros((2, 2)), np.full((2, 1), 1.5), 0)
    with pytest.raises(ValueError, match="2 rows but the adjacency has 3 nodes"):
        Graph(np.zeros((3, 3)), np.ones((2, 1)), 0)
    with pytest.raises(ValueError, match="non-negative integer, but it is -1"):
        Graph(np.zeros((1, 1)), np.ones((1, 1)), -1)
    with pytest.raises(TypeError, match="label must be a non-negative integer"):
        Graph(np.zeros((1, 1)), np.ones((1, 1)), 0.5)


def test_graph_arrays_are_read_only_copies():
    adjacency = np.array([[0, 1], [1, 0]])
    graph = Graph(adjacency, np.ones((2, 1)), 0, "g")
    adjacency[0, 1] = 0
    assert graph.adjacency[0, 1] == 1
    with pytest.raises(ValueError, match="read-only"):
        graph.adjacency[0, 0] = 1


def _three_graph_dataset() -> GraphDataset:
    graphs = (
        Graph(np.array([[0, 1], [1, 0]]), np.array([[1.0, 0.0], [0.0, 1.0]]), 0, "a"),
        Graph(np.zeros((1, 1)), np.array([[0.0, 1.0]]), 1, "b"),
        Graph(np.ones((3, 3)) - np.eye(3), np.full((3, 2), 0.5), 1, "c"),
    )
    folds = (([0, 1], [2]), ([2], [0, 1]))
    return GraphDataset("three", graphs, n_classes=2, n_tags=2, folds=folds)


def test_dataset_checks_graphs():
    graph = Graph(np.zeros((1, 1)), np.ones((1, 3)), 1, "wide")
    with pytest.raises(ValueError, match="3 feature columns, but the dataset has n_tags=2"):
        GraphDataset("bad", (graph,), n_classes=2, n_tags=2)
    with pytest.raises(ValueError, match="label 1, but the dataset has classes 0 to 0 only"):
        GraphDataset("bad", (graph,), n_classes=1, n_tags=3)
    with pytest.raises(ValueError, match="fold 1 test_idx holds graph index 4"):
        GraphDataset("bad", (graph,), n_classes=2, n_tags=3, folds=(([0], [4]),))


def test_getitem_iter_and_subset():
    dataset = _three_graph_dataset()
    assert [graph.name for graph in dataset] == ["a", "b", "c"]
    assert dataset[-1].name == "c"
    with pytest.raises(TypeError, match="use subset"):
        dataset[0:2]
    part = dataset.subset([2, 0])
    assert [graph.name for graph in part] == ["c", "a"]
    assert part.folds == ()
    assert (part.n_classes, part.n_tags) == (2, 2)
    with pytest.raises(ValueError, match="graph index 3, but the dataset has graphs 0 to 2"):
        dataset.subset([3])


def test_fold_returns_train_and_test():
    train, test = _three_graph_dataset().fold(1)
    assert [graph.name for graph in train] == ["a", "b"]
    assert [graph.name for graph in test] == ["c"]
    train, test = _three_graph_dataset().fold(2)
    assert [graph.name for graph in train] == ["c"]
    assert [graph.name for graph in test] == ["a", "b"]


@pytest.mark.parametrize("k", [0, 3, -1])
def test_missing_fold_says_which_exist(k):
    with pytest.raises(ValueError, match=f"fold {k} does not exist: .* has folds 1 to 2"):
        _three_graph_dataset().fold(k)


def test_dataset_without_folds_says_so(tmp_path):
    with pytest.raises(ValueError, match="fold 1 does not exist: dataset 'tiny' has no folds"):
        load_text(write(tmp_path, TINY)).fold(1)


def test_batch_pads_with_zeros():
    adjacency, features, n_nodes, labels = _three_graph_dataset().batch()
    assert adjacency.shape == (3, 3, 3)
    assert features.shape == (3, 3, 2)
    np.testing.assert_array_equal(n_nodes, [2, 1, 3])
    np.testing.assert_array_equal(labels, [0, 1, 1])
    np.testing.assert_array_equal(adjacency[0], [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(adjacency[1], np.zeros((3, 3)))
    np.testing.assert_array_equal(adjacency[2], np.ones((3, 3)) - np.eye(3))
    np.testing.assert_array_equal(features[0], [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(features[1], [[0, 1], [0, 0], [0, 0]])
    np.testing.assert_array_equal(features[2], np.full((3, 2), 0.5))


def test_batch_to_a_larger_node_count():
    batch = _three_graph_dataset().batch(n_max=5)
    assert batch.adjacency.shape == (3, 5, 5)
    assert batch.adjacency[:, 3:, :].sum() == 0
    with pytest.raises(ValueError, match="n_max must be an integer of at least 3"):
        _three_graph_dataset().batch(n_max=2)
    with pytest.raises(ValueError, match="is empty"):
        _three_graph_dataset().subset([]).batch()


# --------------------------------------------------------------------------------------------
# TUDataset raw format


def write_tudataset(directory, name, graphs, labels, tags=None):
    """Write graphs (lists of directed (row, col) entries over local nodes) in raw format."""
    directory.mkdir(parents=True, exist_ok=True)
    entries, indicator, offset = [], [], 0
    for g, (n_nodes, edges) in enumerate(graphs):
        entries += [f"{row + offset + 1}, {col + offset + 1}" for row, col in edges]
        indicator += [str(g + 1)] * n_nodes
        offset += n_nodes
    (directory / f"{name}_A.txt").write_text("\n".join(entries) + "\n")
    (directory / f"{name}_graph_indicator.txt").write_text("\n".join(indicator) + "\n")
    (directory / f"{name}_graph_labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    if tags is not None:
        (directory / f"{name}_node_labels.txt").write_text("\n".join(map(str, tags)) + "\n")


TU_GRAPHS = [(3, [(0, 1), (1, 0), (1, 2), (2, 1)]), (2, [(1, 0)]), (1, [])]


def test_tudataset_values(tmp_path):
    write_tudataset(tmp_path, "TOY", TU_GRAPHS, labels=[1, -1, 1], tags=[4, 2, 4, 2, 0, 4])
    dataset = load_tudataset(tmp_path)

    assert dataset.name == "TOY"
    assert dataset.label_values == (-1, 1)
    np.testing.assert_array_equal(dataset.labels, [1, 0, 1])
    assert dataset.tag_values == (0, 2, 4)
    np.testing.assert_array_equal(dataset[0].adjacency, [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(dataset[0].features, [[0, 0, 1], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(dataset[1].adjacency, [[0, 0], [1, 0]])
    np.testing.assert_array_equal(dataset[1].features, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(dataset[2].adjacency, [[0]])
    np.testing.assert_array_equal(dataset[2].features, [[0, 0, 1]])


def test_tudataset_without_node_labels_has_one_feature_of_ones(tmp_path):
    write_tudataset(tmp_path, "TOY", TU_GRAPHS, labels=[0, 1, 0])
    dataset = load_dataset(tmp_path)
    assert dataset.n_tags == 1
    assert dataset.tag_values == ()
    for graph, n_nodes in zip(dataset, (3, 2, 1), strict=True):
        np.testing.assert_array_equal(graph.features, np.ones((n_nodes, 1)))


def test_tudataset_round_trip_of_text_dataset(tmp_path):
    original = load_text(write(tmp_path, TINY))
    graphs = [(graph.n_nodes, np.argwhere(graph.adjacency).tolist()) for graph in original]
    tags = [
        original.tag_values[column]
        for graph in original
        for column in graph.features.argmax(axis=1)
    ]
    labels = [original.label_values[graph.label] for graph in original]
    write_tudataset(tmp_path / "raw", "TINY", graphs, labels, tags)

    loaded = load_dataset(tmp_path / "raw")
    assert loaded.label_values == original.label_values
    assert loaded.tag_values == original.tag_values
    for a, b in zip(original, loaded, strict=True):
        np.testing.assert_array_equal(a.adjacency, b.adjacency)
        np.testing.assert_array_equal(a.features, b.features)
        assert a.label == b.label


def _tu_error(tmp_path, file_suffix, text):
    write_tudataset(tmp_path, "TOY", TU_GRAPHS, labels=[1, -1, 1], tags=[4, 2, 4, 2, 0, 4])
    (tmp_path / f"TOY_{file_suffix}.txt").write_text(text)


@pytest.mark.parametrize(
    ("suffix", "text", "where", "line", "words"),
    [
        pytest.param("A", "1, 2\n2 3\n", "A", 2, "'row, col', but found '2 3'", id="no-comma"),
        pytest.param("A", "1, 2\n2, x\n", "A", 2, "'row, col', but found '2, x'", id="not-int"),
        pytest.param("A", "1, 2, 3\n", "A", 1, "'row, col'", id="three-values"),
        pytest.param("A", "1, 2\n\n2, 1\n", "A", 2, "'row, col', but found ''", id="blank"),
        pytest.param("A", "1, 2\n2, 7\n", "A", 2, "ids from 1 to 6 .*found '2, 7'", id="range"),
        pytest.param("A", "0, 1\n", "A", 1, "node ids from 1 to 6", id="zero-id"),
        pytest.param("A", "1, 2\n3, 4\n", "A", 2, "but node 3 is in graph 1 and node 4", id="x"),
        pytest.param(
            "graph_indicator",
            "1\n1\n1\n2\n2\n",
            "graph_labels",
            3,
            "at least one node .*, but no node belongs to graph 3",
            id="empty-graph",
        ),
        pytest.param(
            "graph_indicator",
            "1\n1\n2\n1\n2\n3\n",
            "graph_indicator",
            4,
            r"non-decreasing order \(at least 2\), but found 1",
            id="order",
        ),
        pytest.param(
            "graph_indicator",
            "1\n1\n1\n2\n2\n4\n",
            "graph_indicator",
            6,
            "graph id from 1 to 3 .*found 4",
            id="graph-id",
        ),
        pytest.param(
            "graph_indicator", "1\n1 1\n", "graph_indicator", 2, "one integer, but found 2", id="2"
        ),
        pytest.param(
            "graph_indicator", "", "graph_indicator", 1, "indicator.*file is empty", id="empty"
        ),
        pytest.param("graph_labels", "a\n", "graph_labels", 1, "'a' is not an integer", id="label"),
        pytest.param(
            "node_labels",
            "1\n2\n3\n",
            "node_labels",
            4,
            "label for node 4 of 6, but the file ends after line 3",
            id="few-tags",
        ),
        pytest.param(
            "node_labels",
            "1\n2\n3\n4\n5\n6\n7\n",
            "node_labels",
            7,
            "end of the file after 6 node labels",
            id="more-tags",
        ),
    ],
)
def test_malformed_tudataset_names_file_and_line(tmp_path, suffix, text, where, line, words):
    _tu_error(tmp_path, suffix, text)
    path = tmp_path / f"TOY_{where}.txt"
    with pytest.raises(DatasetFormatError, match=error_at(path, line, words)):
        load_tudataset(tmp_path, "TOY")


def test_tudataset_missing_file_names_it(tmp_path):
    write_tudataset(tmp_path, "TOY", TU_GRAPHS, labels=[1, -1, 1])
    (tmp_path / "TOY_graph_indicator.txt").unlink()
    with pytest.raises(FileNotFoundError, match="TOY_graph_indicator.txt does not exist"):
        load_tudataset(tmp_path)


def test_tudataset_needs_one_prefix(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no NAME_A.txt"):
        load_tudataset(tmp_path)
    write_tudataset(tmp_path, "ONE", TU_GRAPHS, labels=[1, -1, 1])
    write_tudataset(tmp_path, "TWO", TU_GRAPHS, labels=[1, -1, 1])
    with pytest.raises(ValueError, match=r"several TUDataset files \(ONE_A.txt, TWO_A.txt\)"):
        load_tudataset(tmp_path)
    assert load_tudataset(tmp_path, "TWO").name == "TWO"


# --------------------------------------------------------------------------------------------
# load_dataset and folds


def write_text_folder(tmp_path, folds):
    """A folder TINY/ with TINY.txt (four one-node graphs) and the given fold files."""
    folder = tmp_path / "TINY"
    (folder / "10fold_idx").mkdir(parents=True)
    (folder / "TINY.txt").write_text("4\n" + "1 0\n0 0\n1 1\n0 0\n" * 2)
    for k, (train, test) in folds.items():
        (folder / "10fold_idx" / f"train_idx-{k}.txt").write_text("".join(f"{i}\n" for i in train))
        (folder / "10fold_idx" / f"test_idx-{k}.txt").write_text("".join(f"{i}\n" for i in test))
    return folder


def test_load_dataset_reads_text_folder_with_folds(tmp_path):
    folder = write_text_folder(tmp_path, {1: ([0, 1], [2, 3]), 2: ([2, 3], [1, 0])})
    dataset = load_dataset(folder)
    assert dataset.name == "TINY"
    assert len(dataset.folds) == 2
    np.testing.assert_array_equal(dataset.folds[1][1], [1, 0])
    train, test = dataset.fold(2)
    np.testing.assert_array_equal(train.labels, [0, 1])
    np.testing.assert_array_equal(test.labels, [1, 0])


def test_load_dataset_reads_a_file(tmp_path):
    dataset = load_dataset(write(tmp_path, TINY))
    assert len(dataset) == 2
    assert dataset.folds == ()


def test_load_dataset_explains_what_it_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds neither .*\\.txt .*nor a NAME_A.txt"):
        load_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="dataset path .*nowhere does not exist"):
        load_dataset(tmp_path / "nowhere")


def test_fold_numbers_must_not_have_gaps(tmp_path):
    folder = write_text_folder(tmp_path, {1: ([0, 1], [2, 3]), 3: ([2, 3], [0, 1])})
    with pytest.raises(ValueError, match=r"folds numbered 1 to K .* holds folds \[1, 3\]"):
        load_dataset(folder)


def test_fold_index_out_of_range_names_file_and_line(tmp_path):
    folder = write_text_folder(tmp_path, {1: ([0, 1], [2, 4])})
    path = folder / "10fold_idx" / "test_idx-1.txt"
    with pytest.raises(DatasetFormatError, match=error_at(path, 2, "from 0 to 3, but found 4")):
        load_dataset(folder)


def test_fold_overlap_names_file_and_line(tmp_path):
    folder = write_text_folder(tmp_path, {1: ([0, 1], [2, 1])})
    path = folder / "10fold_idx" / "test_idx-1.txt"
    with pytest.raises(DatasetFormatError, match=error_at(path, 2, "graph 1 is in both")):
        load_dataset(folder)


def test_fold_without_its_test_file(tmp_path):
    folder = write_text_folder(tmp_path, {1: ([0, 1], [2, 3])})
    (folder / "10fold_idx" / "test_idx-1.txt").unlink()
    with pytest.raises(FileNotFoundError, match="test indices of fold 1 .* does not exist"):
        load_dataset(folder)


# --------------------------------------------------------------------------------------------
# MUTAG, from ../shared/data when it is there


def test_shared_data_dir_is_beside_the_repository():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert shared_data_dir() == root.parent / "shared" / "data"
    assert mutag_path() == shared_data_dir() / "MUTAG"


@pytest.fixture(scope="module")
def mutag():
    if not (mutag_path() / "MUTAG.txt").is_file():
        pytest.skip(f"../shared/data/MUTAG is absent: {mutag_path()} holds no MUTAG.txt")
    return load_dataset(mutag_path())


def _independent_label_counts(path) -> dict[int, int]:
    """Count graph labels by walking the token stream, without the loader."""
    tokens = iter(path.read_text().split())
    counts: dict[int, int] = {}
    for _ in range(int(next(tokens))):
        n_nodes, label = int(next(tokens)), int(next(tokens))
        counts[label] = counts.get(label, 0) + 1
        for _ in range(n_nodes):
            next(tokens)
            for _ in range(int(next(tokens))):
                next(tokens)
    assert next(tokens, None) is None
    return counts


def test_mutag_figures(mutag):
    assert len(mutag) == 188
    assert mutag.n_classes == 2
    assert mutag.n_tags == 7
    assert mutag.tag_values == tuple(range(7))
    assert mutag.max_nodes == 28
    assert min(graph.n_nodes for graph in mutag) == 10
    assert sum(graph.n_nodes for graph in mutag) == 3371
    assert sum(graph.n_edges for graph in mutag) == 7442
    assert max(graph.n_edges for graph in mutag) == 66
    assert max(int(graph.degrees.max()) for graph in mutag) == 4


def test_mutag_label_counts(mutag):
    counts = _independent_label_counts(mutag_path() / "MUTAG.txt")
    assert counts == {0: 63, 2: 125}
    assert mutag.label_values == (0, 2)
    np.testing.assert_array_equal(np.bincount(mutag.labels), [63, 125])


def test_mutag_graphs_are_undirected_one_hot_and_loop_free(mutag):
    for graph in mutag:
        np.testing.assert_array_equal(graph.adjacency, graph.adjacency.T)
        assert not np.diagonal(graph.adjacency).any()
        np.testing.assert_array_equal(graph.features.sum(axis=1), 1.0)


def test_mutag_folds_partition_the_graphs(mutag):
    assert len(mutag.folds) == 10
    everything = np.arange(188)
    tests = []
    for train, test in mutag.folds:
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), everything)
        assert len(train) == 170
        assert len(test) == 18
        tests.append(test)
    # The standard split's test sets are disjoint but, at 10 x 18, leave 8 graphs never tested.
    tested = np.concatenate(tests)
    assert np.unique(tested).size == tested.size == 180
    never_tested = np.setdiff1d(everything, tested)
    np.testing.assert_array_equal(never_tested, [0, 13, 37, 114, 161, 163, 169, 187])
    train, test = mutag.fold(10)
    assert len(train) + len(test) == 188
    with pytest.raises(
        ValueError, match="fold 11 does not exist: dataset 'MUTAG' has folds 1 to 10"
    ):
        mutag.fold(11)


def test_mutag_batch(mutag):
    adjacency, features, n_nodes, labels = mutag.batch()
    assert adjacency.shape == (188, 28, 28)
    assert features.shape == (188, 28, 7)
    assert int(n_nodes.sum()) == 3371
    assert int(adjacency.sum()) == 7442
    assert int(features.sum()) == 3371
    np.testing.assert_array_equal(labels, mutag.labels)


def test_degree_one_hot_columns():
    # Degrees 1, 3, 0 and 5 with three columns: 5 shares the last column, 0 has none.
    adjacency = np.zeros((4, 4), dtype=np.int64)
    adjacency[0, 1] = 1
    adjacency[1, [0, 2, 3]] = 1
    adjacency[3, :] = 1
    adjacency[3, 3] = 0
    adjacency = np.pad(adjacency, ((0, 2), (0, 2)))
    adjacency[3, 4:] = 1
    np.testing.assert_array_equal(
        degree_one_hot(adjacency, 3)[:4],
        [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 1]],
    )
    assert degree_one_hot(adjacency, 0).shape == (6, 0)
    with pytest.raises(ValueError, match="max_degree must be a non-negative integer, but it is -1"):
        degree_one_hot(adjacency, -1)
    with pytest.raises(TypeError, match="max_degree must be a non-negative integer, not"):
        degree_one_hot(adjacency, 2.0)


def test_with_degree_features_appends_columns_and_keeps_folds(tmp_path):
    dataset = load_text(write(tmp_path, TINY))
    dataset = GraphDataset(
        dataset.name,
        dataset.graphs,
        dataset.n_classes,
        dataset.n_tags,
        dataset.label_values,
        folds=((np.array([0]), np.array([1])),),
        tag_values=dataset.tag_values,
    )
    encoded = dataset.with_degree_features(2)
    assert encoded.n_tags == dataset.n_tags + 2 == 5
    assert encoded.tag_values == ()
    # Path 0-1-2: degrees 1, 2, 1; the second graph: node 1 aggregates node 0 only.
    np.testing.assert_array_equal(encoded[0].features[:, 3:], [[1, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(encoded[1].features[:, 3:], [[0, 0], [1, 0]])
    np.testing.assert_array_equal(encoded[0].features[:, :3], dataset[0].features)
    np.testing.assert_array_equal(encoded.labels, dataset.labels)
    train, test = encoded.fold(1)
    assert (train[0].name, test[0].name) == (encoded[0].name, encoded[1].name)
    assert dataset.with_degree_features(0) is dataset

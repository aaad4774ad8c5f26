"""Graph-classification datasets: the graph container, loaders for the plain graph text format
and the TUDataset raw format, folds and padded batches. Malformed files raise
`DatasetFormatError`, whose one-sentence message names the file and line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from golden.validate import as_adjacency, as_features, describe

__all__ = [
    "graph_pair",
    "DatasetFormatError",
    "degree_one_hot",
    "Graph",
    "GraphBatch",
    "GraphDataset",
    "load_dataset",
    "load_text",
    "load_tudataset",
    "mutag_path",
    "shared_data_dir",
]

logger = logging.getLogger(__name__)

_INTEGER = re.compile(r"[+-]?[0-9]+")
# Every integer of a dataset file must fit the int64 arrays it is stored in.
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _int64(text: str) -> int | None:
    """``text`` as an integer when it is one and fits int64, else None."""
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


class DatasetFormatError(ValueError):
    """A dataset file does not follow its format.

    Parameters
    ----------
    path : str or Path
        The offending file.
    line : int
        1-based line number of the problem.
    expected : str
        What the format requires at that line.
    found : str
        What the file holds there instead.

    Attributes
    ----------
    path : Path
    line : int
    """

    def __init__(self, path, line: int, expected: str, found: str):
        self.path = Path(path)
        self.line = line
        super().__init__(f"{self.path}, line {line}: expected {expected}, but {found}.")


# --------------------------------------------------------------------------------------------
# Containers


@dataclass(frozen=True, eq=False)
class Graph:
    """One graph of a classification dataset.

    The arrays are checked and stored read-only copies, so a graph never changes after it is made.

    Parameters
    ----------
    adjacency : array_like of shape (N, N)
        0/1 matrix; row ``n`` has a 1 at each neighbour whose features node ``n`` aggregates.
    features : array_like of shape (N, F)
        Node features in [0, 1], one-hot node tags for the loaded datasets.
    label : int
        Class index, 0 to C - 1.
    name : str
        Identifies the graph in messages and reports.

    Raises
    ------
    TypeError, ValueError
        If the adjacency is not a square 0/1 matrix, the features do not match it or leave
        [0, 1], or the label is not a non-negative integer.
    """

    adjacency: np.ndarray
    features: np.ndarray
    label: int
    name: str = ""

    def __post_init__(self):
        adjacency = as_adjacency(self.adjacency, binary=True)
        features = as_features(self.features, adjacency.shape[0], unit_range=True)
        if isinstance(self.label, bool) or not isinstance(self.label, (int, np.integer)):
            raise TypeError(f"label must be a non-negative integer, not {describe(self.label)}.")
        if self.label < 0:
            raise ValueError(f"label must be a non-negative integer, but it is {self.label}.")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, not {describe(self.name)}.")
        adjacency.setflags(write=False)
        features.setflags(write=False)
        object.__setattr__(self, "adjacency", adjacency)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "label", int(self.label))

    @property
    def n_nodes(self) -> int:
        """Number of nodes N."""
        return int(self.adjacency.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of nonzero adjacency entries; an undirected edge counts twice."""
        return int(np.count_nonzero(self.adjacency))

    @property
    def n_features(self) -> int:
        """Feature width F."""
        return int(self.features.shape[1])

    @property
    def degrees(self) -> np.ndarray:
        """Number of neighbours each node aggregates (row sums of the adjacency)."""
        return self.adjacency.sum(axis=1)

    def __repr__(self) -> str:
        return (
            f"Graph(name={self.name!r}, n_nodes={self.n_nodes}, n_edges={self.n_edges}, "
            f"n_features={self.n_features}, label={self.label})"
        )


def graph_pair(graph) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(adjacency, features)`` of a :class:`Graph`, or of such a pair as it is."""
    if isinstance(graph, Graph):
        return graph.adjacency, graph.features
    adjacency, features = graph
    return adjacency, features


class GraphBatch(NamedTuple):
    """Graphs of a dataset padded to a common node count.

    Padding nodes have no edges and all-zero features.

    Attributes
    ----------
    adjacency : ndarray of shape (B, Nmax, Nmax), int64
    features : ndarray of shape (B, Nmax, F), float64
    n_nodes : ndarray of shape (B,), int64
        Real node count of each graph; rows from there on are padding.
    labels : ndarray of shape (B,), int64
    """

    adjacency: np.ndarray
    features: np.ndarray
    n_nodes: np.ndarray
    labels: np.ndarray


def _as_index_array(name: str, indices, size: int) -> np.ndarray:
    """Check a list of graph indices into a dataset of ``size`` graphs."""
    array = np.asarray(indices)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be a 1-D list of integer indices, not {describe(indices)}.")
    if array.min() < 0 or array.max() >= size:
        bad = array[(array < 0) | (array >= size)].flat[0]
        raise ValueError(
            f"{name} holds graph index {bad}, but the dataset has graphs 0 to {size - 1} only."
        )
    return array.astype(np.int64)


@dataclass(frozen=True, eq=False)
class GraphDataset:
    """A graph-classification dataset.

    Parameters
    ----------
    name : str
        Dataset name, e.g. ``"MUTAG"``.
    graphs : sequence of Graph
        Stored as a tuple.
    n_classes : int
        Number of classes C; every label is in 0 .. C - 1.
    n_tags : int
        Feature width F of every graph.
    label_values : sequence of int
        Original label value of each class, sorted (index = class). May be empty for data
        that never had other label values.
    folds : sequence of (train_idx, test_idx)
        Cross-validation splits as 0-based graph indices; fold ``k`` (1-based) is
        ``folds[k - 1]``. May be empty.
    tag_values : sequence of int
        Original node tag of each feature column, sorted. Empty when the features are not
        one-hot tags.

    Raises
    ------
    TypeError, ValueError
        If a graph has the wrong feature width or a label outside 0 .. C - 1, or a fold names
        graphs that do not exist.
    """

    name: str
    graphs: tuple[Graph, ...]
    n_classes: int
    n_tags: int
    label_values: tuple[int, ...] = ()
    folds: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    tag_values: tuple[int, ...] = ()

    def __post_init__(self):
        graphs = tuple(self.graphs)
        for graph in graphs:
            if not isinstance(graph, Graph):
                raise TypeError(f"graphs must hold Graph objects, not {describe(graph)}.")
        for count_name in ("n_classes", "n_tags"):
            count = getattr(self, count_name)
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
                raise ValueError(f"{count_name} must be a positive integer, not {describe(count)}.")
        for graph in graphs:
            if graph.n_features != self.n_tags:
                raise ValueError(
                    f"graph {graph.name!r} has {graph.n_features} feature columns, "
                    f"but the dataset has n_tags={self.n_tags}."
                )
            if graph.label >= self.n_classes:
                raise ValueError(
                    f"graph {graph.name!r} has label {graph.label}, "
                    f"but the dataset has classes 0 to {self.n_classes - 1} only."
                )
        label_values = tuple(int(value) for value in self.label_values)
        if label_values and len(label_values) != self.n_classes:
            raise ValueError(
                f"label_values must name one value per class ({self.n_classes}), "
                f"but it has {len(label_values)}: {list(label_values)}."
            )
        tag_values = tuple(int(value) for value in self.tag_values)
        if tag_values and len(tag_values) != self.n_tags:
            raise ValueError(
                f"tag_values must name one value per feature column ({self.n_tags}), "
                f"but it has {len(tag_values)}: {list(tag_values)}."
            )
        folds = []
        for number, pair in enumerate(self.folds, start=1):
            if len(pair) != 2:
                raise ValueError(
                    f"fold {number} must be a pair (train_idx, test_idx), not {describe(pair)}."
                )
            train = _as_index_array(f"fold {number} train_idx", pair[0], len(graphs))
            test = _as_index_array(f"fold {number} test_idx", pair[1], len(graphs))
            train.setflags(write=False)
            test.setflags(write=False)
            folds.append((train, test))
        object.__setattr__(self, "graphs", graphs)
        object.__setattr__(self, "n_classes", int(self.n_classes))
        object.__setattr__(self, "n_tags", int(self.n_tags))
        object.__setattr__(self, "label_values", label_values)
        object.__setattr__(self, "tag_values", tag_values)
        object.__setattr__(self, "folds", tuple(folds))

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index) -> Graph:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(
                f"a dataset is indexed by one integer, not {describe(index)}; "
                "use subset() for several graphs."
            )
        return self.graphs[index]

    def __iter__(self) -> Iterator[Graph]:
        return iter(self.graphs)

    def __repr__(self) -> str:
        return (
            f"GraphDataset(name={self.name!r}, n_graphs={len(self)}, n_classes={self.n_classes}, "
            f"n_tags={self.n_tags}, n_folds={len(self.folds)})"
        )

    @property
    def labels(self) -> np.ndarray:
        """Class index of every graph, int64."""
        return np.array([graph.label for graph in self.graphs], dtype=np.int64)

    @property
    def max_nodes(self) -> int:
        """Largest node count of any graph (0 for an empty dataset)."""
        return max((graph.n_nodes for graph in self.graphs), default=0)

    def subset(self, indices: Sequence[int]) -> GraphDataset:
        """Return the graphs at ``indices`` (0-based, in that order) as a dataset without folds.

        Raises
        ------
        TypeError, ValueError
            If an index is not an integer or names no graph.
        """
        chosen = _as_index_array("indices", indices, len(self.graphs))
        return GraphDataset(
            name=self.name,
            graphs=tuple(self.graphs[i] for i in chosen),
            n_classes=self.n_classes,
            n_tags=self.n_tags,
            label_values=self.label_values,
            tag_values=self.tag_values,
        )

    def with_degree_features(self, max_degree: int) -> GraphDataset:
        """Return the dataset with ``max_degree`` one-hot degree columns after the tags.

        The mean aggregation divides by the degree, so a network fed only node tags never sees
        how many neighbours a node has; these columns give it that count as input (see
        :func:`degree_one_hot`). The folds and labels are kept; ``tag_values`` is dropped
        because the columns are no longer all tags.

        Parameters
        ----------
        max_degree : int
            Number of degree columns, 0 (the dataset unchanged) or more.

        Raises
        ------
        TypeError, ValueError
            If ``max_degree`` is not a non-negative integer.
        """
        max_degree = _check_max_degree(max_degree)
        if max_degree == 0:
            return self
        graphs = tuple(
            Graph(
                graph.adjacency,
                np.concatenate([graph.features, degree_one_hot(graph.adjacency, max_degree)], 1),
                graph.label,
                graph.name,
            )
            for graph in self.graphs
        )
        return GraphDataset(
            name=self.name,
            graphs=graphs,
            n_classes=self.n_classes,
            n_tags=self.n_tags + max_degree,
            label_values=self.label_values,
            folds=self.folds,
        )

    def fold(self, k: int) -> tuple[GraphDataset, GraphDataset]:
        """Return the training and test graphs of cross-validation fold ``k`` (1-based).

        Raises
        ------
        ValueError
            If the dataset has no fold ``k``; the message says which folds exist.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"fold number k must be an integer, not {describe(k)}.")
        if not 1 <= k <= len(self.folds):
            existing = f"folds 1 to {len(self.folds)}" if self.folds else "no folds"
            raise ValueError(f"fold {k} does not exist: dataset {self.name!r} has {existing}.")
        train, test = self.folds[k - 1]
        return self.subset(train), self.subset(test)

    def batch(self, n_max: int | None = None) -> GraphBatch:
        """Pad every graph to ``n_max`` nodes and stack them.

        Parameters
        ----------
        n_max : int, optional
            Padded node count; the largest graph's node count when omitted.

        Returns
        -------
        GraphBatch
            ``(adjacency[B, Nmax, Nmax], features[B, Nmax, F], n_nodes[B], labels[B])``.

        Raises
        ------
        ValueError
            If the dataset is empty or a graph has more than ``n_max`` nodes.
        """
        if not self.graphs:
            raise ValueError(f"dataset {self.name!r} is empty, so there is nothing to batch.")
        largest = self.max_nodes
        if n_max is None:
            n_max = largest
        if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < largest:
            raise ValueError(
                f"n_max must be an integer of at least {largest} (the largest graph of "
                f"{self.name!r}), not {describe(n_max)}."
            )
        count = len(self.graphs)
        adjacency = np.zeros((count, n_max, n_max), dtype=np.int64)
        features = np.zeros((count, n_max, self.n_tags), dtype=np.float64)
        n_nodes = np.array([graph.n_nodes for graph in self.graphs], dtype=np.int64)
        for b, graph in enumerate(self.graphs):
            adjacency[b, : graph.n_nodes, : graph.n_nodes] = graph.adjacency
            features[b, : graph.n_nodes] = graph.features
        return GraphBatch(adjacency, features, n_nodes, self.labels)


# --------------------------------------------------------------------------------------------
# Reading files


def _read_lines(path: Path, what: str) -> list[str]:
    """Return the lines of a UTF-8 text file, with clear errors for missing or binary files."""
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a directory, not a file.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DatasetFormatError(
            path, line, "UTF-8 text", "the line holds bytes that are not"
        ) from error
    return text.splitlines()


def _last_content_line(lines: list[str]) -> int:
    """Return how many lines remain once trailing blank lines are dropped."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return end


def _show(text: str) -> str:
    text = text.strip()
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _parse_ints(path: Path, number: int, text: str, expected: str) -> list[int]:
    """Split a whitespace-separated line into integers or raise naming the line."""
    tokens = text.split()
    if not tokens:
        raise DatasetFormatError(path, number, expected, "the line is empty")
    values = []
    for token in tokens:
        value = _int64(token)
        if value is None:
            what = "an integer" if not _INTEGER.fullmatch(token) else "a 64-bit integer"
            raise DatasetFormatError(
                path, number, expected, f"found {_show(text)}, where {_show(token)} is not {what}"
            )
        values.append(value)
    return values


def _read_int_column(path: Path, what: str, *, allow_empty: bool = False) -> np.ndarray:
    """Read a file of one integer a line (trailing blank lines allowed)."""
    lines = _read_lines(path, what)
    end = _last_content_line(lines)
    if end == 0 and not allow_empty:
        raise DatasetFormatError(path, 1, f"{what}: one integer a line", "the file is empty")
    values = np.empty(end, dtype=np.int64)
    for i in range(end):
        ints = _parse_ints(path, i + 1, lines[i], "one integer")
        if len(ints) != 1:
            raise DatasetFormatError(
                path, i + 1, "one integer", f"found {len(ints)} values: {_show(lines[i])}"
            )
        values[i] = ints[0]
    return values


def _check_max_degree(max_degree) -> int:
    if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)):
        raise TypeError(f"max_degree must be a non-negative integer, not {describe(max_degree)}.")
    if max_degree < 0:
        raise ValueError(f"max_degree must be a non-negative integer, but it is {max_degree}.")
    return int(max_degree)


def degree_one_hot(adjacency, max_degree: int) -> np.ndarray:
    """One-hot degree of every node, ``(N, max_degree)``: column ``d - 1`` for degree ``d``.

    The degree is the node's row sum (the neighbours it aggregates). Degrees above
    ``max_degree`` share the last column; a node without neighbours has a zero row.

    Parameters
    ----------
    adjacency : array_like of shape (N, N)
        0/1 adjacency matrix.
    max_degree : int
        Number of columns, 0 or more.

    Raises
    ------
    TypeError, ValueError
        If the adjacency is not a square 0/1 matrix or ``max_degree`` is negative.
    """
    max_degree = _check_max_degree(max_degree)
    degrees = as_adjacency(adjacency, binary=True).sum(axis=1).astype(np.int64)
    columns = np.zeros((degrees.size, max_degree), dtype=np.float64)
    has = degrees > 0
    if max_degree:
        columns[np.flatnonzero(has), np.minimum(degrees[has], max_degree) - 1] = 1.0
    return columns


def _value_map(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map arbitrary integers to 0 .. K-1 in sorted order; return (distinct values, codes)."""
    distinct, codes = np.unique(values, return_inverse=True)
    return distinct, codes.reshape(-1).astype(np.int64)


def _one_hot(codes: np.ndarray, width: int) -> np.ndarray:
    features = np.zeros((codes.size, width), dtype=np.float64)
    features[np.arange(codes.size), codes] = 1.0
    return features


def _assemble(
    name: str,
    adjacencies: list[np.ndarray],
    tags: list[np.ndarray] | None,
    raw_labels: np.ndarray,
    graph_names: list[str],
) -> GraphDataset:
    """Map labels and tags to classes and one-hot columns and build the dataset."""
    label_values, label_codes = _value_map(raw_labels)
    if tags is None:
        tag_values = np.zeros(0, dtype=np.int64)
        width = 1
        features = [np.ones((adjacency.shape[0], 1)) for adjacency in adjacencies]
    else:
        tag_values, tag_codes = _value_map(np.concatenate(tags))
        width = tag_values.size
        splits = np.cumsum([t.size for t in tags])[:-1]
        features = [_one_hot(codes, width) for codes in np.split(tag_codes, splits)]
    graphs = tuple(
        Graph(adjacency, feats, int(label), graph_name)
        for adjacency, feats, label, graph_name in zip(
            adjacencies, features, label_codes, graph_names, strict=True
        )
    )
    return GraphDataset(
        name=name,
        graphs=graphs,
        n_classes=int(label_values.size),
        n_tags=int(width),
        label_values=tuple(int(v) for v in label_values),
        tag_values=tuple(int(v) for v in tag_values),
    )


def load_text(path, name: str | None = None) -> GraphDataset:
    """Load a dataset in the plain graph text format.

    The format: the first line holds the number of graphs; each graph starts with a line
    ``n l`` (node count, graph label) followed by ``n`` node lines ``t m j1 ... jm`` (tag,
    neighbour count, 0-based neighbour indices within the graph, each listed once). Labels are
    mapped in sorted order to classes 0 .. C - 1 and tags in sorted order to one-hot feature
    columns. Node ``i`` aggregates each listed neighbour ``j``: ``adjacency[i, j] = 1``. Every
    value is a decimal integer that fits 64 bits. Trailing blank lines are allowed; anything
    else after the last graph is an error.

    Parameters
    ----------
    path : str or Path
        The text file.
    name : str, optional
        Dataset name; the file name without its suffix when omitted.

    Returns
    -------
    GraphDataset
        Without folds (see `load_dataset`).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DatasetFormatError
        If the file does not follow the format; the message names the file and line.
    """
    path = Path(path)
    lines = _read_lines(path, "graph file")
    end = _last_content_line(lines)
    if end == 0:
        raise DatasetFormatError(path, 1, "the number of graphs", "the file is empty")

    cursor = 0

    def next_line(expected: str) -> tuple[int, list[int]]:
        nonlocal cursor
        if cursor >= end:
            raise DatasetFormatError(
                path, cursor + 1, expected, f"the file ends after line {cursor}"
            )
        cursor += 1
        return cursor, _parse_ints(path, cursor, lines[cursor - 1], expected)

    number, header = next_line("the number of graphs")
    if len(header) != 1 or header[0] < 1:
        raise DatasetFormatError(
            path, number, "the number of graphs (one positive integer)", f"found {header}"
        )
    n_graphs = header[0]

    # Arrays are sized only from lines already read, so a wrong count in a header ends in a
    # format error at the end of the file, not in an attempt to allocate the count.
    adjacencies: list[np.ndarray] = []
    tags: list[np.ndarray] = []
    labels: list[int] = []
    for g in range(n_graphs):
        what = f"the header 'n l' of graph {g + 1} of {n_graphs}"
        number, header = next_line(what)
        if len(header) != 2:
            raise DatasetFormatError(path, number, what, f"found {header}")
        n_nodes, label = header
        labels.append(label)
        if n_nodes < 1:
            raise DatasetFormatError(
                path, number, f"a positive node count in {what}", f"found {n_nodes}"
            )
        rows: list[list[int]] = []
        graph_tags: list[int] = []
        for node in range(n_nodes):
            what = f"node line 't m j1 ... jm' {node + 1} of {n_nodes} of graph {g + 1}"
            number, values = next_line(what)
            if len(values) < 2:
                raise DatasetFormatError(path, number, what, f"found only {values}")
            tag, count = values[0], values[1]
            if count < 0:
                raise DatasetFormatError(
                    path, number, f"a non-negative neighbour count in {what}", f"found {count}"
                )
            neighbours = values[2:]
            if len(neighbours) != count:
                raise DatasetFormatError(
                    path,
                    number,
                    f"{count} neighbour indices after the count {count}",
                    f"found {len(neighbours)}",
                )
            for j in neighbours:
                if not 0 <= j < n_nodes:
                    raise DatasetFormatError(
                        path,
                        number,
                        f"neighbour indices from 0 to {n_nodes - 1} (graph {g + 1} has "
                        f"{n_nodes} nodes)",
                        f"found {j}",
                    )
            if len(set(neighbours)) != count:
                repeated = next(j for j in neighbours if neighbours.count(j) > 1)
                raise DatasetFormatError(
                    path,
                    number,
                    f"{count} different neighbour indices in {what}",
                    f"neighbour {repeated} is listed {neighbours.count(repeated)} times",
                )
            graph_tags.append(tag)
            rows.append(neighbours)
        adjacency = np.zeros((n_nodes, n_nodes), dtype=np.int64)
        for node, neighbours in enumerate(rows):
            adjacency[node, neighbours] = 1
        adjacencies.append(adjacency)
        tags.append(np.array(graph_tags, dtype=np.int64))

    if cursor < end:
        raise DatasetFormatError(
            path,
            cursor + 1,
            f"the end of the file after graph {n_graphs} of {n_graphs}",
            f"found {_show(lines[cursor])}",
        )
    dataset = _assemble(
        name if name is not None else path.stem,
        adjacencies,
        tags,
        np.array(labels, dtype=np.int64),
        [f"{path.stem}[{g}]" for g in range(n_graphs)],
    )
    logger.debug("loaded %d graphs from %s", len(dataset), path)
    return dataset


def _single_prefix(directory: Path) -> str:
    """Find the dataset name of the one ``NAME_A.txt`` in a TUDataset directory."""
    candidates = sorted(directory.glob("*_A.txt"))
    if not candidates:
        raise FileNotFoundError(f"{directory} holds no NAME_A.txt file of the TUDataset format.")
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        raise ValueError(f"{directory} holds several TUDataset files ({names}); pass name=.")
    return candidates[0].name[: -len("_A.txt")]


def load_tudataset(directory, name: str | None = None) -> GraphDataset:
    """Load a dataset in the raw TUDataset format.

    Files, all one record a line with 1-based ids: ``NAME_A.txt`` holds directed adjacency
    entries ``row, col`` over global node ids (node ``row`` aggregates node ``col``);
    ``NAME_graph_indicator.txt`` holds the graph id of each node, in non-decreasing order;
    ``NAME_graph_labels.txt`` holds the label of each graph; the optional
    ``NAME_node_labels.txt`` holds the tag of each node. Every value is a decimal integer
    that fits 64 bits; an adjacency entry listed twice counts once. Labels and tags are mapped like
    `load_text`; without node labels every node gets the single feature 1.

    Parameters
    ----------
    directory : str or Path
        Folder holding the files.
    name : str, optional
        The ``NAME`` prefix; found from the single ``*_A.txt`` file when omitted.

    Raises
    ------
    FileNotFoundError
        If a required file is missing.
    DatasetFormatError
        If a file does not follow the format; the message names the file and line.

    Notes
    -----
    Edge labels, node and edge attributes and graph attributes are ignored.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"TUDataset directory {directory} does not exist.")
    if name is None:
        name = _single_prefix(directory)

    labels_path = directory / f"{name}_graph_labels.txt"
    raw_labels = _read_int_column(labels_path, "graph labels")
    n_graphs = raw_labels.size

    indicator_path = directory / f"{name}_graph_indicator.txt"
    indicator = _read_int_column(indicator_path, "graph indicator")
    bad = np.flatnonzero((indicator < 1) | (indicator > n_graphs))
    if bad.size:
        raise DatasetFormatError(
            indicator_path,
            int(bad[0]) + 1,
            f"a graph id from 1 to {n_graphs} ({labels_path.name} lists {n_graphs} graphs)",
            f"found {indicator[bad[0]]}",
        )
    bad = np.flatnonzero(np.diff(indicator) < 0)
    if bad.size:
        raise DatasetFormatError(
            indicator_path,
            int(bad[0]) + 2,
            f"graph ids in non-decreasing order (at least {indicator[bad[0]]})",
            f"found {indicator[bad[0] + 1]}",
        )
    sizes = np.bincount(indicator - 1, minlength=n_graphs)
    empty = np.flatnonzero(sizes == 0)
    if empty.size:
        raise DatasetFormatError(
            labels_path,
            int(empty[0]) + 1,
            f"a graph with at least one node in {indicator_path.name}",
            f"no node belongs to graph {empty[0] + 1}",
        )
    n_total = indicator.size
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))

    edges_path = directory / f"{name}_A.txt"
    lines = _read_lines(edges_path, "adjacency file")
    end = _last_content_line(lines)
    edges = np.empty((end, 2), dtype=np.int64)
    for i in range(end):
        parts = lines[i].split(",")
        expected = "a directed adjacency entry 'row, col'"
        if len(parts) != 2:
            raise DatasetFormatError(edges_path, i + 1, expected, f"found {_show(lines[i])}")
        for column, part in enumerate(parts):
            value = _int64(part.strip())
            if value is None:
                raise DatasetFormatError(edges_path, i + 1, expected, f"found {_show(lines[i])}")
            edges[i, column] = value
    bad = np.flatnonzero(np.any((edges < 1) | (edges > n_total), axis=1))
    if bad.size:
        raise DatasetFormatError(
            edges_path,
            int(bad[0]) + 1,
            f"node ids from 1 to {n_total} ({indicator_path.name} lists {n_total} nodes)",
            f"found {lines[bad[0]].strip()!r}",
        )
    edges -= 1
    edge_graph = indicator[edges[:, 0]] - 1
    bad = np.flatnonzero(edge_graph != indicator[edges[:, 1]] - 1)
    if bad.size:
        row, col = edges[bad[0]] + 1
        raise DatasetFormatError(
            edges_path,
            int(bad[0]) + 1,
            "an entry between two nodes of the same graph",
            f"node {row} is in graph {indicator[row - 1]} and node {col} in graph "
            f"{indicator[col - 1]}",
        )

    tags = None
    node_labels_path = directory / f"{name}_node_labels.txt"
    if node_labels_path.exists():
        node_tags = _read_int_column(node_labels_path, "node labels", allow_empty=True)
        if node_tags.size < n_total:
            raise DatasetFormatError(
                node_labels_path,
                node_tags.size + 1,
                f"a label for node {node_tags.size + 1} of {n_total}",
                f"the file ends after line {node_tags.size}",
            )
        if node_tags.size > n_total:
            raise DatasetFormatError(
                node_labels_path,
                n_total + 1,
                f"the end of the file after {n_total} node labels",
                "found more lines",
            )
        tags = [node_tags[s : s + n] for s, n in zip(starts, sizes, strict=True)]

    adjacencies = [np.zeros((n, n), dtype=np.int64) for n in sizes]
    order = np.argsort(edge_graph, kind="stable")
    bounds = np.searchsorted(edge_graph[order], np.arange(n_graphs + 1))
    for g in range(n_graphs):
        chosen = edges[order[bounds[g] : bounds[g + 1]]] - starts[g]
        adjacencies[g][chosen[:, 0], chosen[:, 1]] = 1

    dataset = _assemble(
        name, adjacencies, tags, raw_labels, [f"{name}[{g}]" for g in range(n_graphs)]
    )
    logger.debug("loaded %d graphs from TUDataset %s in %s", len(dataset), name, directory)
    return dataset


_FOLD_FILE = re.compile(r"(train|test)_idx-([0-9]+)\.txt")


def _load_folds(folder: Path, n_graphs: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Read ``train_idx-K.txt`` / ``test_idx-K.txt`` pairs (0-based indices, one a line)."""
    found: dict[int, set[str]] = {}
    for path in folder.iterdir():
        match = _FOLD_FILE.fullmatch(path.name)
        if match:
            found.setdefault(int(match.group(2)), set()).add(match.group(1))
    numbers = sorted(found)
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(
            f"{folder} must hold folds numbered 1 to K without gaps, but it holds folds {numbers}."
        )
    folds = []
    for k in numbers:
        pair = []
        for part in ("train", "test"):
            path = folder / f"{part}_idx-{k}.txt"
            indices = _read_int_column(path, f"{part} indices of fold {k}")
            bad = np.flatnonzero((indices < 0) | (indices >= n_graphs))
            if bad.size:
                raise DatasetFormatError(
                    path,
                    int(bad[0]) + 1,
                    f"a 0-based graph index from 0 to {n_graphs - 1}",
                    f"found {indices[bad[0]]}",
                )
            pair.append(indices)
        train, test = pair
        overlap = np.flatnonzero(np.isin(test, train))
        if overlap.size:
            raise DatasetFormatError(
                folder / f"test_idx-{k}.txt",
                int(overlap[0]) + 1,
                f"a graph that is not in train_idx-{k}.txt",
                f"graph {test[overlap[0]]} is in both",
            )
        folds.append((train, test))
    return tuple(folds)


def load_dataset(path) -> GraphDataset:
    """Load a dataset from a file or folder, whichever format it is in.

    A folder ``.../NAME`` holding ``NAME.txt`` is read with `load_text`, with the folds of
    ``10fold_idx/`` when that subfolder exists; a folder holding ``*_A.txt`` is read with
    `load_tudataset`; a file is read with `load_text`.

    Raises
    ------
    FileNotFoundError
        If the path does not exist or the folder holds neither format.
    DatasetFormatError
        If a file does not follow its format.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset path {path} does not exist.")
    if path.is_file():
        return load_text(path)
    text_file = path / f"{path.name}.txt"
    if text_file.is_file():
        dataset = load_text(text_file, name=path.name)
        fold_dir = path / "10fold_idx"
        if fold_dir.is_dir():
            folds = _load_folds(fold_dir, len(dataset))
            dataset = GraphDataset(
                name=dataset.name,
                graphs=dataset.graphs,
                n_classes=dataset.n_classes,
                n_tags=dataset.n_tags,
                label_values=dataset.label_values,
                folds=folds,
                tag_values=dataset.tag_values,
            )
        return dataset
    if any(path.glob("*_A.txt")):
        return load_tudataset(path)
    raise FileNotFoundError(
        f"{path} holds neither {text_file.name} (graph text format) nor a NAME_A.txt file "
        "(TUDataset raw format)."
    )


def shared_data_dir() -> Path:
    """Return the folder of shared benchmark data, ``../shared/data`` beside the repository."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def mutag_path() -> Path:
    """Return the MUTAG folder inside `shared_data_dir` (which may not exist)."""
    return shared_data_dir() / "MUTAG"

"""Fuzzing of the dataset loaders: valid files must load exactly, and malformed ones (bad
counts, indices out of range, huge numbers, garbage bytes) must end in a DatasetFormatError.

An independent parser of each format here decides whether a file is valid and what it holds;
the loaders must agree with it. ``SPIKEGNN_FUZZ_EXAMPLES`` raises the example count.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden.config import CoreConfig
from golden.datasets import DatasetFormatError, load_dataset, load_text, load_tudataset
from golden.fixed import FixedPointModel

EXAMPLES = int(os.environ.get("SPIKEGNN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

INT64 = (-(1 << 63), (1 << 63) - 1)
DIGITS = re.compile(r"[+-]?[0-9]+")


class InvalidFileError(Exception):
    """The reference parser's verdict: the file does not follow its format."""


# --------------------------------------------------------------------------------------------
# Reference parsers: what a file holds, written from the format descriptions alone


def _integer(token: str) -> int:
    if not DIGITS.fullmatch(token):
        raise InvalidFileError(token)
    value = int(token)
    if not INT64[0] <= value <= INT64[1]:
        raise InvalidFileError(token)
    return value


def _content_lines(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidFileError("not UTF-8") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def reference_text(data: bytes):
    """Graphs of the text format as ``(n_nodes, sorted entries, tags, label)`` a graph.

    Raises InvalidFileError when the file does not follow the format.
    """
    lines = iter(_content_lines(data))

    def ints() -> list[int]:
        line = next(lines, None)
        if line is None or not line.split():
            raise InvalidFileError("missing or empty line")
        return [_integer(token) for token in line.split()]

    header = ints()
    if len(header) != 1 or header[0] < 1:
        raise InvalidFileError("graph count")
    graphs = []
    for _ in range(header[0]):
        head = ints()
        if len(head) != 2 or head[0] < 1:
            raise InvalidFileError("graph header")
        n_nodes, label = head
        entries, tags = [], []
        for node in range(n_nodes):
            values = ints()
            if len(values) < 2 or values[1] < 0 or len(values) - 2 != values[1]:
                raise InvalidFileError("node line")
            neighbours = values[2:]
            if len(set(neighbours)) != len(neighbours):
                raise InvalidFileError("repeated neighbour")
            if any(not 0 <= j < n_nodes for j in neighbours):
                raise InvalidFileError("neighbour index")
            entries += [(node, j) for j in neighbours]
            tags.append(values[0])
        graphs.append((n_nodes, sorted(entries), tags, label))
    if next(lines, None) is not None:
        raise InvalidFileError("text after the last graph")
    return graphs


def _column(data: bytes) -> list[int]:
    values = []
    for line in _content_lines(data):
        tokens = line.split()
        if len(tokens) != 1:
            raise InvalidFileError("one integer a line")
        values.append(_integer(tokens[0]))
    return values


def reference_tudataset(files: dict[str, bytes], name: str):
    """Graphs of the raw TUDataset files, as :func:`reference_text` gives them.

    Raises InvalidFileError when a file does not follow the format.
    """
    labels = _column(files[f"{name}_graph_labels.txt"])
    indicator = _column(files[f"{name}_graph_indicator.txt"])
    if not labels or not indicator:
        raise InvalidFileError("empty file")
    n_graphs = len(labels)
    if any(not 1 <= g <= n_graphs for g in indicator) or indicator != sorted(indicator):
        raise InvalidFileError("graph indicator")
    if set(indicator) != set(range(1, n_graphs + 1)):
        raise InvalidFileError("a graph without nodes")
    entries = []
    for line in _content_lines(files[f"{name}_A.txt"]):
        parts = line.split(",")
        if len(parts) != 2:
            raise InvalidFileError("adjacency entry")
        row, col = (_integer(part.strip()) for part in parts)
        if not (1 <= row <= len(indicator) and 1 <= col <= len(indicator)):
            raise InvalidFileError("node id")
        if indicator[row - 1] != indicator[col - 1]:
            raise InvalidFileError("entry across graphs")
        entries.append((row - 1, col - 1))
    node_labels = files.get(f"{name}_node_labels.txt")
    tags = _column(node_labels) if node_labels is not None else [None] * len(indicator)
    if len(tags) != len(indicator):
        raise InvalidFileError("node label count")
    graphs = []
    for g in range(1, n_graphs + 1):
        nodes = [i for i, owner in enumerate(indicator) if owner == g]
        start = nodes[0]
        local = sorted({(r - start, c - start) for r, c in entries if indicator[r] == g})
        graphs.append((len(nodes), local, [tags[i] for i in nodes], labels[g - 1]))
    return graphs


def assert_dataset_holds(dataset, graphs, tagged: bool = True) -> None:
    """The loaded dataset holds exactly the reference graphs, labels and tags."""
    label_values = sorted({label for *_, label in graphs})
    assert dataset.label_values == tuple(label_values)
    if tagged:
        tag_values = sorted({tag for _, _, tags, _ in graphs for tag in tags})
        assert dataset.tag_values == tuple(tag_values)
    assert len(dataset) == len(graphs)
    for graph, (n_nodes, entries, tags, label) in zip(dataset, graphs, strict=True):
        assert graph.n_nodes == n_nodes
        assert sorted(map(tuple, np.argwhere(graph.adjacency).tolist())) == entries
        assert dataset.label_values[graph.label] == label
        if tagged:
            columns = [dataset.tag_values.index(tag) for tag in tags]
            expected = np.zeros((n_nodes, len(dataset.tag_values)))
            expected[np.arange(n_nodes), columns] = 1.0
            np.testing.assert_array_equal(graph.features, expected)
        else:
            np.testing.assert_array_equal(graph.features, np.ones((n_nodes, 1)))


def check_against_reference(load, reference):
    """Run a loader; it must agree with the reference parser or raise DatasetFormatError."""
    try:
        expected = reference()
    except InvalidFileError:
        expected = None
    if expected is None:
        with pytest.raises(DatasetFormatError) as error:
            load()
        message = str(error.value)
        assert "line" in message and "expected" in message, message
        return None
    dataset = load()
    return dataset, expected


# --------------------------------------------------------------------------------------------
# Strategies: valid datasets, their files, and damage to them

small_ints = st.integers(-3, 9)
any_ints = st.one_of(small_ints, st.integers(*INT64))


@st.composite
def datasets(draw, max_graphs: int = 4, max_nodes: int = 5):
    """``(n_nodes, entries, tags, label)`` per graph; entries are distinct (row, col) pairs."""
    graphs = []
    for _ in range(draw(st.integers(1, max_graphs))):
        n_nodes = draw(st.integers(1, max_nodes))
        cells = [(i, j) for i in range(n_nodes) for j in range(n_nodes)]
        entries = sorted(draw(st.sets(st.sampled_from(cells), max_size=len(cells))))
        tags = draw(st.lists(any_ints, min_size=n_nodes, max_size=n_nodes))
        graphs.append((n_nodes, entries, tags, draw(any_ints)))
    return graphs


def text_file(graphs, sep: str = " ") -> bytes:
    lines = [str(len(graphs))]
    for n_nodes, entries, tags, label in graphs:
        lines.append(f"{n_nodes}{sep}{label}")
        for node in range(n_nodes):
            neighbours = [j for i, j in entries if i == node]
            lines.append(sep.join(map(str, [tags[node], len(neighbours), *neighbours])))
    return ("\n".join(lines) + "\n").encode()


def tudataset_files(graphs, name: str, tagged: bool = True) -> dict[str, bytes]:
    entries, indicator, tags, offset = [], [], [], 0
    for g, (n_nodes, local, graph_tags, _) in enumerate(graphs):
        entries += [f"{r + offset + 1}, {c + offset + 1}" for r, c in local]
        indicator += [str(g + 1)] * n_nodes
        tags += [str(t) for t in graph_tags]
        offset += n_nodes
    files = {
        f"{name}_A.txt": "\n".join(entries) + "\n" if entries else "",
        f"{name}_graph_indicator.txt": "\n".join(indicator) + "\n",
        f"{name}_graph_labels.txt": "\n".join(str(g[3]) for g in graphs) + "\n",
    }
    if tagged:
        files[f"{name}_node_labels.txt"] = "\n".join(tags) + "\n"
    return {key: value.encode() for key, value in files.items()}


GARBAGE_TOKENS = [
    "",
    "x",
    "-",
    "1.5",
    "1e3",
    "0x10",
    "99999999999999999999999",
    "-9223372036854775809",
    "9223372036854775807",
    "٣",
    "\x00",
    "\ufeff1",
    ",",
    "1,",
    " , ",
    "-1",
    "0",
    "1000000000",
]
GARBAGE_BYTES = [b"\xff", b"\xc3", b"\x00", b"\r", b"\x0b", b"\x1c", b"\xe2\x80\xa8", b"\t", b" "]


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` with one to three random edits: lines dropped, repeated, swapped or replaced,
    tokens replaced by garbage or extreme numbers, bytes inserted, or the file cut short."""
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["drop", "repeat", "swap", "token", "number", "bytes", "cut", "blank"])
        )
        index = draw(st.integers(0, max(0, len(lines) - 1)))
        if not lines:
            lines = [b""]
        if kind == "drop":
            del lines[index]
        elif kind == "repeat":
            lines.insert(index, lines[index])
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind in ("token", "number"):
            tokens = re.split(rb"([ ,]+)", lines[index])
            position = draw(st.integers(0, max(0, len(tokens) - 1)))
            if kind == "token":
                new = draw(st.sampled_from(GARBAGE_TOKENS)).encode()
            else:
                new = str(draw(st.one_of(st.integers(-2, 12), st.integers(-(1 << 70), 1 << 70))))
                new = new.encode()
            tokens[position] = new
            lines[index] = b"".join(tokens)
        elif kind == "bytes":
            line = lines[index]
            cut = draw(st.integers(0, len(line)))
            lines[index] = line[:cut] + draw(st.sampled_from(GARBAGE_BYTES)) + line[cut:]
        elif kind == "cut":
            joined = b"\n".join(lines)
            lines = joined[: draw(st.integers(0, len(joined)))].split(b"\n")
        else:
            lines.insert(index, b"   ")
    return b"\n".join(lines)


# --------------------------------------------------------------------------------------------
# The text format


@FUZZ
@given(graphs=datasets(), sep=st.sampled_from([" ", "  ", "\t", " \t "]))
def test_valid_text_files_load_exactly(graphs, sep):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.txt"
        path.write_bytes(text_file(graphs, sep))
        assert_dataset_holds(load_text(path), graphs)
        assert_dataset_holds(load_dataset(path), graphs)


@FUZZ
@given(data=st.data(), graphs=datasets())
def test_damaged_text_files_load_exactly_or_fail_clearly(data, graphs):
    content = data.draw(damaged(text_file(graphs)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.txt"
        path.write_bytes(content)
        outcome = check_against_reference(lambda: load_text(path), lambda: reference_text(content))
        if outcome is not None:
            assert_dataset_holds(*outcome)


@FUZZ
@given(content=st.binary(max_size=200))
def test_garbage_bytes_as_text_fail_clearly(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "garbage.txt"
        path.write_bytes(content)
        outcome = check_against_reference(lambda: load_text(path), lambda: reference_text(content))
        if outcome is not None:
            assert_dataset_holds(*outcome)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("1\n1 99999999999999999999\n0 0\n", 2, "is not a 64-bit integer"),
        ("1000000000000\n1 0\n0 0\n", 4, "the file ends after line 3"),
        ("1\n200000 0\n0 0\n", 4, "the file ends after line 3"),
        ("1\n2 0\n0 2 1 1\n0 0\n", 3, "neighbour 1 is listed 2 times"),
        ("1\n1 0\n9223372036854775808 0\n", 3, "is not a 64-bit integer"),
    ],
)
def test_text_counts_and_numbers_that_once_crashed(tmp_path, text, line, words):
    """Huge counts once tried to allocate them, huge numbers overflowed int64, and a repeated
    neighbour silently gave a smaller degree than the line stated."""
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DatasetFormatError, match=rf"line {line}: expected .*{re.escape(words)}"):
        load_text(path)


# --------------------------------------------------------------------------------------------
# The TUDataset raw format


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    for file_name, content in files.items():
        (folder / file_name).write_bytes(content)


@FUZZ
@given(graphs=datasets(), tagged=st.booleans())
def test_valid_tudataset_files_load_exactly(graphs, tagged):
    with tempfile.TemporaryDirectory() as folder:
        _write_files(Path(folder), tudataset_files(graphs, "FUZZ", tagged))
        assert_dataset_holds(load_tudataset(folder), graphs, tagged)
        assert_dataset_holds(load_dataset(folder), graphs, tagged)


@FUZZ
@given(data=st.data(), graphs=datasets(), tagged=st.booleans())
def test_damaged_tudataset_files_load_exactly_or_fail_clearly(data, graphs, tagged):
    files = tudataset_files(graphs, "FUZZ", tagged)
    victim = data.draw(st.sampled_from(sorted(files)))
    files[victim] = data.draw(damaged(files[victim]))
    with tempfile.TemporaryDirectory() as folder:
        _write_files(Path(folder), files)
        outcome = check_against_reference(
            lambda: load_tudataset(folder), lambda: reference_tudataset(files, "FUZZ")
        )
        if outcome is not None:
            assert_dataset_holds(*outcome, tagged)


def test_tudataset_huge_node_id_is_a_format_error(tmp_path):
    files = tudataset_files([(2, [(0, 1)], [1, 2], 0)], "BIG")
    files["BIG_A.txt"] = b"1, 99999999999999999999\n"
    _write_files(tmp_path, files)
    with pytest.raises(DatasetFormatError, match=r"BIG_A.txt, line 1: expected .*'row, col'"):
        load_tudataset(tmp_path)


# --------------------------------------------------------------------------------------------
# Graphs over the core's limits


@FUZZ
@given(
    graphs=datasets(max_graphs=2, max_nodes=6),
    max_nodes=st.integers(1, 6),
    max_edges=st.integers(1, 20),
)
def test_loaded_graphs_over_the_limits_are_refused_by_name(graphs, max_nodes, max_edges):
    config = CoreConfig(layer_dims=(1, 2), lanes=1, max_nodes=max_nodes, max_edges=max_edges)
    model = FixedPointModel(config, [np.zeros((2, 1), dtype=np.int64)])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "limits.txt"
        path.write_bytes(text_file(graphs))
        dataset = load_text(path)
    for graph in dataset:
        features = np.ones((graph.n_nodes, 1))
        if graph.n_nodes > max_nodes:
            with pytest.raises(
                ValueError, match=rf"{graph.n_nodes} nodes, more than .* {max_nodes}"
            ):
                model.prepare(graph.adjacency, features)
        elif graph.n_edges > max_edges:
            with pytest.raises(ValueError, match=rf"{graph.n_edges} edges .* {max_edges}"):
                model.prepare(graph.adjacency, features)
        else:
            adjacency, quantised = model.prepare(graph.adjacency, features)
            np.testing.assert_array_equal(adjacency, graph.adjacency)
            np.testing.assert_array_equal(quantised, np.full((graph.n_nodes, 1), 256))

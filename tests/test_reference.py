"""Tests of the float reference model against the seed document's own code, hand-worked examples,
the reachable-threshold helpers and the one-sentence error messages.
"""

import math
import re
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from golden import reference
from golden.reference import (
    SpikeGNNLayer,
    SpikeGraphConv,
    UnreachableThresholdWarning,
    max_membrane,
    reset_unreachable_warnings,
    threshold_reachable,
)

SEED_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "seed"

# The comparison tests draw many thresholds no neuron can reach; that warning has its own tests.
pytestmark = pytest.mark.filterwarnings("ignore::golden.reference.UnreachableThresholdWarning")

_LINE_NUMBER = re.compile(r"^\s*\d+\s*$")


# --------------------------------------------------------------------------------------------
# Seed oracle: the seed document's two classes, executed as they are printed.
# --------------------------------------------------------------------------------------------


def _first_complete_block(lines: list[str], header: list[str], last: str) -> str | None:
    """Return the first block that opens with the ``header`` lines and closes with ``last``.

    An occurrence counts as complete when ``last`` comes before the next occurrence of the
    header. Lines holding only a number (the document's line-number gutter) are dropped.
    """
    width = len(header)
    starts = [
        i
        for i in range(len(lines) - width + 1)
        if [line.rstrip() for line in lines[i : i + width]] == header
    ]
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(lines)
        for end in range(start + width, stop):
            if lines[end].strip() == last:
                kept = [line for line in lines[start : end + 1] if not _LINE_NUMBER.match(line)]
                return textwrap.dedent("\n".join(kept)) + "\n"
    return None


def extract_seed_source(text: str) -> str:
    """Return the source of the seed's ``SpikeGraphConv`` and ``SpikeGNNLayer`` classes.

    Raises ``AssertionError`` naming the missing class when the text does not hold both.
    """
    lines = text.splitlines()
    conv = _first_complete_block(lines, ["class SpikeGraphConv:"], "return spike_counts")
    layer = _first_complete_block(
        lines, ["@dataclass", "class SpikeGNNLayer:"], "return len(self.convs)"
    )
    assert conv is not None, "no complete 'class SpikeGraphConv:' ... 'return spike_counts' block"
    assert layer is not None, (
        "no complete '@dataclass' / 'class SpikeGNNLayer:' ... 'return len(self.convs)' block"
    )
    return conv + "\n\n" + layer


def find_seed_document(seed_dir: Path) -> Path | None:
    """Return the first ``seed_dir/*.txt`` that defines the seed classes.

    Returns ``None`` when the directory holds no ``*.txt`` document; raises ``AssertionError``
    when documents are present but none of them defines ``SpikeGraphConv``.
    """
    documents = sorted(seed_dir.glob("*.txt")) if seed_dir.is_dir() else []
    if not documents:
        return None
    holders = [path for path in documents if "class SpikeGraphConv:" in path.read_text()]
    assert holders, f"no document in {seed_dir} defines 'class SpikeGraphConv:'"
    return holders[0]


def load_seed_oracle(seed_dir: Path) -> dict | None:
    """Execute the seed classes of :func:`find_seed_document` and return their namespace.

    Returns ``None`` when the seed is absent; raises ``AssertionError`` when documents are
    present but the classes cannot be extracted or executed.
    """
    path = find_seed_document(seed_dir)
    if path is None:
        return None
    source = extract_seed_source(path.read_text())
    namespace = {"np": np, "dataclass": dataclass, "__name__": "seed_oracle"}
    exec(compile(source, str(path), "exec", dont_inherit=True), namespace)
    for name in ("SpikeGraphConv", "SpikeGNNLayer"):
        assert isinstance(namespace.get(name), type), f"{path} did not define class {name}"
    return namespace


@pytest.fixture(scope="module")
def seed():
    """The seed document's classes, or a skip when ``../shared/seed`` holds no document."""
    oracle = load_seed_oracle(SEED_DIR)
    if oracle is None:
        pytest.skip(f"seed document ../shared/seed is absent: no *.txt file in {SEED_DIR}")
    return oracle


def test_seed_document_yields_both_classes():
    """Present but unreadable seed documents fail here rather than being skipped."""
    oracle = load_seed_oracle(SEED_DIR)
    if oracle is None:
        pytest.skip(f"seed document ../shared/seed is absent: no *.txt file in {SEED_DIR}")
    source = extract_seed_source(find_seed_document(SEED_DIR).read_text())
    assert not any(_LINE_NUMBER.match(line) for line in source.splitlines())
    assert oracle["SpikeGNNLayer"](layer_dims=[3, 2]).n_layers == 1


def test_extraction_of_a_truncated_document_fails(tmp_path):
    (tmp_path / "doc.txt").write_text(
        "class SpikeGraphConv:\n    pass\n 12\n@dataclass\nclass SpikeGNNLayer:\n    x: int\n"
    )
    with pytest.raises(AssertionError, match="SpikeGraphConv"):
        load_seed_oracle(tmp_path)


def test_extraction_skips_incomplete_copies_and_gutter_lines(tmp_path):
    text = (
        "class SpikeGraphConv:\n    truncated\n"
        "class SpikeGraphConv:\n 7\n    def f(self):\n 8\n        return spike_counts\n"
        "@dataclass\nclass SpikeGNNLayer:\n    x: int = 1\n\n    def n(self):\n"
        "        return len(self.convs)\n"
    )
    source = extract_seed_source(text)
    assert "truncated" not in source
    assert " 7" not in source and " 8" not in source
    compile(source, "<test>", "exec")


def test_absent_seed_directory_gives_none(tmp_path):
    assert load_seed_oracle(tmp_path / "missing") is None
    assert load_seed_oracle(tmp_path) is None


# --------------------------------------------------------------------------------------------
# Random cases compared bit for bit with the seed.
# --------------------------------------------------------------------------------------------


def random_adjacency(rng: np.random.Generator, n: int, *, weighted: bool) -> np.ndarray:
    """Random graph with random density and some isolated nodes, in a random dtype."""
    edges = rng.random((n, n)) < rng.uniform(0.0, 1.0)
    isolated = rng.random(n) < 0.2
    edges[isolated, :] = False
    edges[:, isolated] = False
    if weighted:
        weights = rng.uniform(0.0, 2.0, (n, n))
        if rng.random() < 0.3:
            weights -= rng.uniform(0.0, 0.5)
        adjacency = np.where(edges, weights, 0.0)
        return adjacency.astype(np.float32) if rng.random() < 0.2 else adjacency
    return edges.astype(rng.choice([np.int64, np.float64, np.float32, np.int32, bool]))


def random_features(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """Features mostly in [0, 1], sometimes outside it, sometimes float32."""
    if rng.random() < 0.7:
        features = rng.random((n, width))
    else:
        features = rng.uniform(-1.0, 2.0, (n, width))
    return features.astype(np.float32) if rng.random() < 0.15 else features


def random_threshold(rng: np.random.Generator, *, small: bool = False) -> float:
    """Half (all when ``small``) low enough that neurons fire, the rest near the seed default."""
    pick = 0.0 if small else rng.random()
    if pick < 0.5:
        return float(rng.uniform(0.05, 0.5))
    if pick < 0.85:
        return float(rng.uniform(0.5, 1.3))
    return 1.0


def random_tau(rng: np.random.Generator):
    pick = rng.random()
    if pick < 0.3:
        return 10.0
    if pick < 0.4:
        return int(rng.integers(1, 20))
    return float(rng.uniform(0.5, 30.0))


@pytest.mark.parametrize("case_seed", range(25))
def test_conv_matches_seed(seed, case_seed):
    rng = np.random.default_rng(1000 + case_seed)
    spiking_cases = 0
    for index in range(8):
        n = int(rng.integers(1, 31))
        width, out = (int(v) for v in rng.integers(1, 13, 2))
        threshold = random_threshold(rng, small=index < 2)
        tau, T = random_tau(rng), int(rng.integers(1, 21))
        weight_seed = int(rng.integers(0, 2**31))
        adjacency = random_adjacency(rng, n, weighted=rng.random() < 0.5)
        features = random_features(rng, n, width)

        ours = SpikeGraphConv(width, out, threshold=threshold, tau_mem=tau, seed=weight_seed)
        theirs = seed["SpikeGraphConv"](
            width, out, threshold=threshold, tau_mem=tau, seed=weight_seed
        )
        assert np.array_equal(ours.W, theirs.W)
        assert (ours.in_features, ours.out_features) == (theirs.in_features, theirs.out_features)
        assert (ours.threshold, ours.tau_mem) == (theirs.threshold, theirs.tau_mem)
        assert ours._v is None and theirs._v is None

        expected = theirs.forward(features, adjacency, T=T)
        got = ours.forward(features, adjacency, T=T)
        assert got.dtype == expected.dtype and got.shape == (n, out)
        assert np.array_equal(got, expected)
        assert np.array_equal(ours._v, theirs._v)
        # The drive itself, as the seed document writes it (counts only see it through `<`).
        degree = np.clip(adjacency.sum(axis=1, keepdims=True), 1, None)
        drive = ((adjacency @ features) / degree) @ theirs.W.T
        assert np.array_equal(ours.project(features, adjacency), drive)
        # A fresh input generator per call: the same inputs give the same counts again.
        assert np.array_equal(ours.forward(features, adjacency, T=T), expected)
        spiking_cases += bool(expected.any())
    assert spiking_cases > 0, "no case produced a spike, so the comparison proved nothing"


@pytest.mark.parametrize("case_seed", range(20))
def test_layer_matches_seed(seed, case_seed):
    rng = np.random.default_rng(5000 + case_seed)
    spiking_cases = 0
    for index in range(5):
        n = int(rng.integers(1, 31))
        dims = [int(v) for v in rng.integers(1, 11, int(rng.integers(2, 5)))]
        threshold = random_threshold(rng, small=index < 2)
        tau, T = random_tau(rng), int(rng.integers(1, 21))
        adjacency = random_adjacency(rng, n, weighted=rng.random() < 0.5)
        features = random_features(rng, n, dims[0])

        ours = SpikeGNNLayer(dims, threshold=threshold, T=T, tau_mem=tau)
        theirs = seed["SpikeGNNLayer"](layer_dims=dims, threshold=threshold, T=T)
        for conv in theirs.convs:  # the seed's tutorial sets tau_mem on each layer
            conv.tau_mem = tau
        assert ours.n_layers == theirs.n_layers == len(dims) - 1
        for mine, other in zip(ours.convs, theirs.convs, strict=True):
            assert np.array_equal(mine.W, other.W)

        expected = theirs.forward(features, adjacency)
        assert np.array_equal(ours.forward(features, adjacency), expected)
        for mine, other in zip(ours.convs, theirs.convs, strict=True):
            assert np.array_equal(mine._v, other._v)
        assert ours.graph_classify(features, adjacency) == theirs.graph_classify(
            features, adjacency
        )
        spiking_cases += bool(expected.any())
    assert spiking_cases > 0, "no case produced a spike, so the comparison proved nothing"


def test_default_configuration_never_spikes_in_either_model(seed):
    # threshold 1.0 > max_membrane(10, 8) ~ 0.5507: the seed's documented defaults are silent.
    rng = np.random.default_rng(7)
    features, adjacency = rng.random((6, 16)) * 5, np.ones((6, 6))
    ours, theirs = SpikeGNNLayer([16, 8, 4]), seed["SpikeGNNLayer"](layer_dims=[16, 8, 4])
    assert not ours.forward(features, adjacency).any()
    assert np.array_equal(ours.forward(features, adjacency), theirs.forward(features, adjacency))
    assert ours.graph_classify(features, adjacency) == theirs.graph_classify(features, adjacency)
    assert ours.graph_classify(features, adjacency) == 0


def test_integer_inputs_match_seed(seed):
    features = np.array([[1, 0, 2], [0, 1, 1], [3, 1, 0]])
    adjacency = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    ours = SpikeGraphConv(3, 4, threshold=0.2, tau_mem=3)
    theirs = seed["SpikeGraphConv"](3, 4, threshold=0.2, tau_mem=3)
    expected = theirs.forward(features, adjacency, T=6)
    assert expected.any()
    assert np.array_equal(ours.forward(features, adjacency, T=6), expected)
    assert np.array_equal(ours.forward(features.tolist(), adjacency.tolist(), T=6), expected)


def test_boolean_features_and_adjacency_count_neighbours(seed):
    # The seed would multiply two bool arrays with logical OR; the reference (like validate.py)
    # reads booleans as 0/1 integers, so the result equals the integer graph's.
    rng = np.random.default_rng(3)
    features, adjacency = rng.random((7, 5)) < 0.5, rng.random((7, 7)) < 0.6
    ours = SpikeGraphConv(5, 3, threshold=0.1)
    theirs = seed["SpikeGraphConv"](5, 3, threshold=0.1)
    expected = theirs.forward(features.astype(np.int64), adjacency.astype(np.int64), T=9)
    assert np.array_equal(ours.forward(features, adjacency, T=9), expected)


# --------------------------------------------------------------------------------------------
# Hand-worked examples, independent of the seed.
# --------------------------------------------------------------------------------------------


def test_project_divides_by_degree_clipped_at_one():
    conv = SpikeGraphConv(1, 1)
    conv.W = np.array([[2.0]])
    features = np.array([[3.0], [5.0], [7.0]])
    adjacency = np.array([[0.25, 0.25, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    # node 0: row sum 0.5 is raised to 1, so (0.25*3 + 0.25*5) / 1 = 2.0, times W = 4.0
    # node 1: degree 2, (3 + 7) / 2 = 5.0, times W = 10.0
    # node 2: isolated, degree 0 -> 1, sum 0 -> 0.0
    assert np.array_equal(conv.project(features, adjacency), [[4.0], [10.0], [0.0]])


def test_two_node_conv_counts_by_hand():
    # tau_mem 2: alpha = exp(-1/2) = 0.60653, 1 - alpha = 0.39347; threshold 0.7; T 8.
    conv = SpikeGraphConv(1, 2, threshold=0.7, tau_mem=2.0)
    conv.W = np.array([[1.5], [-1.0]])
    features = np.array([[2.0], [0.0]])
    adjacency = np.array([[1, 1], [0, 0]])
    # node 0: degree 2, aggregate (2 + 0) / 2 = 1.0, drive [1.5, -1.0] -> rates [1, 0]
    # node 1: no neighbours, aggregate 0, drive [0, 0] -> rates [0, 0]
    # A rate of 1 spikes every step (uniform draws are < 1), a rate of 0 never does, so the
    # generator does not matter. Neuron (0, 0), v = 0.60653 v + 0.39347 each step:
    #   t0 0.39347   t1 0.63212   t2 0.77687 >= 0.7 fire -> 0.07687
    #   t3 0.44009   t4 0.66040   t5 0.79402 >= 0.7 fire -> 0.09402
    #   t6 0.45050   t7 0.66671   -> 2 spikes, final membrane 0.66671
    counts = conv.forward(features, adjacency, T=8)
    assert np.array_equal(counts, [[2.0, 0.0], [0.0, 0.0]])
    assert conv._v[0, 0] == pytest.approx(0.66671, abs=1e-5)
    assert np.array_equal(conv._v[0, 1:], [0.0]) and np.array_equal(conv._v[1], [0.0, 0.0])


def test_two_layer_classification_by_hand():
    layer = SpikeGNNLayer([1, 2, 2], threshold=0.7, T=8, tau_mem=2.0)
    layer.convs[0].W = np.array([[1.5], [-1.0]])
    layer.convs[1].W = np.array([[0.0, 2.0], [3.0, 0.0]])
    features = np.array([[1.0], [0.0]])
    adjacency = np.array([[1, 0], [1, 0]])  # both nodes aggregate node 0 only (degree 1)
    # layer 1: aggregate 1.0 for both nodes, drive [1.5, -1] -> counts [[2, 0], [2, 0]] as in
    #          the example above; divided by the largest count 2 -> [[1, 0], [1, 0]]
    # layer 2: aggregate [1, 0], drive [0*1 + 2*0, 3*1 + 0*0] = [0, 3] -> rates [0, 1]
    #          -> counts [[0, 2], [0, 2]], divided by 2 -> [[0, 1], [0, 1]]
    # readout: sum over nodes [0, 2] -> class 1
    assert np.array_equal(layer.forward(features, adjacency), [[0.0, 1.0], [0.0, 1.0]])
    assert layer.graph_classify(features, adjacency) == 1
    assert layer.n_layers == 2


def test_threshold_at_the_ceiling_fires_once_and_just_above_never():
    tau, T = 4.0, 5
    ceiling = max_membrane(tau, T)
    features, adjacency = np.array([[1.0]]), np.array([[1]])
    at = SpikeGraphConv(1, 1, threshold=ceiling, tau_mem=tau)
    at.W = np.array([[1.0]])
    # Every step has an input spike; the membrane first reaches the ceiling at the last step.
    assert np.array_equal(at.forward(features, adjacency, T=T), [[1.0]])
    above = SpikeGraphConv(1, 1, threshold=math.nextafter(ceiling, 2.0), tau_mem=tau)
    above.W = np.array([[1.0]])
    assert np.array_equal(above.forward(features, adjacency, T=T), [[0.0]])


def test_weights_are_he_scaled_legacy_normal_draws():
    conv = SpikeGraphConv(5, 3, seed=7)
    expected = np.random.RandomState(7).randn(3, 5) * np.sqrt(2.0 / 5)
    assert np.array_equal(conv.W, expected)
    layer = SpikeGNNLayer([5, 4, 2])
    assert np.array_equal(layer.convs[1].W, SpikeGraphConv(4, 2, seed=43).W)


def test_layer_is_a_dataclass_with_the_seed_fields():
    layer = SpikeGNNLayer([3, 2], threshold=0.4, T=5, tau_mem=6.0)
    assert (layer.layer_dims, layer.threshold, layer.T, layer.tau_mem) == ([3, 2], 0.4, 5, 6.0)
    assert repr(layer) == "SpikeGNNLayer(layer_dims=[3, 2], threshold=0.4, T=5, tau_mem=6.0)"
    assert layer == SpikeGNNLayer([3, 2], threshold=0.4, T=5, tau_mem=6.0)
    assert all(conv.tau_mem == 6.0 and conv.threshold == 0.4 for conv in layer.convs)


# --------------------------------------------------------------------------------------------
# Reachability and its warning.
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_warnings():
    """Forget earlier warnings so each configuration warns again, and record every warning."""
    reset_unreachable_warnings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    reset_unreachable_warnings()


def _unreachable(caught) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, UnreachableThresholdWarning)]


def test_max_membrane_values():
    assert max_membrane(10.0, 8) == pytest.approx(1 - math.exp(-0.8), abs=1e-15)
    assert max_membrane(10.0, 8) == pytest.approx(0.5507, abs=1e-4)
    assert max_membrane(1.0, 1) == pytest.approx(1 - math.exp(-1.0))
    assert max_membrane(5.0, 3) < max_membrane(5.0, 4) < max_membrane(5.0, 40) < 1.0
    assert issubclass(UnreachableThresholdWarning, UserWarning)


def test_threshold_reachable():
    assert not threshold_reachable(1.0, 10.0, 8)
    assert threshold_reachable(0.55, 10.0, 8)
    assert threshold_reachable(max_membrane(10.0, 8), 10.0, 8)
    # tau_mem 0.5, one step: 1 - exp(-2) = 0.8647
    assert threshold_reachable(0.86, 0.5, 1)
    assert not threshold_reachable(0.87, 0.5, 1)


def test_warning_once_per_configuration(fresh_warnings):
    SpikeGNNLayer([3, 2])
    SpikeGNNLayer([4, 4, 2])  # same (1.0, 10.0, 8): no second warning
    (first,) = _unreachable(fresh_warnings)
    message = str(first.message)
    assert "no neuron can ever spike" in message
    assert "threshold 1.0" in message and "tau_mem 10.0" in message and "T=8" in message
    assert f"at most {max_membrane(10.0, 8)!r}" in message
    assert first.filename == __file__  # points at the caller, not at the library

    SpikeGNNLayer([3, 2], T=9)  # a new configuration warns again
    assert len(_unreachable(fresh_warnings)) == 2


def test_warning_from_forward_uses_the_timesteps_of_the_call(fresh_warnings):
    conv = SpikeGraphConv(2, 2, threshold=0.6)
    assert not _unreachable(fresh_warnings)  # T is not known yet
    features, adjacency = np.ones((2, 2)), np.ones((2, 2))
    conv.forward(features, adjacency, T=20)  # max_membrane(10, 20) = 0.86: reachable
    assert not _unreachable(fresh_warnings)
    counts = conv.forward(features, adjacency, T=5)  # max_membrane(10, 5) = 0.39: unreachable
    conv.forward(features, adjacency, T=5)
    (only,) = _unreachable(fresh_warnings)
    assert "T=5" in str(only.message) and only.filename == __file__
    assert not counts.any()


def test_no_warning_for_a_reachable_threshold(fresh_warnings):
    layer = SpikeGNNLayer([2, 2], threshold=0.3)
    layer.graph_classify(np.ones((3, 2)), np.ones((3, 3)))
    assert not _unreachable(fresh_warnings)


def test_reset_restores_the_warning(fresh_warnings):
    SpikeGNNLayer([2, 2], threshold=2.0)
    SpikeGNNLayer([2, 2], threshold=2.0)
    reset_unreachable_warnings()
    SpikeGNNLayer([2, 2], threshold=2.0)
    assert len(_unreachable(fresh_warnings)) == 2
    assert reference._warned_configurations == {(2.0, 10.0, 8)}


# --------------------------------------------------------------------------------------------
# One test per error message: each names the argument and the value received.
# --------------------------------------------------------------------------------------------

_GRAPH = np.array([[0, 1], [1, 0]])
_FEATURES = np.ones((2, 3))

ERRORS = {
    "in_features zero": (
        lambda: SpikeGraphConv(0, 2),
        ValueError,
        "in_features must be a positive integer, but it is 0.",
    ),
    "in_features float": (
        lambda: SpikeGraphConv(2.5, 2),
        TypeError,
        "in_features must be a positive integer, not 2.5.",
    ),
    "out_features negative": (
        lambda: SpikeGraphConv(3, -4),
        ValueError,
        "out_features must be a positive integer, but it is -4.",
    ),
    "threshold zero": (
        lambda: SpikeGraphConv(3, 2, threshold=0.0),
        ValueError,
        "threshold must be a positive finite number, but it is 0.0.",
    ),
    "threshold text": (
        lambda: SpikeGraphConv(3, 2, threshold="high"),
        TypeError,
        "threshold must be a positive number, not 'high'.",
    ),
    "tau_mem negative": (
        lambda: SpikeGraphConv(3, 2, tau_mem=-1.0),
        ValueError,
        "tau_mem must be a positive finite number, but it is -1.0.",
    ),
    "tau_mem infinite": (
        lambda: SpikeGraphConv(3, 2, tau_mem=math.inf),
        ValueError,
        "tau_mem must be a positive finite number, but it is inf.",
    ),
    "T zero": (
        lambda: SpikeGraphConv(3, 2).forward(_FEATURES, _GRAPH, T=0),
        ValueError,
        "T must be at least 1, but it is 0.",
    ),
    "T float": (
        lambda: SpikeGraphConv(3, 2).forward(_FEATURES, _GRAPH, T=2.0),
        TypeError,
        "T must be a positive integer, not 2.0.",
    ),
    "adjacency not square": (
        lambda: SpikeGraphConv(3, 2).forward(_FEATURES, np.ones((2, 3))),
        ValueError,
        "adjacency must be a square N x N matrix, but its shape is (2, 3).",
    ),
    "adjacency empty": (
        lambda: SpikeGraphConv(3, 2).forward(np.ones((0, 3)), np.ones((0, 0))),
        ValueError,
        "adjacency must describe at least one node, but it is 0 x 0.",
    ),
    "adjacency nan": (
        lambda: SpikeGraphConv(3, 2).forward(_FEATURES, np.array([[0.0, np.nan], [1.0, 0.0]])),
        ValueError,
        "adjacency must hold finite numbers, but it contains nan.",
    ),
    "adjacency text": (
        lambda: SpikeGraphConv(3, 2).forward(_FEATURES, "ring"),
        TypeError,
        "adjacency must be a numeric array, not 'ring'.",
    ),
    "adjacency complex": (
        lambda: SpikeGraphConv(3, 2).forward(_FEATURES, _GRAPH * 1j),
        TypeError,
        "adjacency must hold real numbers, not values of dtype complex128.",
    ),
    "features infinite": (
        lambda: SpikeGraphConv(3, 2).forward(np.full((2, 3), np.inf), _GRAPH),
        ValueError,
        "node_features must hold finite numbers, but it contains inf.",
    ),
    "features row count": (
        lambda: SpikeGraphConv(3, 2).forward(np.ones((4, 3)), _GRAPH),
        ValueError,
        "node_features has 4 rows but the adjacency has 2 nodes; they must match.",
    ),
    "features one-dimensional": (
        lambda: SpikeGraphConv(3, 2).forward(np.ones(3), _GRAPH),
        ValueError,
        "node_features must be a 2-D N x F array, but its shape is (3,).",
    ),
    "features columns conv": (
        lambda: SpikeGraphConv(3, 2).forward(np.ones((2, 5)), _GRAPH),
        ValueError,
        "node_features has 5 columns but this layer expects 3 (in_features).",
    ),
    "features columns layer": (
        lambda: SpikeGNNLayer([3, 2]).forward(np.ones((2, 5)), _GRAPH),
        ValueError,
        "node_features has 5 columns but the first layer expects 3 (layer_dims[0]).",
    ),
    "layer_dims too short": (
        lambda: SpikeGNNLayer([4]),
        ValueError,
        "layer_dims must name at least two sizes (input and output), but it has 1: [4].",
    ),
    "layer_dims zero size": (
        lambda: SpikeGNNLayer([4, 0, 2]),
        ValueError,
        "layer_dims must hold positive integers, but it contains 0.",
    ),
    "layer_dims text": (
        lambda: SpikeGNNLayer("4,2"),
        TypeError,
        "layer_dims must be a list of positive integers, not '4,2'.",
    ),
    "layer T zero": (
        lambda: SpikeGNNLayer([4, 2], T=0),
        ValueError,
        "T must be at least 1, but it is 0.",
    ),
    "layer T boolean": (
        lambda: SpikeGNNLayer([4, 2], T=True),
        TypeError,
        "T must be a positive integer, not True.",
    ),
    "layer threshold negative": (
        lambda: SpikeGNNLayer([4, 2], threshold=-0.5),
        ValueError,
        "threshold must be a positive finite number, but it is -0.5.",
    ),
    "layer tau_mem zero": (
        lambda: SpikeGNNLayer([4, 2], tau_mem=0),
        ValueError,
        "tau_mem must be a positive finite number, but it is 0.",
    ),
    "max_membrane T": (
        lambda: max_membrane(10.0, 0),
        ValueError,
        "T must be at least 1, but it is 0.",
    ),
    "threshold_reachable threshold": (
        lambda: threshold_reachable(math.nan, 10.0, 8),
        ValueError,
        "threshold must be a positive finite number, but it is nan.",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_error_message(case):
    call, error, message = ERRORS[case]
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call()

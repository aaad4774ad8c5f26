"""Tests of golden/deviation.py: exact rates where both models are deterministic, the float
simulation against the reference model draw for draw, and the measured deviation on random data.
"""

import json
import math

import numpy as np
import pytest

from golden.builtin import builtin_dataset, random_graph
from golden.config import CoreConfig
from golden.deviation import DeviationReport, _lfsr_seeds, float_counts, measure_deviation
from golden.reference import SpikeGNNLayer

DEFAULT = CoreConfig()


def seed_weights(config: CoreConfig) -> list[np.ndarray]:
    """He-initialised weights drawn as the seed model draws them, layer ``i`` from 42 + i."""
    dims = config.layer_dims
    return [
        np.random.RandomState(42 + i).randn(dims[i + 1], dims[i]) * np.sqrt(2.0 / dims[i])
        for i in range(config.n_layers)
    ]


def saturating_graphs() -> list:
    """Connected graphs with features in [0.5, 1], plus one graph with an isolated node."""
    rng = np.random.default_rng(3)
    graphs = []
    for n_nodes in (2, 5, 9):
        adjacency = np.zeros((n_nodes, n_nodes), dtype=np.int64)
        for node in range(1, n_nodes):  # a random tree: every node has a neighbour
            parent = int(rng.integers(node))
            adjacency[node, parent] = adjacency[parent, node] = 1
        graphs.append((adjacency, rng.uniform(0.5, 1.0, size=(n_nodes, 7))))
    # Path 0 - 1 - 2 and node 3 alone.
    adjacency = np.zeros((4, 4), dtype=np.int64)
    adjacency[[0, 1, 1, 2], [1, 0, 2, 1]] = 1
    graphs.append((adjacency, rng.uniform(0.5, 1.0, size=(4, 7))))
    return graphs


def test_probability_one_gives_exact_rates():
    # Weights 100 (float) and 127/64 (fixed, saturated) drive every neuron of a node with
    # neighbours to probability 1 (fixed: >= 7 * 127 * 127 >> 4 = 7056, clipped to 1024), so
    # every step brings an input spike in both models. The membrane then crosses 0.25 (1024)
    # at steps 3 and 6 only (float: 1 - alpha**3 = 0.2592; fixed: 390, 742, 1061, 423, 772,
    # 1088, 447, 794), so each such neuron fires 2 times in 8 steps: rate 0.25. The layer-2
    # inputs are all 1.0 (counts 2 / top count 2), so layer 2 repeats this for class 0, while
    # class 1's weights of -100 keep it silent. The isolated node aggregates nothing: rate 0.
    weights = [np.full((32, 7), 100.0), np.vstack([np.full(32, 100.0), np.full(32, -100.0)])]
    report = measure_deviation(DEFAULT, weights, saturating_graphs(), n_streams=4)
    active = np.ones((4, 9), dtype=bool)
    for b, n_nodes in enumerate((2, 5, 9, 4)):
        active[b, n_nodes:] = False
    active[3, 3] = False
    for rates in (report.float_neuron_rates, report.fixed_neuron_rates):
        expected = np.where(active, 0.25, 0.0)
        np.testing.assert_array_equal(rates[0], np.repeat(expected[..., None], 32, axis=2))
        np.testing.assert_array_equal(rates[1][..., 0], expected)
        np.testing.assert_array_equal(rates[1][..., 1], 0.0)
    # 19 of the 20 real nodes are active.
    assert report.float_rates == report.fixed_rates == (0.25 * 19 / 20, 0.125 * 19 / 20)
    assert report.mean_abs_diff == report.max_abs_diff == (0.0, 0.0)
    assert report.sampling_noise == (0.0, 0.0)
    assert report.class_agreement == report.mean_class_agreement == 1.0
    assert report.float_class_agreement == report.expected_class_agreement == 1.0
    assert report.n_nodes.tolist() == [2, 5, 9, 4]


def test_zero_weights_give_zero_rates():
    weights = [np.zeros((32, 7)), np.zeros((2, 32))]
    report = measure_deviation(DEFAULT, weights, saturating_graphs(), n_streams=3, seed=5)
    assert report.float_rates == report.fixed_rates == (0.0, 0.0)
    assert report.mean_abs_diff == report.max_abs_diff == (0.0, 0.0)
    # Every class sum is 0: both models answer class 0.
    assert report.class_agreement == report.float_class_agreement == 1.0
    assert (report.n_graphs, report.n_streams, report.timesteps) == (4, 3, 8)


def test_single_stream_has_no_noise_estimate():
    weights = [np.zeros((32, 7)), np.zeros((2, 32))]
    report = measure_deviation(DEFAULT, weights, saturating_graphs(), n_streams=1)
    assert all(math.isnan(value) for value in report.sampling_noise)


class ReseededRandomState:
    """Stands in for a Generator: the reference model's ``RandomState(42)``, restarted every
    ``timesteps`` draws because the reference starts it afresh in every layer."""

    def __init__(self, timesteps: int):
        self.timesteps, self.calls, self.source = timesteps, 0, None

    def random(self, out):
        if self.calls % self.timesteps == 0:
            self.source = np.random.RandomState(42)
        self.calls += 1
        out[...] = self.source.random_sample(out.shape[1:]).reshape(out.shape)


@pytest.mark.parametrize("index", range(6))
def test_float_counts_match_the_reference_model(index):
    # Fed the reference model's own uniforms, the vectorised float simulation must give the
    # reference's counts exactly, layer by layer.
    config = CoreConfig(layer_dims=(7, 16, 8, 3), threshold=0.2, tau_mem=4.0, timesteps=10)
    graph = random_graph(index, 3 + 4 * index, 0.3, 7, n_isolated=index % 2)
    reference = SpikeGNNLayer([7, 16, 8, 3], threshold=0.2, T=10, tau_mem=4.0)
    counts = float_counts(
        graph.adjacency[None],
        graph.features[None],
        [conv.W for conv in reference.convs],
        threshold=config.threshold,
        tau_mem=config.tau_mem,
        timesteps=config.timesteps,
        generators=[ReseededRandomState(config.timesteps)],
    )
    hidden = graph.features
    for layer, conv in enumerate(reference.convs):
        expected = conv.forward(hidden, graph.adjacency, T=10)
        np.testing.assert_array_equal(counts[layer][0, 0], expected)
        hidden = expected / expected.max() if expected.max() > 0 else expected
    assert counts[0].sum() > 0


def test_deviation_on_random_graphs_is_sampling_noise():
    # Measured on the built-in graphs (dataset seeds 0 to 3, stream seeds 0 and 1) with the
    # seed model's weights: mean |fixed - float| per neuron 0.0028-0.0029 in layer 1 and
    # 0.0054-0.0059 in layer 2, while the sampling-noise estimate was 0.0028-0.0029 and
    # 0.0051-0.0059 (mean rates about 0.025 and 0.022 spikes per step). So the fixed-point
    # model shows no deviation beyond the noise of 64 streams. The bounds leave about 2.5x
    # margin on the absolute figure and 1.5x on the ratio to the noise.
    graphs = builtin_dataset().graphs
    report = measure_deviation(DEFAULT, seed_weights(DEFAULT), graphs, n_streams=64)
    for layer in range(2):
        assert report.mean_abs_diff[layer] < 0.015
        assert report.mean_abs_diff[layer] < 1.5 * report.sampling_noise[layer]
        assert abs(report.fixed_rates[layer] - report.float_rates[layer]) < 0.1 * max(
            report.float_rates[layer], 0.01
        )
    # A fixed-point run agrees with the expected class about as often as a float run does
    # (measured 0.69-0.71 for both).
    assert abs(report.mean_class_agreement - report.float_class_agreement) < 0.05
    assert report.expected_class_agreement > 0.85


def test_report_serialises_and_formats():
    weights = [np.zeros((32, 7)), np.zeros((2, 32))]
    report = measure_deviation(DEFAULT, weights, saturating_graphs(), n_streams=2)
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert "float_neuron_rates" not in data and "n_nodes" not in data
    assert data["float_rates"] == [0.0, 0.0]
    text = report.format()
    assert "4 graphs, 2 random streams each, T 8" in text
    assert len([line for line in text.splitlines() if line.startswith("    ")]) == 2
    assert "float, single runs (baseline)  1.000" in text
    assert isinstance(report, DeviationReport)


def test_lfsr_seeds_are_distinct_and_start_with_the_configured_one():
    seeds = _lfsr_seeds(DEFAULT, 500, seed=1)
    assert seeds[0] == DEFAULT.lfsr_seed
    assert len(set(seeds)) == 500
    assert min(seeds) >= 1 and max(seeds) <= 0xFFFF
    # A 10-bit register has 1023 states: all of them, once each.
    small = CoreConfig(lfsr_width=10, lfsr_taps=0x240, lfsr_seed=7)
    assert sorted(_lfsr_seeds(small, 1023, seed=2)) == list(range(1, 1024))


def test_graph_objects_and_pairs_give_the_same_report():
    dataset = builtin_dataset(n_graphs=10, n_folds=2)
    weights = seed_weights(DEFAULT)
    from_graphs = measure_deviation(DEFAULT, weights, dataset.graphs, n_streams=4)
    pairs = [(g.adjacency, g.features) for g in dataset.graphs]
    assert measure_deviation(DEFAULT, weights, pairs, n_streams=4) == from_graphs


def test_errors_name_the_argument():
    weights = [np.zeros((32, 7)), np.zeros((2, 32))]
    graphs = saturating_graphs()
    with pytest.raises(ValueError, match="n_streams must be at least 1, but it is 0"):
        measure_deviation(DEFAULT, weights, graphs, n_streams=0)
    with pytest.raises(TypeError, match="n_streams must be a positive integer, not 2.5"):
        measure_deviation(DEFAULT, weights, graphs, n_streams=2.5)
    with pytest.raises(ValueError, match="graphs must hold at least one graph, but it is empty"):
        measure_deviation(DEFAULT, weights, [], n_streams=2)
    small = CoreConfig(lfsr_width=10, lfsr_taps=0x240, lfsr_seed=7)
    with pytest.raises(ValueError, match="n_streams must be at most 1023 .* but it is 1024"):
        measure_deviation(small, weights, graphs, n_streams=1024)
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(2, 32\)"):
        measure_deviation(DEFAULT, [weights[0], np.zeros((3, 32))], graphs, n_streams=2)

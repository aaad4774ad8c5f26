"""Tests of golden/fixed.py: every step of the fixed-point golden model on examples worked out by
hand, its argument errors, and batching (padding must never change a result).
"""

import numpy as np
import pytest

from golden import fixed
from golden.builtin import random_graph
from golden.config import CoreConfig
from golden.fixed import (
    FixedPointModel,
    FixedResult,
    _matmul_floor,
    aggregate,
    draw_schedule,
    encode_and_integrate,
    normalise_counts,
    project,
    quantize_features,
    quantize_weights,
    readout,
)

DEFAULT = CoreConfig()

# A path 0 - 1 - 2 and an isolated node 3.
PATH_WITH_ISOLATED = np.array(
    [
        [0, 1, 0, 0],
        [1, 0, 1, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
    ]
)


def naive_counts(probability: np.ndarray, draws: np.ndarray, config: CoreConfig) -> np.ndarray:
    """One neuron at a time with Python integers: the LIF recurrence as the hardware runs it."""
    counts = np.zeros(probability.shape, dtype=np.int64)
    for index in np.ndindex(*probability.shape):
        _, node, feature = index
        membrane = 0
        for t in range(config.timesteps):
            arrival = int(draws[node, feature, t]) < int(probability[index])
            membrane = (membrane * config.leak_q >> config.leak_frac_bits) + (
                config.input_gain_q if arrival else 0
            )
            if membrane >= config.threshold_q:
                membrane -= config.threshold_q
                counts[index] += 1
    return counts


# -- quantisation ------------------------------------------------------------------------------


def test_quantize_features_rounds_half_up():
    # x * 256 + 1/2, floored: 0.5 -> 1, 1.5 -> 2, 2.5 -> 3 (half up, not to even), 0.499 -> 0.
    values = [0.5 / 256, 1.5 / 256, 2.5 / 256, 0.499 / 256, 0.0, 1.0, 0.3]
    # 0.3 * 256 = 76.8 -> 77.
    assert quantize_features(values, DEFAULT).tolist() == [1, 2, 3, 0, 0, 256, 77]
    assert quantize_features(values, DEFAULT).dtype == np.int64


def test_quantize_weights_rounds_and_saturates():
    # Q2.6 in 8 bits: 1.0 is 64, the range is -128 .. 127.
    # 5.0 -> 320 -> 127; -5.0 -> -320 -> -128; 0.5 -> 32; -0.5 -> -32;
    # 1/128 -> 0.5 -> 1 (half up); -1/128 -> -0.5 -> 0 (half up, towards +inf);
    # -3/128 -> -1.5 -> -1; 2.0 -> 128 -> 127; -2.0 -> -128 exactly; 127/64 -> 127.
    weights = [5.0, -5.0, 0.5, -0.5, 1 / 128, -1 / 128, -3 / 128, 2.0, -2.0, 127 / 64]
    expected = [127, -128, 32, -32, 1, 0, -1, 127, -128, 127]
    assert quantize_weights(weights, DEFAULT).tolist() == expected


def test_quantize_weights_other_format():
    # 4-bit weights with 1 fractional bit: -8 .. 7 in steps of 0.5. 1.25 -> 2.5 -> 3; 10 -> 7.
    config = CoreConfig(weight_width=4, weight_frac_bits=1, prob_bits=9)
    assert quantize_weights([1.25, 10.0, -10.0, -0.75], config).tolist() == [3, 7, -8, -1]


# -- aggregation -------------------------------------------------------------------------------


def test_aggregate_path_graph_with_isolated_node():
    features = np.array([[256, 0], [100, 30], [7, 200], [50, 50]])
    result = aggregate(PATH_WITH_ISOLATED[None], features[None], DEFAULT)
    expected = [
        # Node 0, degree 1 (r = 4096): node 1's features, [100, 30] * 4096 >> 12.
        [100, 30],
        # Node 1, degree 2 (r = 2048): (256 + 7) * 2048 >> 12 = 131.5 -> 131; (0 + 200) / 2.
        [131, 100],
        # Node 2, degree 1: node 1's features.
        [100, 30],
        # Node 3 has no neighbours: the sum is 0 whatever its own features are.
        [0, 0],
    ]
    assert result[0].tolist() == expected


def test_aggregate_degree_three_floors():
    # A star: node 0 aggregates nodes 1, 2, 3 (r = round(4096 / 3) = 1365).
    adjacency = np.array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    # Column 0: 1 + 1 + 1 = 3, 3 * 1365 = 4095 >> 12 = 0 (the exact mean would be 1).
    # Column 1: 256 * 3 = 768, 768 * 1365 = 1048320 >> 12 = 255 (255.94; the exact mean is 256).
    # Column 2: 3 + 3 + 3 = 9, 9 * 1365 = 12285 >> 12 = 2 (2.999).
    features = np.array([[0, 0, 0], [1, 256, 3], [1, 256, 3], [1, 256, 3]])
    result = aggregate(adjacency[None], features[None], DEFAULT)[0]
    assert result[0].tolist() == [0, 255, 2]
    # Leaves aggregate node 0 alone (all zero).
    assert result[1:].tolist() == [[0, 0, 0]] * 3


def test_aggregate_matches_python_integers():
    rng = np.random.default_rng(5)
    adjacency = (rng.random((6, 12, 12)) < 0.3).astype(np.int64)
    features = rng.integers(0, 257, size=(6, 12, 9))
    result = aggregate(adjacency, features, DEFAULT)
    for b in range(6):
        for n in range(12):
            degree = max(int(adjacency[b, n].sum()), 1)
            reciprocal = int(DEFAULT.degree_reciprocals[degree])
            for i in range(9):
                total = sum(int(features[b, m, i]) for m in range(12) if adjacency[b, n, m])
                assert result[b, n, i] == (total * reciprocal) >> 12


# -- projection --------------------------------------------------------------------------------


def test_project_shift_and_clip():
    aggregated = np.array([[[100, 30], [256, 256], [16, 1], [15, 0], [64, 0], [65, 0]]])
    weight = np.array([[-10, 5], [127, 127], [1, 1], [1, -2], [16, 0]])
    result = project(aggregated, weight, DEFAULT)[0]
    # Node 0: -1000 + 150 = -850 >> 4 = -54 (floor of -53.1) -> 0; 130 * 127 = 16510 >> 4 =
    # 1031 -> clipped to 1024; 130 >> 4 = 8 (8.1); 100 - 60 = 40 >> 4 = 2 (2.5); 1600 >> 4 = 100.
    assert result[0].tolist() == [0, 1024, 8, 2, 100]
    # Node 1: -2560 + 1280 -> 0; 512 * 127 = 65024 >> 4 = 4064 -> 1024; 512 >> 4 = 32;
    # 256 - 512 = -256 -> 0; 4096 >> 4 = 256.
    assert result[1].tolist() == [0, 1024, 32, 0, 256]
    # Node 2: -155 -> 0; 17 * 127 = 2159 >> 4 = 134 (134.9); 17 >> 4 = 1; 14 >> 4 = 0; 16.
    assert result[2].tolist() == [0, 134, 1, 0, 16]
    # Node 3: -150 -> 0; 1905 >> 4 = 119 (119.06); 15 >> 4 = 0 (0.94 floors); 0; 240 >> 4 = 15.
    assert result[3].tolist() == [0, 119, 0, 0, 15]
    # Node 4: -640 -> 0; 64 * 127 = 8128 >> 4 = 508; 64 >> 4 = 4; 4; 1024 >> 4 = 64.
    assert result[4].tolist() == [0, 508, 4, 4, 64]
    # Node 5: -650 >> 4 = -41 (floor of -40.6) -> 0; 8255 >> 4 = 515 (515.9); 4; 4; 65.
    assert result[5].tolist() == [0, 515, 4, 4, 65]


def test_project_exactly_one():
    # 256 * 64 = 16384 >> 4 = 1024 (probability 1.0); 16383 -> 1023; 16399 -> 1024.
    aggregated = np.array([[[256, 0], [255, 63], [256, 15]]])
    weight = np.array([[64, 1]])
    assert project(aggregated, weight, DEFAULT)[0, :, 0].tolist() == [1024, 1023, 1024]


def test_project_floors_negative_sums_before_clipping():
    # With probability_shift 0 the floor of a negative sum is the sum itself, still clipped to 0.
    config = CoreConfig(prob_bits=14)
    assert config.probability_shift == 0
    aggregated = np.array([[[1, 0], [0, 1]]])
    weight = np.array([[-1, 3]])
    assert project(aggregated, weight, config)[0, :, 0].tolist() == [0, 3]


def test_project_matches_python_integers():
    rng = np.random.default_rng(6)
    aggregated = rng.integers(0, 300, size=(4, 7, 13))
    weight = rng.integers(-128, 128, size=(5, 13))
    result = project(aggregated, weight, DEFAULT)
    for index in np.ndindex(4, 7, 5):
        b, n, j = index
        total = sum(int(aggregated[b, n, i]) * int(weight[j, i]) for i in range(13))
        assert result[index] == min(max(total >> 4, 0), 1024)


def test_products_beyond_float_precision_stay_exact():
    # 3 * 2**26 * 2**26 >= 2**53: too large for exact float64 sums, so integers are used.
    a = np.array([[[(1 << 26) + 1, (1 << 26) + 3, 1 << 26]]])
    b = np.array([[(1 << 26) - 1], [(1 << 26) + 7], [5]])
    exact = sum(int(x) * int(y) for x, y in zip(a[0, 0], b[:, 0], strict=True))
    assert _matmul_floor(a, b, 0)[0, 0, 0] == exact
    assert _matmul_floor(a, b, 3)[0, 0, 0] == exact >> 3
    assert _matmul_floor(-a, b, 3)[0, 0, 0] == -exact >> 3
    assert _matmul_floor(-a, b, 3, clip=(0, 5))[0, 0, 0] == 0
    # Scaled: the float path would need 2**53 * 3 here, so this also takes the integer path.
    scale = np.array([[[3]]])
    assert _matmul_floor(a, b, 2, scale)[0, 0, 0] == (exact * 3) >> 2


def test_float_path_floors_like_an_arithmetic_shift():
    rng = np.random.default_rng(7)
    a = rng.integers(-1000, 1000, size=(3, 4, 5))
    b = rng.integers(-1000, 1000, size=(5, 6))
    scale = rng.integers(0, 5000, size=(3, 4, 1))
    for shift in (0, 1, 4, 12):
        expected = (np.matmul(a, b) * scale) >> shift
        np.testing.assert_array_equal(_matmul_floor(a, b, shift, scale), expected)
        np.testing.assert_array_equal(
            _matmul_floor(a, b, shift, clip=(0, 100)), np.clip(np.matmul(a, b) >> shift, 0, 100)
        )
    # Narrower integers take the integer path, as np.matmul would.
    small = a.astype(np.int32), b.astype(np.int32)
    np.testing.assert_array_equal(_matmul_floor(*small, 4), np.matmul(a, b) >> 4)


# -- draw schedule -----------------------------------------------------------------------------


def test_draw_schedule_index_formula():
    # Width 10 on 8 lanes is two groups. Neuron (n = 1, j = 9) runs on lane 9 % 8 = 1 in group
    # 9 // 8 = 1; at t = 2 it uses draw (1 * 2 + 1) * 8 + 2 = 26 of lane 1.
    config = CoreConfig(layer_dims=(7, 10, 2))
    schedule = draw_schedule(3, 10, config)
    assert schedule.shape == (3, 10, 8)
    draws = config.draws(48)
    assert schedule[1, 9, 2] == draws[1, 26]
    # (n = 2, j = 3, t = 7): lane 3, group 0, draw (2 * 2 + 0) * 8 + 7 = 39.
    assert schedule[2, 3, 7] == draws[3, 39]
    # (n = 0, j = 0, t = 0): the first draw of lane 0, the seed's top bits 0xACE1 >> 6 = 691.
    assert schedule[0, 0, 0] == draws[0, 0] == 691
    for n in range(3):
        for j in range(10):
            for t in range(8):
                assert schedule[n, j, t] == draws[j % 8, (n * 2 + j // 8) * 8 + t]


def test_draw_schedule_beyond_the_layer_table():
    # 40 nodes need 40 * 1 * 8 draws of each lane, more than the 32-node table holds.
    config = CoreConfig(layer_dims=(7, 3, 2))
    schedule = draw_schedule(40, 3, config)
    draws = config.draws(40 * 8)
    assert schedule[39, 2, 7] == draws[2, 39 * 8 + 7]
    np.testing.assert_array_equal(schedule[:32], draw_schedule(32, 3, config))


# -- LIF ---------------------------------------------------------------------------------------


def test_encode_always_spiking_input():
    # p = 1024 is above every 10-bit draw, so an input spike arrives at every step.
    # v1 = 390
    # v2 = (390 * 3706 >> 12) + 390 = (1445340 >> 12 = 352) + 390 = 742
    # v3 = (742 * 3706 >> 12) + 390 = (2749852 >> 12 = 671) + 390 = 1061 >= 1024: spike, v = 37
    # v4 = (37 * 3706 >> 12) + 390 = (137122 >> 12 = 33) + 390 = 423
    # v5 = (423 * 3706 >> 12) + 390 = (1567638 >> 12 = 382) + 390 = 772
    # v6 = (772 * 3706 >> 12) + 390 = (2861032 >> 12 = 698) + 390 = 1088: spike, v = 64
    # v7 = (64 * 3706 >> 12) + 390 = (237184 >> 12 = 57) + 390 = 447
    # v8 = (447 * 3706 >> 12) + 390 = (1656582 >> 12 = 404) + 390 = 794
    draws = np.full((1, 1, 8), 1023)
    assert encode_and_integrate(np.array([[[1024]]]), draws, DEFAULT).tolist() == [[[2]]]
    # p = 0 is below every draw (draw < 0 never holds): no input, no spike.
    zero_draws = np.zeros((1, 1, 8), dtype=np.int64)
    assert encode_and_integrate(np.array([[[0]]]), zero_draws, DEFAULT).tolist() == [[[0]]]


def test_encode_mixed_input():
    # p = 512 against draws 100, 700, 511, 512, 0, 0, 0, 0: inputs 1, 0, 1, 0 (512 < 512 is
    # false), 1, 1, 1, 1.
    # v1 = 390; v2 = 352 + 0 = 352; v3 = (1304512 >> 12 = 318) + 390 = 708;
    # v4 = (2623848 >> 12 = 640) + 0 = 640; v5 = (2371840 >> 12 = 579) + 390 = 969;
    # v6 = (3591114 >> 12 = 876) + 390 = 1266: spike, v = 242;
    # v7 = (896852 >> 12 = 218) + 390 = 608; v8 = (2253248 >> 12 = 550) + 390 = 940.
    draws = np.array([[[100, 700, 511, 512, 0, 0, 0, 0]]])
    assert encode_and_integrate(np.array([[[512]]]), draws, DEFAULT).tolist() == [[[1]]]


def test_encode_counts_with_sixteen_steps():
    # T = 16, always spiking: after v8 = 794 the trace goes on 1108 (spike, 84), 466, 811,
    # 1123 (spike, 99), 479, 823, 1134 (spike, 110), 489: five spikes.
    config = CoreConfig(timesteps=16)
    draws = np.zeros((1, 1, 16), dtype=np.int64)
    assert encode_and_integrate(np.array([[[1024]]]), draws, config).tolist() == [[[5]]]


def test_encode_matches_python_integers():
    rng = np.random.default_rng(9)
    probability = rng.integers(0, 1025, size=(3, 5, 11))
    draws = rng.integers(0, 1024, size=(5, 11, 8))
    np.testing.assert_array_equal(
        encode_and_integrate(probability, draws, DEFAULT), naive_counts(probability, draws, DEFAULT)
    )


def test_encode_beyond_the_pattern_table():
    # T = 20 runs the recurrence step by step instead of looking patterns up.
    config = CoreConfig(timesteps=20)
    rng = np.random.default_rng(10)
    probability = rng.integers(0, 1025, size=(2, 4, 6))
    draws = rng.integers(0, 1024, size=(4, 6, 20))
    np.testing.assert_array_equal(
        encode_and_integrate(probability, draws, config), naive_counts(probability, draws, config)
    )


def test_encode_broadcasts_probability():
    draws = np.random.default_rng(11).integers(0, 1024, size=(3, 2, 8))
    counts = encode_and_integrate(np.array([[[1024]]]), draws, DEFAULT)
    assert counts.tolist() == [[[2, 2], [2, 2], [2, 2]]]


# -- normalisation and readout -----------------------------------------------------------------


def test_normalise_counts_uses_each_graphs_maximum():
    counts = np.array(
        [
            # Graph 0, top count 3 (over every node and feature): table row 3 is 0, 85, 171, 256.
            [[1, 3], [0, 2]],
            # Graph 1, top count 6: row 6 is 0, 43, 85, 128, 171, 213, 256.
            [[6, 0], [4, 1]],
        ]
    )
    assert normalise_counts(counts, DEFAULT).tolist() == [
        [[85, 256], [0, 171]],
        [[256, 0], [171, 43]],
    ]


def test_normalise_silent_graph_stays_zero():
    counts = np.array([[[0, 0], [0, 0]], [[0, 8], [0, 0]]])
    assert normalise_counts(counts, DEFAULT).tolist() == [[[0, 0], [0, 0]], [[0, 256], [0, 0]]]


def test_readout_sums_nodes_and_breaks_ties_low():
    counts = np.array(
        [
            # Sums 2, 2, 2: a three-way tie goes to class 0.
            [[1, 2, 0], [1, 0, 2]],
            # Sums 0, 2, 2: the tie between classes 1 and 2 goes to 1.
            [[0, 1, 1], [0, 1, 1]],
            # Sums 1, 0, 3: class 2.
            [[1, 0, 3], [0, 0, 0]],
        ]
    )
    class_sums, classes = readout(counts)
    assert class_sums.tolist() == [[2, 2, 2], [0, 2, 2], [1, 0, 3]]
    assert classes.tolist() == [0, 1, 2]
    # A bias of (0, 1, -3) adds to the sums before the argmax: (2, 3, -1), (0, 3, -1), (1, 1, 0).
    biased_sums, biased = readout(counts, np.array([0, 1, -3]))
    assert biased_sums.tolist() == class_sums.tolist()
    assert biased.tolist() == [1, 1, 0]


def test_model_class_bias_is_checked_and_applied():
    config = CoreConfig(layer_dims=(2, 3, 2))
    weights = [np.full((3, 2), 40), np.array([[60, 60, 60], [-60, -60, -60]])]
    adjacency = np.ones((3, 3), dtype=np.int64)
    features = np.ones((3, 2))
    plain = FixedPointModel(config, weights).run_graphs([(adjacency, features)])
    assert plain.class_sums[0, 0] > plain.class_sums[0, 1] == 0 and plain.classes[0] == 0
    lead = int(plain.class_sums[0, 0])
    assert lead < 127, "the example's class-0 sum must be one a bias can overcome"
    tipped = FixedPointModel(config, weights, [0, lead]).run_graphs([(adjacency, features)])
    assert tipped.class_sums.tolist() == plain.class_sums.tolist()
    assert tipped.classes[0] == 0  # a tie goes to the lower class
    over = FixedPointModel(config, weights, [-1, lead]).run_graphs([(adjacency, features)])
    assert over.classes[0] == 1
    np.testing.assert_array_equal(FixedPointModel(config, weights).class_bias, [0, 0])
    with pytest.raises(ValueError, match=r"class_bias must lie in \[-128, 127\]"):
        FixedPointModel(config, weights, [-129, 0])
    with pytest.raises(ValueError, match="class_bias must hold 2 integers"):
        FixedPointModel(config, weights, [1, 2, 3])


# -- the whole model ---------------------------------------------------------------------------


def test_two_layer_example_by_hand():
    # Path 0 - 1 - 2, one input feature: x = 1.0, 0.0, 1.0 -> 256, 0, 256.
    config = CoreConfig(layer_dims=(1, 1, 2))
    adjacency = PATH_WITH_ISOLATED[:3, :3]
    features = np.array([[1.0], [0.0], [1.0]])
    # Layer 1, weight 1.0 = 64. Aggregates: node 0 sees node 1 (0); node 1 sees (256 + 256) *
    # 2048 >> 12 = 256; node 2 sees node 1 (0). Probabilities 0, 256 * 64 >> 4 = 1024, 0, so
    # the draws do not matter: counts 0, 2, 0 (the always-spiking trace gives 2 in 8 steps).
    # Layer 2 input: top count 2, so 0, 256, 0. Aggregates: 256, 0, 256. Weights -1.0 and 1.0:
    # class 0 gets probability 0 everywhere, class 1 gets 1024 at nodes 0 and 2.
    model = FixedPointModel(config, [np.array([[64]]), np.array([[-64], [64]])])
    result = model.run_graphs([(adjacency, features)])
    assert result.counts[0][0].tolist() == [[0], [2], [0]]
    assert result.counts[1][0].tolist() == [[0, 2], [0, 0], [0, 2]]
    assert result.class_sums.tolist() == [[0, 4]]
    assert result.classes.tolist() == [1]
    assert model.graph_classify(features, adjacency) == 1
    assert model.forward(features, adjacency).tolist() == [[0, 2], [0, 0], [0, 2]]
    # Per neuron: layer 1 has 2 spikes over 3 neurons, layer 2 has 4 over 6.
    assert result.firing_rates() == pytest.approx([2 / 3, 4 / 6])


def test_from_float_quantises():
    config = CoreConfig(layer_dims=(1, 1, 2))
    model = FixedPointModel.from_float(config, [[[1.0]], [[-5.0], [0.5]]])
    assert [w.tolist() for w in model.weights] == [[[64]], [[-128], [32]]]


def random_weights(config: CoreConfig, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    dims = config.layer_dims
    return [rng.integers(-40, 80, size=(dims[i + 1], dims[i])) for i in range(config.n_layers)]


def test_batch_equals_graph_by_graph():
    config = CoreConfig(layer_dims=(7, 12, 3), max_edges=1024)
    model = FixedPointModel(config, random_weights(config, 1))
    rng = np.random.default_rng(2)
    graphs = []
    for _ in range(30):
        n_nodes = int(rng.integers(1, 33))
        graph = random_graph(
            rng, n_nodes, float(rng.uniform(0.05, 0.5)), 7, n_isolated=int(rng.integers(0, 2))
        )
        graphs.append((graph.adjacency, graph.features))
    batch = model.run_graphs(graphs)
    width = batch.counts[0].shape[1]
    assert width == max(a.shape[0] for a, _ in graphs)
    assert batch.firing_rates()[0] > 0.05
    for index, (adjacency, features) in enumerate(graphs):
        alone = model.run_graphs([(adjacency, features)])
        n_nodes = adjacency.shape[0]
        assert batch.n_nodes[index] == n_nodes
        for layer in range(2):
            np.testing.assert_array_equal(
                batch.graph_counts(index, layer), alone.graph_counts(0, layer)
            )
            # Padded nodes never spike.
            assert not batch.counts[layer][index, n_nodes:].any()
        np.testing.assert_array_equal(batch.class_sums[index], alone.class_sums[0])
        assert batch.classes[index] == alone.classes[0]


def test_block_size_does_not_change_results(monkeypatch):
    config = CoreConfig(layer_dims=(7, 12, 3), max_edges=1024)
    model = FixedPointModel(config, random_weights(config, 5))
    graphs = [random_graph(seed, 3 + seed % 20, 0.3, 7) for seed in range(25)]
    pairs = [(g.adjacency, g.features) for g in graphs]
    whole = model.run_graphs(pairs)
    monkeypatch.setattr(fixed, "_BLOCK_ELEMENTS", 1)
    one_by_one = model.run_graphs(pairs)
    for layer in range(2):
        np.testing.assert_array_equal(whole.counts[layer], one_by_one.counts[layer])
    np.testing.assert_array_equal(whole.classes, one_by_one.classes)


def test_model_matches_python_integers():
    # The whole model against a per-neuron Python-integer recurrence fed by the same steps.
    config = CoreConfig(layer_dims=(7, 12, 3), max_edges=1024)
    model = FixedPointModel(config, random_weights(config, 3))
    graph = random_graph(4, 9, 0.4, 7)
    result = model.run_graphs([(graph.adjacency, graph.features)])
    x = quantize_features(graph.features, config)[None]
    for layer, weight in enumerate(model.weights):
        probability = project(aggregate(graph.adjacency[None], x, config), weight, config)
        draws = draw_schedule(9, weight.shape[0], config)
        counts = naive_counts(probability, draws, config)
        np.testing.assert_array_equal(result.counts[layer], counts)
        x = normalise_counts(counts, config)


def test_firing_rates_exclude_padded_nodes():
    layer = np.array(
        [
            # Graph 0 has 2 real nodes; its padding rows hold 8s that must not count.
            [[1, 2], [3, 0], [8, 8], [8, 8]],
            [[0, 1], [1, 1], [2, 2], [0, 0]],
        ]
    )
    result = FixedResult((layer,), layer.sum(axis=1), np.zeros(2, np.int64), np.array([2, 4]))
    # Real counts: 1 + 2 + 3 + 0 = 6 and 0 + 1 + 1 + 1 + 2 + 2 = 7 over (2 + 4) * 2 neurons.
    assert result.firing_rates() == [13 / 12]
    assert result.graph_counts(0, 0).tolist() == [[1, 2], [3, 0]]


# -- errors ------------------------------------------------------------------------------------


def test_wrong_number_of_matrices():
    with pytest.raises(
        ValueError, match=r"weights must hold 2 matrices \(one a layer\), but it holds 1"
    ):
        FixedPointModel(DEFAULT, [np.zeros((32, 7), np.int64)])


def test_wrong_shape():
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(2, 32\) \(out, in\)"):
        FixedPointModel(DEFAULT, [np.zeros((32, 7), np.int64), np.zeros((32, 2), np.int64)])


def test_float_weights_are_a_type_error():
    with pytest.raises(TypeError, match=r"weights\[0\] must hold quantised integers, not float64"):
        FixedPointModel(DEFAULT, [np.zeros((32, 7)), np.zeros((2, 32), np.int64)])


def test_weights_out_of_range():
    weights = [np.zeros((32, 7), np.int64), np.zeros((2, 32), np.int64)]
    weights[0][3, 4] = -129
    with pytest.raises(
        ValueError, match=r"weights\[0\] must lie in \[-128, 127\], but it holds -129"
    ):
        FixedPointModel(DEFAULT, weights)
    weights[0][3, 4] = 128
    with pytest.raises(
        ValueError, match=r"weights\[0\] must lie in \[-128, 127\], but it holds 0 to 128"
    ):
        FixedPointModel(DEFAULT, weights)


@pytest.fixture
def zero_model():
    return FixedPointModel(DEFAULT, [np.zeros((32, 7), np.int64), np.zeros((2, 32), np.int64)])


def test_too_many_nodes(zero_model):
    with pytest.raises(ValueError, match=r"the graph has 33 nodes, more than .* 32 \(max_nodes\)"):
        zero_model.run_graphs([(np.zeros((33, 33)), np.zeros((33, 7)))])


def test_too_many_edges(zero_model):
    # A complete graph on 12 nodes has 12 * 11 = 132 directed entries, above 128.
    adjacency = 1 - np.eye(12, dtype=np.int64)
    with pytest.raises(
        ValueError, match=r"the graph has 132 edges .* maximum of 128 \(max_edges\)"
    ):
        zero_model.run_graphs([(adjacency, np.zeros((12, 7)))])


def test_non_binary_adjacency(zero_model):
    adjacency = np.array([[0, 2], [1, 0]])
    with pytest.raises(ValueError, match="adjacency must hold only 0 and 1 .* but it contains 2"):
        zero_model.run_graphs([(adjacency, np.zeros((2, 7)))])


def test_features_outside_unit_range(zero_model):
    features = np.zeros((2, 7))
    features[1, 3] = 1.5
    with pytest.raises(ValueError, match=r"node_features must lie in \[0, 1\] .* contains 1.5"):
        zero_model.run_graphs([(np.eye(2)[::-1], features)])
    features[1, 3] = -0.25
    with pytest.raises(ValueError, match="contains -0.25"):
        zero_model.graph_classify(features, np.eye(2)[::-1])


def test_feature_columns_mismatch(zero_model):
    with pytest.raises(ValueError, match=r"has 6 columns but the first layer expects 7"):
        zero_model.run_graphs([(np.zeros((2, 2)), np.zeros((2, 6)))])


def test_feature_rows_mismatch(zero_model):
    with pytest.raises(ValueError, match="node_features has 3 rows but the adjacency has 2 nodes"):
        zero_model.run_graphs([(np.zeros((2, 2)), np.zeros((3, 7)))])


def test_empty_graph_list(zero_model):
    with pytest.raises(ValueError, match="graphs must hold at least one graph, but it is empty"):
        zero_model.run_graphs([])


def test_prepare_accepts_every_array_form_alike(zero_model):
    # int64/float64 arrays take a quick check; lists, bools and other dtypes the general one.
    adjacency = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    features = np.linspace(0.0, 1.0, 21).reshape(3, 7)
    expected_x = quantize_features(features, DEFAULT)
    forms = [
        (adjacency, features),
        (adjacency.tolist(), features.tolist()),
        (adjacency.astype(bool), features.astype(np.float32).astype(np.float64)),
        (adjacency.astype(np.float64), features),
        (adjacency.astype(np.int8), features),
    ]
    for a, x in forms:
        prepared_a, prepared_x = zero_model.prepare(a, x)
        assert prepared_a.dtype == np.int64 and prepared_x.dtype == np.int64
        np.testing.assert_array_equal(prepared_a, adjacency)
        np.testing.assert_array_equal(prepared_x, expected_x)
    # The returned adjacency is a copy.
    prepared_a, _ = zero_model.prepare(adjacency, features)
    prepared_a[0, 0] = 1
    assert adjacency[0, 0] == 0


def test_prepare_rejects_nan_and_negative_entries(zero_model):
    features = np.zeros((2, 7))
    features[0, 0] = np.nan
    with pytest.raises(ValueError, match="node_features must hold finite numbers"):
        zero_model.prepare(np.eye(2, dtype=np.int64), features)
    with pytest.raises(ValueError, match="adjacency must hold only 0 and 1 .* contains -1"):
        zero_model.prepare(np.array([[0, -1], [1, 0]]), np.zeros((2, 7)))
    with pytest.raises(ValueError, match=r"the graph has 40 nodes, more than .* 32 \(max_nodes\)"):
        zero_model.prepare(np.zeros((40, 40), dtype=np.int64), np.zeros((40, 7)))

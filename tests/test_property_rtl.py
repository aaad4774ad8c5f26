"""Property-based tests of the whole core: random configurations, weights and graphs drawn by
hypothesis, the RTL under Verilator against the golden model, bit for bit.

Every configuration costs one Verilator build, so ``make test`` draws a few (the same ones on
every run); ``SPIKEGNN_PROPERTY_EXAMPLES`` draws more (``make fuzz``). A failure prints the
shrunk case: the configuration as JSON, the weights and the graphs.
"""

from __future__ import annotations

import json
import os

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from test_rtl_core import assert_matches_golden

from golden.config import ConfigError, CoreConfig
from sim.runner import run_rtl

EXAMPLES = int(os.environ.get("SPIKEGNN_PROPERTY_EXAMPLES", "2"))


@st.composite
def configs(draw) -> CoreConfig:
    """Small configurations inside CoreConfig's ranges whose threshold can be reached."""
    n_layers = draw(st.integers(1, 2))
    dims = [draw(st.integers(1, 6)) for _ in range(n_layers)] + [draw(st.integers(2, 4))]
    max_nodes = draw(st.integers(2, 8))
    feature_frac_bits = draw(st.integers(2, 8))
    weight_width = draw(st.integers(3, 8))
    weight_frac_bits = draw(st.integers(0, weight_width - 1))
    fields = {
        "layer_dims": dims,
        "timesteps": draw(st.integers(1, 6)),
        "lanes": draw(st.integers(1, 4)),
        "threshold": draw(st.sampled_from([0.05, 0.1, 0.2, 0.3])),
        "tau_mem": draw(st.sampled_from([2.0, 4.0, 10.0])),
        "max_nodes": max_nodes,
        "max_edges": draw(st.integers(1, max_nodes * max_nodes)),
        "feature_frac_bits": feature_frac_bits,
        "weight_width": weight_width,
        "weight_frac_bits": weight_frac_bits,
        "recip_frac_bits": draw(st.integers(2, 12)),
        "prob_bits": draw(st.integers(1, min(10, feature_frac_bits + weight_frac_bits))),
        "membrane_frac_bits": draw(st.integers(6, 12)),
        "leak_frac_bits": draw(st.integers(6, 12)),
        "word_width": draw(st.sampled_from([16, 24])),
    }
    try:
        config = CoreConfig.from_dict(fields)
    except ConfigError:
        assume(False)
    assume(config.threshold_reachable)
    return config


@st.composite
def cases(draw):
    """A configuration, quantised weights and one to four graphs that fit it."""
    config = draw(configs())
    weights = []
    for fan_in, fan_out in zip(config.layer_dims[:-1], config.layer_dims[1:], strict=True):
        values = draw(
            st.lists(
                st.integers(config.weight_min, config.weight_max),
                min_size=fan_in * fan_out,
                max_size=fan_in * fan_out,
            )
        )
        weights.append(np.array(values, dtype=np.int64).reshape(fan_out, fan_in))
    graphs = []
    for _ in range(draw(st.integers(1, 4))):
        n_nodes = draw(st.integers(1, config.max_nodes))
        cells = [(i, j) for i in range(n_nodes) for j in range(n_nodes)]
        entries = draw(st.sets(st.sampled_from(cells), max_size=min(len(cells), config.max_edges)))
        adjacency = np.zeros((n_nodes, n_nodes), dtype=np.int64)
        for i, j in entries:
            adjacency[i, j] = 1
        width = config.layer_dims[0]
        features = draw(
            st.lists(
                st.integers(0, config.feature_one),
                min_size=n_nodes * width,
                max_size=n_nodes * width,
            )
        )
        features_q = np.array(features, dtype=np.int64).reshape(n_nodes, width)
        graphs.append((adjacency, features_q / config.feature_one))
    seed = draw(st.integers(0, 2**31 - 1))
    return config, weights, graphs, seed


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
@given(case=cases())
def test_random_configurations_match_the_golden_model(case):
    config, weights, graphs, seed = case
    note(f"config JSON: {json.dumps(config.to_dict())}")
    note(f"weights: {[w.tolist() for w in weights]}")
    for index, (adjacency, features) in enumerate(graphs):
        note(f"graph {index}: adjacency {adjacency.tolist()}, features {features.tolist()}")
    note(f"seed {seed}")
    results = run_rtl(config, weights, graphs, seed=seed, idle=0.2, backpressure=0.2)
    assert_matches_golden(config, weights, graphs, results, seed)

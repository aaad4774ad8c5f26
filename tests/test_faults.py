"""Reset-fault tests of the core: resets at random clocks of loading and inference, then a full
load and inference that must equal the golden model (``sim.tb_faults`` under Verilator).

``SPIKEGNN_TEST_SEED`` changes the reset points; every failure quotes the seed.
"""

import os

import numpy as np
from test_rtl_core import CONFIGS, assert_matches_golden, make_graphs, pick_weights

from golden.config import CoreConfig
from sim.runner import run_rtl

SEED = int(os.environ.get("SPIKEGNN_TEST_SEED", "20250601"))


def run_faults(config: CoreConfig, offset: int, n_random: int, idle: float, backpressure: float):
    seed = SEED + offset
    print(f"reset faults on {config.layer_dims}, lanes {config.lanes}: seed {seed}")
    rng = np.random.default_rng(seed)
    graphs = make_graphs(config, rng, n_random)
    weights = pick_weights(config, graphs, rng)
    results = run_rtl(
        config,
        weights,
        graphs,
        seed=seed,
        idle=idle,
        backpressure=backpressure,
        testcase="test_reset_faults",
        test_module="sim.tb_faults",
    )
    assert_matches_golden(config, weights, graphs, results, seed)


def test_reset_faults_narrow_config():
    run_faults(CONFIGS["narrow"], offset=21, n_random=4, idle=0.3, backpressure=0.3)


def test_reset_faults_default_config():
    run_faults(CONFIGS["default"], offset=22, n_random=2, idle=0.1, backpressure=0.2)

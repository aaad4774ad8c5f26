"""RTL tests of the board top over its UART pins (``sim.tb_board``): framed commands in, framed
replies out, results bit for bit against the golden model; link errors, fuzzed frames and a
short soak. One Verilator build (``build/sim/<sim>-<hash>-board``) serves every test.
"""

import os

import numpy as np
import pytest

from golden.config import CoreConfig
from golden.fixed import FixedPointModel
from hdl.framing import LinkStatus
from sim.cli import seed_weights
from sim.cycles import predict_cycles
from sim.runner import run_board
from sim.soak import run_soak, soak_graphs

SEED = int(os.environ.get("SPIKEGNN_TEST_SEED", "20250601"))
CONFIG = CoreConfig()


def weights() -> list[np.ndarray]:
    return FixedPointModel.from_float(CONFIG, seed_weights(CONFIG)).weights


def graphs(seed: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Edge cases (one node, a self-loop, every node isolated, the edge limit), then random."""
    n_max, width, one = CONFIG.max_nodes, CONFIG.layer_dims[0], CONFIG.feature_one
    rng = np.random.default_rng(seed)
    limit = np.zeros(n_max * n_max, dtype=np.int64)
    limit[rng.choice(n_max * n_max, CONFIG.max_edges, replace=False)] = 1
    pairs = [
        (np.zeros((1, 1), dtype=np.int64), np.ones((1, width))),
        (np.ones((1, 1), dtype=np.int64), np.ones((1, width))),
        (np.zeros((n_max, n_max), dtype=np.int64), rng.random((n_max, width))),
        (limit.reshape(n_max, n_max), np.ones((n_max, width))),
    ]
    pairs += [(a, x / one) for a, x in soak_graphs(CONFIG, rng, count)]
    return pairs


def test_board_inference_equals_golden():
    pairs = graphs(SEED, 4)
    # Graphs without edges have zero class sums: the bias alone decides them (class 1 here).
    bias = np.array([-5, 3])
    results = run_board(
        CONFIG, weights(), pairs, seed=SEED, testcase="test_link_inference", class_bias=bias
    )
    golden = FixedPointModel(CONFIG, weights(), bias).run_graphs(pairs)
    plain = FixedPointModel(CONFIG, weights()).run_graphs(pairs)
    assert np.count_nonzero(golden.classes != plain.classes) >= 2
    assert len(results["graphs"]) == len(pairs)
    for index, got in enumerate(results["graphs"]):
        assert got["class"] == golden.classes[index], f"graph {index}"
        assert got["counts"] == golden.graph_counts(index).tolist(), f"graph {index}"
        assert got["cycles"] == predict_cycles(CONFIG, pairs[index][0]), f"graph {index}"


def test_ecp5_board_inference_equals_golden():
    """The ECP5 boards' top (LUT RAM, MAC product registers) behind the same UART link."""
    pairs = graphs(SEED + 4, 3)
    bias = np.array([2, -1])
    results = run_board(
        CONFIG,
        weights(),
        pairs,
        seed=SEED + 4,
        testcase="test_link_inference",
        class_bias=bias,
        family="ecp5",
    )
    golden = FixedPointModel(CONFIG, weights(), bias).run_graphs(pairs)
    assert len(results["graphs"]) == len(pairs)
    for index, got in enumerate(results["graphs"]):
        assert got["class"] == golden.classes[index], f"graph {index}"
        assert got["counts"] == golden.graph_counts(index).tolist(), f"graph {index}"
        assert got["cycles"] == predict_cycles(CONFIG, pairs[index][0]), f"graph {index}"


def test_board_verilog_refuses_an_unknown_family(tmp_path):
    from hdl.link import write_board_verilog

    with pytest.raises(ValueError, match="family must be one of ice40, ecp5, not 'gowin'"):
        write_board_verilog(CONFIG, tmp_path / "board.v", 4, 640, family="gowin")


def test_board_link_errors_change_nothing():
    pairs = graphs(SEED + 1, 2)[-2:]
    results = run_board(CONFIG, weights(), pairs, seed=SEED + 1, testcase="test_link_errors")
    assert results["checked"] == [
        "corrupt CRC",
        "corrupt data byte",
        "truncated LOAD_FEATURES",
        "header only",
        "length one word short",
        "length one word long",
        "RUN with two words",
        "length 0",
        "longer than the buffer",
        "unknown opcode 0x6",
        "unknown opcode 0x0",
        "unknown opcode 0xF",
    ]


def test_board_fuzzed_frames():
    pairs = graphs(SEED + 2, 3)[-3:]
    results = run_board(
        CONFIG, weights(), pairs, seed=SEED + 2, testcase="test_link_fuzz", options={"rounds": 3}
    )
    counts = results["counts"]
    # Four mutations a round; the three that keep the sync byte always get an error reply.
    assert counts["link"] + counts["silent"] == 12 and counts["link"] >= 9
    assert counts["core"] == 5


def test_board_soak_short():
    report = run_soak(CONFIG, weights(), 15, seed=SEED + 3)
    assert report["graphs"] == 15
    assert report["mismatches"] == [] and report["lost"] == [] and report["frame_errors"] == []
    assert report["simulated_cycles"] > report["inference_cycles"] > 0


def test_link_status_codes():
    assert [int(s) for s in LinkStatus] == [0, 1, 2, 3, 4]

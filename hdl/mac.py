"""Multiply-accumulate array: ``lanes`` signed MACs that share first/last framing.

The core uses it twice per node: neighbour features times the degree reciprocal
(:func:`golden.fixed.aggregate`), then aggregates times weights (:func:`golden.fixed.project`).
"""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import CoreConfig

__all__ = ["MACArray"]


class MACArray(wiring.Component):
    """``lanes`` pipelined multiply-accumulate units.

    A product enters on every clock with ``valid`` high. ``first`` starts a new sum,
    ``last`` ends it; ``tag`` travels with the operands. Two clocks after the clock that
    presents the last product, ``done`` is high for one clock with the finished sums on
    ``acc`` and the last product's ``tag`` on ``done_tag``. Sums never overflow:
    ``accumulator_width`` holds the configured value ranges of the core's operands (see
    ``docs/fixed_point.md``), not every pair of ``operand_width``-bit values.

    Parameters
    ----------
    config : CoreConfig
    operand_width : int
        Signed width of both operands.
    tag_width : int
        Width of the tag.
    """

    def __init__(self, config: CoreConfig, operand_width: int, tag_width: int):
        self.config = config
        lanes = config.lanes
        acc = signed(config.accumulator_width)
        super().__init__(
            {
                "valid": In(1),
                "first": In(1),
                "last": In(1),
                "tag": In(tag_width),
                "a": In(signed(operand_width)).array(lanes),
                "b": In(signed(operand_width)).array(lanes),
                "done": Out(1),
                "done_tag": Out(tag_width),
                "acc": Out(acc).array(lanes),
            }
        )

    def elaborate(self, platform):
        m = Module()
        config = self.config
        width = config.accumulator_width

        product_valid = Signal()
        product_first = Signal()
        product_last = Signal()
        product_tag = Signal.like(self.tag)
        m.d.sync += [
            product_valid.eq(self.valid),
            product_first.eq(self.first),
            product_last.eq(self.last),
            product_tag.eq(self.tag),
        ]

        sum_last = Signal()
        sum_tag = Signal.like(self.tag)
        m.d.sync += [sum_last.eq(product_valid & product_last), sum_tag.eq(product_tag)]

        for lane in range(config.lanes):
            product = Signal(signed(width), name=f"product_{lane}")
            total = Signal(signed(width), name=f"acc_{lane}")
            m.d.sync += product.eq(self.a[lane] * self.b[lane])
            with m.If(product_valid):
                with m.If(product_first):
                    m.d.sync += total.eq(product)
                with m.Else():
                    m.d.sync += total.eq(total + product)
            m.d.comb += self.acc[lane].eq(total)

        m.d.comb += [self.done.eq(sum_last), self.done_tag.eq(sum_tag)]
        return m

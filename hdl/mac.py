"""Multiply-accumulate array: ``lanes`` signed MACs that share first/last framing.

The core uses it twice per node: neighbour features times the degree reciprocal
(:func:`golden.fixed.aggregate`), then aggregates times weights (:func:`golden.fixed.project`);
in between, the LIF lanes borrow its multipliers for the leak (:mod:`hdl.lif`).
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import CoreConfig

__all__ = ["MACArray", "constant_product"]


def constant_product(value, factor: int):
    """``value * factor`` for a constant ``factor`` as shifted adds, so no multiplier is inferred.

    Parameters
    ----------
    value : amaranth.hdl.Value
        The unsigned value to scale.
    factor : int
        A non-negative constant.
    """
    terms = [value << bit for bit in range(factor.bit_length()) if factor >> bit & 1]
    return reduce(operator.add, terms, Const(0, 1))


class MACArray(wiring.Component):
    """``lanes`` pipelined multiply-accumulate units: operand registers, then the sums.

    An operand pair enters on every clock; with ``valid`` high it joins a sum. ``first``
    starts a new sum, ``last`` ends it; ``tag`` travels with the operands. :attr:`latency`
    clocks after the clock that presents the last operands, ``done`` is high for one clock
    with the finished sums on ``acc`` and the last operands' ``tag`` on ``done_tag``. Sums
    never overflow: ``accumulator_width`` holds the configured value ranges of the core's
    operands (see ``docs/fixed_point.md``), not every pair of ``operand_width``-bit values.

    ``product`` is the product of the operands presented :attr:`PRODUCT_LATENCY` clocks
    earlier, whatever ``valid`` and ``first`` were (with ``product_register``), or when those
    operands had ``valid`` and ``first`` high (without it, ``product`` is the sum register):
    that is how the LIF lanes use the multipliers while no sum runs (``acc`` and ``product``
    are wide enough for the leak product as well).

    Without ``product_register`` (the iCE40 build) the operand registers and the sums have no
    reset, so Yosys puts them, with the multiplier and the adder, inside the ``SB_MAC16``,
    and the sum register doubles as the product register. With it (the ECP5 build), a
    register after each multiplier cuts the path from the operand register through the
    ``MULT18X18D`` and the accumulator's adder in two, for one clock more of ``latency``.

    Parameters
    ----------
    config : CoreConfig
    operand_width : int
        Signed width of operand ``a`` (and of ``b`` unless ``b_width`` is given).
    tag_width : int
        Width of the tag.
    b_width : int, optional
        Signed width of operand ``b``.
    product_register : bool, optional
        Register each product before it joins the sum.

    Attributes
    ----------
    latency : int
        Clocks from the clock that presents the last operands to the clock with ``done`` high:
        2 (operand register, sum register) or, with ``product_register``, 3.

    Notes
    -----
    Yosys puts the sum into the ``SB_MAC16`` only when no two bits of an operand register
    are copies of each other: give each operand the width its widest value needs, no more.
    """

    #: Clocks from operands to their product on ``product``: operand register, then the
    #: product register (or the sum register standing in for it).
    PRODUCT_LATENCY = 2
    #: ``latency`` of the array with ``product_register``, the longer of the two pipelines.
    MAX_LATENCY = 3

    def __init__(
        self,
        config: CoreConfig,
        operand_width: int,
        tag_width: int,
        b_width: int | None = None,
        product_register: bool = False,
    ):
        self.config = config
        self.product_register = bool(product_register)
        self.latency = self.MAX_LATENCY if self.product_register else self.PRODUCT_LATENCY
        self.operand_width = operand_width
        self.b_width = operand_width if b_width is None else b_width
        lanes = config.lanes
        leak_product = config.membrane_width + config.leak_q.bit_length() + 1
        self.sum_width = max(config.accumulator_width, leak_product)
        super().__init__(
            {
                "valid": In(1),
                "first": In(1),
                "last": In(1),
                "tag": In(tag_width),
                "a": In(signed(operand_width)).array(lanes),
                "b": In(signed(self.b_width)).array(lanes),
                "done": Out(1),
                "done_tag": Out(tag_width),
                "acc": Out(signed(self.sum_width)).array(lanes),
                "product": Out(signed(self.sum_width)).array(lanes),
            }
        )

    def elaborate(self, platform):
        m = Module()
        config = self.config

        # Framing of the operands in the operand registers, then (with product_register) of
        # the products in the product registers: the sum register takes them in a clock later.
        stages = 2 if self.product_register else 1
        framing = (self.valid, self.first, self.last, self.tag)
        for stage in range(1, stages + 1):
            registers = [
                Signal.like(value, name=f"{name}_{stage}")
                for name, value in zip(("valid", "first", "last", "tag"), framing, strict=True)
            ]
            m.d.sync += [reg.eq(value) for reg, value in zip(registers, framing, strict=True)]
            framing = registers
        adding_valid, adding_first, adding_last, adding_tag = framing

        sum_last = Signal()
        sum_tag = Signal.like(self.tag)
        m.d.sync += [sum_last.eq(adding_valid & adding_last), sum_tag.eq(adding_tag)]

        for lane in range(config.lanes):
            a = Signal(signed(self.operand_width), name=f"a_{lane}", reset_less=True)
            b = Signal(signed(self.b_width), name=f"b_{lane}", reset_less=True)
            total = Signal(signed(self.sum_width), name=f"acc_{lane}", reset_less=True)
            m.d.sync += [a.eq(self.a[lane]), b.eq(self.b[lane])]
            if self.product_register:
                term = Signal(
                    signed(self.sum_width), name=f"registered_product_{lane}", reset_less=True
                )
                m.d.sync += term.eq(a * b)
                m.d.comb += self.product[lane].eq(term)
            else:
                term = a * b
                m.d.comb += self.product[lane].eq(total)
            # One adder with a zeroed feedback, not a load multiplexer: this form fits the
            # SB_MAC16 accumulator.
            with m.If(adding_valid):
                m.d.sync += total.eq(Mux(adding_first, 0, total) + term)
            m.d.comb += self.acc[lane].eq(total)

        m.d.comb += [self.done.eq(sum_last), self.done_tag.eq(sum_tag)]
        return m

"""Board tops: the spike GNN core behind a framed, CRC-checked UART link, clocked from a PLL.

Four boards are supported:

``icebreaker``
    1BitSquared iCEBreaker, Lattice iCE40UP5K-SG48. The 12 MHz oscillator on pin 35 drives an
    ``SB_PLL40_PAD``; the FTDI's second channel is the UART (FPGA rx pin 6, tx pin 9).
``ulx3s``
    Radiona ULX3S with the LFE5U-85F (ECP5, BG381, speed 6). The 25 MHz oscillator on G2 drives
    an ``EHXPLLL``; the FTDI is the UART (FPGA rx M1, tx L4).
``icesugar``
    MuseLab iCESugar (v1.5), iCE40UP5K-SG48. The 12 MHz clock on pin 35 drives an
    ``SB_PLL40_PAD``; the iCELink's USB serial port is the UART (FPGA rx pin 4, tx pin 6).
``orangecrab``
    Good Stuff Department OrangeCrab r0.2 with the LFE5U-25F (ECP5, MG285, speed 8). The 48 MHz
    oscillator on A9 drives an ``EHXPLLL``. The board has no USB-UART bridge: the UART is on the
    Feather header's RX and TX positions, pins ``0`` (FPGA rx, N17) and ``1`` (FPGA tx, M18),
    with a pull-up on rx. Wire a 3.3 V USB-UART adapter's TXD to pin 0, its RXD to pin 1 and
    its GND to a GND pin.

The link (:class:`UARTCore`) runs 8N1 UART bytes through :class:`hdl.link.FrameLink`: each host
frame carries one command with a sync byte, a length and a CRC-16, is buffered whole in block
RAM and reaches the core only when it checks out; every frame gets one reply frame
(``docs/protocol.md``). The host sends a frame and waits for its reply before the next one;
bytes sent meanwhile are dropped and light the error LED. :class:`UARTBridge` is the earlier,
unframed two-bytes-a-word bridge, kept for tests of the UART alone.

LEDs: ``busy`` (the core's output, high from an accepted ``RUN`` until its class is known) and
``error`` (sticky: a UART framing error or overrun, or a byte dropped because the link was busy;
also lit while the PLL has not locked). On the iCEBreaker, the iCESugar and the OrangeCrab busy is
the green LED and error the red one (of the RGB LED on the latter two); on the ULX3S they are
LEDs 0 and 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from amaranth import Cat, ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.build import Attrs, Platform
from amaranth.lib import io, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.icesugar import ICESugarPlatform
from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_25FPlatform
from amaranth_boards.resources import LEDResources, UARTResource
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from golden.config import CoreConfig

from .core import SpikeGNNCore
from .link import FrameLink, timeout_cycles

__all__ = [
    "BOARDS",
    "DEFAULT_BAUD",
    "BoardSpec",
    "BoardTop",
    "ECP5PLL",
    "ICE40PLL",
    "UARTBridge",
    "UARTCore",
    "UARTReceiver",
    "UARTTransmitter",
    "WordAssembler",
    "WordSplitter",
    "board_spec",
    "core_style",
    "ecp5_pll",
    "ice40_pll",
    "uart_divisor",
]

#: Default UART bit rate of the board tops.
DEFAULT_BAUD = 115200

#: How each FPGA family builds the core: the keyword arguments of
#: :class:`hdl.core.SpikeGNNCore` beside the configuration (``BoardSpec`` explains the choice).
CORE_STYLES = {
    "ice40": {"memory_style": "block", "product_register": False},
    "ecp5": {"memory_style": "distributed", "product_register": True},
}


def core_style(family: str) -> dict:
    """``memory_style`` and ``product_register`` of the core on the boards of ``family``.

    Raises
    ------
    ValueError
        If ``family`` is not one of :data:`CORE_STYLES`.
    """
    if family not in CORE_STYLES:
        raise ValueError(f"family must be one of {', '.join(CORE_STYLES)}, not {family!r}.")
    return dict(CORE_STYLES[family])


# ------------------------------------------------------------------------------------------------
# UART


def uart_divisor(clock_hz: float, baud: int, tolerance: float = 0.02) -> int:
    """Clocks per UART bit for ``baud`` at ``clock_hz``.

    Parameters
    ----------
    clock_hz : float
        Clock of the UART logic.
    baud : int
        Bit rate.
    tolerance : float
        Largest relative bit-rate error accepted (8N1 tolerates about 4 % in total for both
        ends; half of it is allowed here).

    Returns
    -------
    int
        ``round(clock_hz / baud)``, at least 4.

    Raises
    ------
    ValueError
        When the clock is too slow for the bit rate or the rounding error exceeds
        ``tolerance``.
    """
    if baud <= 0 or clock_hz <= 0:
        raise ValueError(f"clock_hz and baud must be positive, not {clock_hz} and {baud}.")
    divisor = round(clock_hz / baud)
    if divisor < 4:
        raise ValueError(
            f"a {clock_hz / 1e6:g} MHz clock is too slow for {baud} baud; the UART needs at "
            "least 4 clocks a bit."
        )
    error = abs(clock_hz / divisor - baud) / baud
    if error > tolerance:
        raise ValueError(
            f"{baud} baud from {clock_hz / 1e6:g} MHz is off by {error:.1%} (divisor {divisor}); "
            f"at most {tolerance:.0%} is allowed."
        )
    return divisor


class UARTReceiver(wiring.Component):
    """8N1 UART receiver: samples each bit in its middle and emits one stream byte per frame.

    Parameters
    ----------
    divisor : int
        Clocks per bit (:func:`uart_divisor`), at least 4.

    Attributes
    ----------
    rx : In(1)
        The serial line, idle high; synchronised inside.
    data : Out(stream.Signature(8))
        Received bytes. ``valid`` stays high until ``ready``; the payload is stable meanwhile.
    overrun : Out(1)
        Sticky: a byte arrived while the previous one was still waiting, and was dropped.
    frame_error : Out(1)
        Sticky: a stop bit read low (that byte is dropped; the receiver waits for the line to
        go idle again).
    """

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError(f"divisor must be at least 4, not {divisor}.")
        self.divisor = divisor
        super().__init__(
            {
                "rx": In(1, init=1),
                "data": Out(stream.Signature(8)),
                "overrun": Out(1),
                "frame_error": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        divisor = self.divisor

        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)

        timer = Signal(range(divisor))
        bit = Signal(range(8))
        shift = Signal(8)

        with m.If(self.data.valid & self.data.ready):
            m.d.sync += self.data.valid.eq(0)

        with m.FSM(name="uart_rx"):
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(divisor // 2 - 1)
                    m.next = "START"

            with m.State("START"):
                # Middle of the start bit: still low, or it was a glitch.
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(divisor - 1), bit.eq(0)]
                    with m.If(rx):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)

            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [
                        shift.eq(Cat(shift[1:], rx)),
                        timer.eq(divisor - 1),
                        bit.eq(bit + 1),
                    ]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)

            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        with m.If(self.data.valid & ~self.data.ready):
                            m.d.sync += self.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                        m.next = "BREAK"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)

            with m.State("BREAK"):
                with m.If(rx):
                    m.next = "IDLE"

        return m


class UARTTransmitter(wiring.Component):
    """8N1 UART transmitter: start bit, eight data bits LSB first, stop bit.

    Parameters
    ----------
    divisor : int
        Clocks per bit (:func:`uart_divisor`), at least 4.

    Attributes
    ----------
    data : In(stream.Signature(8))
        Bytes to send; one is taken whenever the line is idle.
    tx : Out(1)
        The serial line, idle high.
    """

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError(f"divisor must be at least 4, not {divisor}.")
        self.divisor = divisor
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        divisor = self.divisor

        timer = Signal(range(divisor))
        left = Signal(range(10))
        shift = Signal(9)

        with m.FSM(name="uart_tx"):
            with m.State("IDLE"):
                m.d.comb += self.data.ready.eq(1)
                with m.If(self.data.valid):
                    m.d.sync += [
                        self.tx.eq(0),
                        shift.eq(Cat(self.data.payload, 1)),
                        left.eq(9),
                        timer.eq(divisor - 1),
                    ]
                    m.next = "SEND"

            with m.State("SEND"):
                # Eight data bits, then the stop bit (bit 8 of ``shift``).
                with m.If(timer == 0):
                    with m.If(left == 0):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [
                            self.tx.eq(shift[0]),
                            shift.eq(shift >> 1),
                            left.eq(left - 1),
                            timer.eq(divisor - 1),
                        ]
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)

        return m


def _word_bytes(word_width: int) -> int:
    return -(-word_width // 8)


class WordAssembler(wiring.Component):
    """Bytes to words, most significant byte first.

    A word of ``word_width`` bits takes ``ceil(word_width / 8)`` bytes; when ``word_width`` is
    not a multiple of 8 the unused top bits of the first byte are ignored.

    Parameters
    ----------
    word_width : int

    Attributes
    ----------
    bytes : In(stream.Signature(8))
    words : Out(stream.Signature(word_width))
        ``valid`` stays high until ``ready``; no byte is taken meanwhile.
    """

    def __init__(self, word_width: int):
        self.word_width = word_width
        super().__init__(
            {"bytes": In(stream.Signature(8)), "words": Out(stream.Signature(word_width))}
        )

    def elaborate(self, platform):
        m = Module()
        n = _word_bytes(self.word_width)
        held = Signal(8 * max(n - 1, 1))
        count = Signal(range(max(n, 2)))

        m.d.comb += self.bytes.ready.eq(~self.words.valid)
        with m.If(self.words.valid & self.words.ready):
            m.d.sync += self.words.valid.eq(0)
        with m.If(self.bytes.valid & self.bytes.ready):
            with m.If(count == n - 1):
                m.d.sync += [
                    self.words.payload.eq(Cat(self.bytes.payload, held)[: self.word_width]),
                    self.words.valid.eq(1),
                    count.eq(0),
                ]
            with m.Else():
                m.d.sync += [
                    held.eq(Cat(self.bytes.payload, held)[: len(held)]),
                    count.eq(count + 1),
                ]
        return m


class WordSplitter(wiring.Component):
    """Words to bytes, most significant byte first (the inverse of :class:`WordAssembler`).

    Parameters
    ----------
    word_width : int

    Attributes
    ----------
    words : In(stream.Signature(word_width))
    bytes : Out(stream.Signature(8))
    """

    def __init__(self, word_width: int):
        self.word_width = word_width
        super().__init__(
            {"words": In(stream.Signature(word_width)), "bytes": Out(stream.Signature(8))}
        )

    def elaborate(self, platform):
        m = Module()
        n = _word_bytes(self.word_width)
        held = Signal(8 * n)
        left = Signal(range(n + 1))

        m.d.comb += [
            self.words.ready.eq(left == 0),
            self.bytes.valid.eq(left != 0),
            self.bytes.payload.eq(held[8 * (n - 1) :]),
        ]
        with m.If(self.words.valid & self.words.ready):
            m.d.sync += [held.eq(self.words.payload), left.eq(n)]
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += [held.eq(held << 8), left.eq(left - 1)]
        return m


class UARTBridge(wiring.Component):
    """The current link layer: UART bytes to and from the core's word streams.

    Received bytes are assembled big-endian into command words (:class:`WordAssembler`);
    reply words are split big-endian into bytes (:class:`WordSplitter`) and sent.

    Parameters
    ----------
    divisor : int
        Clocks per UART bit (:func:`uart_divisor`).
    word_width : int
        Width of the core's words (``CoreConfig.word_width``).

    Attributes
    ----------
    rx : In(1)
        Serial input, idle high.
    tx : Out(1)
        Serial output, idle high.
    cmd : Out(stream.Signature(word_width))
        Command words for the core's ``i_cmd``.
    reply : In(stream.Signature(word_width))
        Reply words from the core's ``o_reply``.
    error : Out(1)
        Sticky: a UART framing error, or a byte dropped because the bridge was full.
    """

    def __init__(self, divisor: int, word_width: int = 16):
        self.divisor = divisor
        self.word_width = word_width
        super().__init__(
            {
                "rx": In(1, init=1),
                "tx": Out(1, init=1),
                "cmd": Out(stream.Signature(word_width)),
                "reply": In(stream.Signature(word_width)),
                "error": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = rx = UARTReceiver(self.divisor)
        m.submodules.transmitter = tx = UARTTransmitter(self.divisor)
        m.submodules.assembler = assembler = WordAssembler(self.word_width)
        m.submodules.splitter = splitter = WordSplitter(self.word_width)

        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
        wiring.connect(m, rx.data, assembler.bytes)
        wiring.connect(m, splitter.bytes, tx.data)
        wiring.connect(m, assembler.words, wiring.flipped(self.cmd))
        wiring.connect(m, wiring.flipped(self.reply), splitter.words)
        m.d.comb += self.error.eq(rx.overrun | rx.frame_error)
        return m


class StreamRegister(wiring.Component):
    """One register stage on a stream: the words pass unchanged, one clock later.

    The output's ``valid`` and ``payload`` come straight from flip-flops, so that nothing of
    the producer's logic (the framed link's block-RAM read port) reaches the consumer's
    decisions in the same clock. A word enters when the stage is empty or its word leaves in the
    same clock, so the stage keeps the stream's full rate.

    Parameters
    ----------
    width : int
        Payload bits.

    Attributes
    ----------
    i : In(stream.Signature(width))
        Words from the producer.
    o : Out(stream.Signature(width))
        The same words towards the consumer.
    """

    def __init__(self, width: int):
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


class UARTCore(wiring.Component):
    """The core behind its framed UART link, as :class:`BoardTop` puts it on every board.

    Everything of a board top but the PLL and the pins; simulations of the serial link use it
    directly, with a small ``divisor`` and ``timeout``.

    Parameters
    ----------
    config : CoreConfig
        The core's configuration.
    divisor : int
        Clocks per UART bit (:func:`uart_divisor`).
    timeout : int, optional
        Clock cycles allowed between two bytes of a frame (:class:`hdl.link.FrameLink`); by
        default 20 ms at the clock that gives ``divisor`` at 115200 baud.
    memory_style : {"block", "distributed"}, optional
        How the core's memories are built (:class:`hdl.core.SpikeGNNCore`).
    product_register : bool, optional
        A register after each of the core's MAC multipliers (:class:`hdl.core.SpikeGNNCore`).

    Attributes
    ----------
    rx : In(1)
        Serial input from the host, idle high.
    tx : Out(1)
        Serial output to the host, idle high.
    busy : Out(1)
        The core's ``busy``.
    error : Out(1)
        Sticky: a UART framing error or overrun, or a byte the link dropped while busy.
    core : SpikeGNNCore
    """

    def __init__(
        self,
        config: CoreConfig,
        divisor: int,
        timeout: int | None = None,
        memory_style: str = "block",
        product_register: bool = False,
    ):
        self.config = config
        self.divisor = divisor
        self.timeout = timeout_cycles(divisor * DEFAULT_BAUD) if timeout is None else timeout
        self.core = SpikeGNNCore(config, memory_style, product_register)
        super().__init__(
            {"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1), "error": Out(1)}
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.receiver = receiver = UARTReceiver(self.divisor)
        m.submodules.transmitter = transmitter = UARTTransmitter(self.divisor)
        m.submodules.frames = frames = FrameLink(self.config, self.timeout)
        # The command words reach the core from a register, not from the frame buffer's read
        # port (whose clock-to-output delay would start every path into the core's loaders).
        m.submodules.command_stage = command_stage = StreamRegister(self.config.word_width)
        m.d.comb += [
            receiver.rx.eq(self.rx),
            self.tx.eq(transmitter.tx),
            self.busy.eq(core.busy),
            self.error.eq(receiver.overrun | receiver.frame_error | frames.dropped),
        ]
        wiring.connect(m, receiver.data, frames.rx_bytes)
        wiring.connect(m, frames.tx_bytes, transmitter.data)
        wiring.connect(m, frames.cmd, command_stage.i)
        wiring.connect(m, command_stage.o, core.i_cmd)
        wiring.connect(m, core.o_reply, frames.reply)
        return m


# ------------------------------------------------------------------------------------------------
# PLLs


@dataclass(frozen=True)
class ICE40PLL:
    """Settings of an iCE40 ``SB_PLL40`` in ``SIMPLE`` feedback mode (as ``icepll`` finds them).

    ``f_out = f_in / (DIVR + 1) * (DIVF + 1) / 2**DIVQ``.
    """

    f_in: Fraction
    divr: int
    divf: int
    divq: int
    filter_range: int

    @property
    def f_pfd(self) -> Fraction:
        """Phase detector frequency, MHz (10 to 133)."""
        return self.f_in / (self.divr + 1)

    @property
    def f_vco(self) -> Fraction:
        """VCO frequency, MHz (533 to 1066)."""
        return self.f_pfd * (self.divf + 1)

    @property
    def f_out(self) -> Fraction:
        """Output frequency, MHz."""
        return self.f_vco / (1 << self.divq)


def ice40_pll(f_in_mhz: float, f_out_mhz: float) -> ICE40PLL:
    """Closest iCE40 PLL setting for ``f_out_mhz``: ``icepll``'s search, in exact arithmetic.

    Parameters
    ----------
    f_in_mhz : float
        Reference clock, 10 to 133 MHz.
    f_out_mhz : float
        Wanted output clock, 16 to 275 MHz.

    Returns
    -------
    ICE40PLL
        The first setting (DIVR, then DIVF, then DIVQ ascending) with the smallest error.

    Raises
    ------
    ValueError
        When either frequency is out of the PLL's range.
    """
    f_in, f_out = Fraction(f_in_mhz).limit_denominator(10**6), Fraction(f_out_mhz)
    f_out = f_out.limit_denominator(10**6)
    if not 10 <= f_in <= 133:
        raise ValueError(f"the iCE40 PLL takes 10 to 133 MHz in, not {f_in_mhz} MHz.")
    if not 16 <= f_out <= 275:
        raise ValueError(f"the iCE40 PLL gives 16 to 275 MHz out, not {f_out_mhz} MHz.")
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10 <= f_pfd <= 133:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533 <= f_vco <= 1066:
                continue
            for divq in range(1, 7):
                error = abs(f_vco / (1 << divq) - f_out)
                if best is None or error < best[0]:
                    best = (error, divr, divf, divq, f_pfd)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting gives {f_out_mhz} MHz from {f_in_mhz} MHz.")
    _, divr, divf, divq, f_pfd = best
    thresholds = (17, 26, 44, 66, 101)
    filter_range = 1 + sum(f_pfd >= t for t in thresholds)
    return ICE40PLL(f_in, divr, divf, divq, filter_range)


@dataclass(frozen=True)
class ECP5PLL:
    """Settings of an ECP5 ``EHXPLLL`` with CLKOP feedback (as ``ecppll`` finds them).

    ``f_out = f_in / CLKI_DIV * CLKFB_DIV``; the VCO runs at ``f_out * CLKOP_DIV``.
    """

    f_in: Fraction
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def f_pfd(self) -> Fraction:
        """Phase detector frequency, MHz (3.125 to 400)."""
        return self.f_in / self.clki_div

    @property
    def f_out(self) -> Fraction:
        """Output frequency, MHz."""
        return self.f_pfd * self.clkfb_div

    @property
    def f_vco(self) -> Fraction:
        """VCO frequency, MHz (400 to 800)."""
        return self.f_out * self.clkop_div

    @property
    def clkop_cphase(self) -> int:
        """Coarse phase of CLKOP: half a period (what ``ecppll`` and Diamond emit)."""
        return self.clkop_div // 2


def ecp5_pll(f_in_mhz: float, f_out_mhz: float) -> ECP5PLL:
    """Closest ECP5 PLL setting for ``f_out_mhz``: ``ecppll``'s search, in exact arithmetic.

    Parameters
    ----------
    f_in_mhz : float
        Reference clock, 8 to 400 MHz.
    f_out_mhz : float
        Wanted output clock, 3.125 to 400 MHz.

    Returns
    -------
    ECP5PLL
        The setting with the smallest error; among equals, the VCO closest to 600 MHz.

    Raises
    ------
    ValueError
        When either frequency is out of the PLL's range.
    """
    f_in = Fraction(f_in_mhz).limit_denominator(10**6)
    f_out = Fraction(f_out_mhz).limit_denominator(10**6)
    if not 8 <= f_in <= 400:
        raise ValueError(f"the ECP5 PLL takes 8 to 400 MHz in, not {f_in_mhz} MHz.")
    if not Fraction(25, 8) <= f_out <= 400:
        raise ValueError(f"the ECP5 PLL gives 3.125 to 400 MHz out, not {f_out_mhz} MHz.")
    best = None
    for clki_div in range(1, 129):
        f_pfd = f_in / clki_div
        if not Fraction(25, 8) <= f_pfd <= 400:
            continue
        for clkfb_div in range(1, 81):
            out = f_pfd * clkfb_div
            # CLKOP_DIV: the VCO (400 to 800 MHz) is out * clkop_div.
            low, high = max(1, math.ceil(400 / out)), min(128, math.floor(800 / out))
            for clkop_div in range(low, high + 1):
                key = (abs(out - f_out), abs(out * clkop_div - 600))
                if best is None or key < best[0]:
                    best = (key, clki_div, clkfb_div, clkop_div)
    if best is None:
        raise ValueError(f"no ECP5 PLL setting gives {f_out_mhz} MHz from {f_in_mhz} MHz.")
    _, clki_div, clkfb_div, clkop_div = best
    return ECP5PLL(f_in, clki_div, clkfb_div, clkop_div)


class _PLLClocking(Elaboratable):
    """The core clock from the board oscillator through the PLL, with a power-on reset.

    ``rst`` is held high until the PLL has locked and then for ``hold_us`` more microseconds
    (iCE40 block RAMs read as zero for about 3 us after configuration); ``locked`` is its
    inverse. Both are synchronous to ``clk``.
    """

    def __init__(self, spec: BoardSpec, pll: ICE40PLL | ECP5PLL, hold_us: float = 15.0):
        self.spec = spec
        self.pll = pll
        self.hold_us = hold_us
        self.clk = Signal()
        self.rst = Signal(init=1)
        self.locked = Signal()

    def elaborate(self, platform):
        m = Module()
        spec, pll = self.spec, self.pll
        clk = self.clk
        lock = Signal()
        pin = platform.request(spec.clock_resource, 0, dir="-")
        if spec.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=pll.divr,
                p_DIVF=pll.divf,
                p_DIVQ=pll.divq,
                p_FILTER_RANGE=pll.filter_range,
                i_PACKAGEPIN=pin.io,
                i_RESETB=1,
                i_BYPASS=0,
                o_PLLOUTGLOBAL=clk,
                o_LOCK=lock,
            )
        else:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", pin)
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=_mhz_text(pll.f_in),
                a_FREQUENCY_PIN_CLKOP=_mhz_text(pll.f_out),
                a_ICP_CURRENT="12",
                a_LPF_RESISTOR="8",
                a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED",
                p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED",
                p_OUTDIVIDER_MUXA="DIVA",
                p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC",
                p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=pll.clki_div,
                p_CLKOP_ENABLE="ENABLED",
                p_CLKOP_DIV=pll.clkop_div,
                p_CLKOP_CPHASE=pll.clkop_cphase,
                p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP",
                p_CLKFB_DIV=pll.clkfb_div,
                i_RST=0,
                i_STDBY=0,
                i_CLKI=clk_buf.i,
                o_CLKOP=clk,
                i_CLKFB=clk,
                i_PHASESEL0=0,
                i_PHASESEL1=0,
                i_PHASEDIR=1,
                i_PHASESTEP=1,
                i_PHASELOADREG=1,
                i_PLLWAKESYNC=0,
                i_ENCLKOP=0,
                o_LOCK=lock,
            )
        # No explicit constraint on ``clk``: nextpnr derives it from the oscillator's and the
        # PLL's settings ("Derived frequency constraint"), under whatever name the net ends up.

        m.domains.por = ClockDomain("por", reset_less=True, local=True)
        m.d.comb += ClockSignal("por").eq(clk)

        locked = Signal()
        m.submodules.lock_sync = FFSynchronizer(lock, locked, o_domain="por")
        hold = max(1, math.ceil(self.hold_us * float(pll.f_out)))
        timer = Signal(range(hold + 1))
        with m.If(~locked):
            m.d.por += timer.eq(0)
        with m.Elif(timer != hold):
            m.d.por += timer.eq(timer + 1)
        # The reset leaves a flip-flop: it reaches every register of the design, so no logic
        # should lie in front of its long routes.
        reset = Signal(init=1)
        m.d.por += reset.eq(~locked | (timer != hold))
        m.d.comb += [self.rst.eq(reset), self.locked.eq(~reset)]
        return m


def _mhz_text(value: Fraction) -> str:
    return f"{float(value):.6g}"


# ------------------------------------------------------------------------------------------------
# Boards


class _ULX3S85FBuildPlatform(ULX3S_85F_Platform):
    """ULX3S-85F for building only: ``openFPGALoader`` is needed to program, not to build."""

    @property
    def required_tools(self):
        return [tool for tool in super().required_tools if tool != "openFPGALoader"]


class _OrangeCrab25FBuildPlatform(OrangeCrabR0_2_25FPlatform):
    """OrangeCrab r0.2 25F with a UART and single LEDs, for building only.

    The UART is added on the Feather header: rx on pin ``0`` and tx on pin ``1`` (the Feather
    RX and TX positions), LVCMOS33 with a pull-up, so that rx idles high with no adapter
    attached. ``led`` 0, 1 and 2 are the red, green and blue parts of the RGB LED (active low).
    ``dfu-suffix``, which only adds the DFU bootloader's suffix to the bitstream for
    ``dfu-util``, is neither required nor run: the flow's bitstream is the plain ``.bit``.
    """

    resources = [
        *OrangeCrabR0_2_25FPlatform.resources,
        UARTResource(
            0, rx="0", tx="1", conn=("io", 0), attrs=Attrs(IO_TYPE="LVCMOS33", PULLMODE="UP")
        ),
        *LEDResources(pins="K4 M3 J3", invert=True, attrs=Attrs(IO_TYPE="LVCMOS33")),
    ]

    @property
    def required_tools(self):
        return [tool for tool in super().required_tools if tool != "dfu-suffix"]

    @property
    def command_templates(self):
        return [template for template in super().command_templates if "dfu-suffix" not in template]


@dataclass(frozen=True)
class BoardSpec:
    """What the flow needs to know about one board.

    Attributes
    ----------
    name : str
        Key in :data:`BOARDS` and the build folder's name.
    title : str
        Board and device, for reports.
    device : str
        FPGA part and package.
    family : str
        ``"ice40"`` or ``"ecp5"``.
    platform_class : type
        Amaranth platform to build with.
    clock_resource : str
        Platform resource of the oscillator.
    input_mhz : float
        Oscillator frequency.
    default_clock_mhz : float
        Core clock when none is asked for: the measured Fmax of the default configuration,
        less a margin (``docs/synthesis.md`` lists the measurements).
    busy_led, error_led : int
        Indices of the ``led`` resources that show ``busy`` and the sticky link error.
    constraints_suffix : str
        ``"pcf"`` or ``"lpf"``.
    uart_source : str
        What the ``uart`` pins connect to, for the header of the committed constraint file.
    placer_seed : int
        nextpnr's ``--seed`` for this board: placement, and so Fmax, varies by a few percent
        from seed to seed; the flow uses this one unless told otherwise, so that a build is
        repeatable.
    memory_style : str
        How the core's memories are built (:class:`hdl.core.SpikeGNNCore`): ``"block"`` on the
        iCE40, whose logic cells are few; ``"distributed"`` (LUT RAM) on the ECP5, whose block
        RAM's clock-to-output delay would otherwise bound the clock.
    product_register : bool
        Whether the core's MAC lanes register their products (:class:`hdl.core.SpikeGNNCore`):
        not on the iCE40, whose ``SB_MAC16`` holds a whole lane; on the ECP5, where the path
        through the ``MULT18X18D`` and the accumulator would otherwise bound the clock.
    """

    name: str
    title: str
    device: str
    family: str
    platform_class: type
    clock_resource: str
    input_mhz: float
    default_clock_mhz: float
    busy_led: int
    error_led: int
    constraints_suffix: str
    uart_source: str = "the FTDI UART"
    placer_seed: int = 1

    @property
    def memory_style(self) -> str:
        """``"block"`` on the iCE40, ``"distributed"`` on the ECP5."""
        return CORE_STYLES[self.family]["memory_style"]

    @property
    def product_register(self) -> bool:
        """``False`` on the iCE40, ``True`` on the ECP5."""
        return CORE_STYLES[self.family]["product_register"]

    def platform(self) -> Platform:
        """A fresh Amaranth platform for this board (a platform builds only once)."""
        return self.platform_class()

    def pll(self, clock_mhz: float) -> ICE40PLL | ECP5PLL:
        """The PLL setting closest to ``clock_mhz``."""
        if self.family == "ice40":
            return ice40_pll(self.input_mhz, clock_mhz)
        return ecp5_pll(self.input_mhz, clock_mhz)


#: The supported boards by name.
BOARDS: dict[str, BoardSpec] = {
    "icebreaker": BoardSpec(
        name="icebreaker",
        title="iCEBreaker",
        device="iCE40UP5K-SG48",
        family="ice40",
        platform_class=ICEBreakerPlatform,
        clock_resource="clk12",
        input_mhz=12.0,
        # Measured Fmax of the default configuration at a 36 MHz target, placer seeds 1 to 5
        # (docs/synthesis.md): the PLL makes 36 MHz exactly from the 12 MHz oscillator.
        default_clock_mhz=36.0,
        busy_led=1,  # green
        error_led=0,  # red
        constraints_suffix="pcf",
    ),
    "ulx3s": BoardSpec(
        name="ulx3s",
        title="ULX3S-85F",
        device="LFE5U-85F-6BG381C",
        family="ecp5",
        platform_class=_ULX3S85FBuildPlatform,
        clock_resource="clk25",
        input_mhz=25.0,
        # Measured Fmax of the default configuration at a 100 MHz target: 111.4 MHz
        # (docs/synthesis.md), met at the slow corner.
        default_clock_mhz=100.0,
        busy_led=0,
        error_led=1,
        constraints_suffix="lpf",
    ),
    "icesugar": BoardSpec(
        name="icesugar",
        title="iCESugar",
        device="iCE40UP5K-SG48",
        family="ice40",
        platform_class=ICESugarPlatform,
        clock_resource="clk12",
        input_mhz=12.0,
        # The iCEBreaker's device and core: the iCEBreaker's default clock.
        default_clock_mhz=36.0,
        busy_led=1,  # green
        error_led=0,  # red
        constraints_suffix="pcf",
        uart_source="the iCELink USB UART",
        # Placer seeds 1, 2 and 3 give 36.08, 37.51 and 36.24 MHz at 36 MHz (docs/synthesis.md).
        placer_seed=2,
    ),
    "orangecrab": BoardSpec(
        name="orangecrab",
        title="OrangeCrab r0.2",
        device="LFE5U-25F-8MG285C",
        family="ecp5",
        platform_class=_OrangeCrab25FBuildPlatform,
        clock_resource="clk",
        input_mhz=48.0,
        # Speed grade 8: Fmax 142.1 MHz at a 120 MHz target (docs/synthesis.md).
        default_clock_mhz=120.0,
        busy_led=1,  # green
        error_led=0,  # red
        constraints_suffix="lpf",
        uart_source="a 3.3 V USB-UART",
    ),
}


def board_spec(board: str) -> BoardSpec:
    """Look up a board by name, with a clear error for an unknown one."""
    try:
        return BOARDS[board]
    except KeyError:
        raise ValueError(f"unknown board {board!r}; the boards are {sorted(BOARDS)}.") from None


class BoardTop(Elaboratable):
    """The core, its clock and its UART on one board.

    Parameters
    ----------
    config : CoreConfig
        The core's configuration.
    board : str
        A key of :data:`BOARDS`: ``"icebreaker"``, ``"ulx3s"``, ``"icesugar"`` or
        ``"orangecrab"``.
    clock_mhz : float, optional
        Wanted core clock; the board's ``default_clock_mhz`` when omitted. The PLL gives the
        closest frequency it can (:attr:`clock_mhz` holds it).
    baud : int
        UART bit rate.

    Attributes
    ----------
    spec : BoardSpec
    pll : ICE40PLL or ECP5PLL
        The PLL setting.
    clock_mhz : float
        The core clock the PLL actually produces.
    divisor : int
        Clocks per UART bit.

    Notes
    -----
    The design is the PLL (``clocking``), :class:`UARTCore` (``link``: the core and its framed
    UART link, inter-byte timeout 20 ms) and the pins. The core clock's reset is held until the
    PLL locks and 15 us more.
    """

    def __init__(
        self,
        config: CoreConfig,
        board: str,
        clock_mhz: float | None = None,
        baud: int = DEFAULT_BAUD,
    ):
        self.config = config
        self.spec = board_spec(board)
        wanted = self.spec.default_clock_mhz if clock_mhz is None else clock_mhz
        self.pll = self.spec.pll(wanted)
        self.clock_mhz = float(self.pll.f_out)
        self.baud = baud
        self.divisor = uart_divisor(self.clock_mhz * 1e6, baud)

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.submodules.clocking = clocking = _PLLClocking(spec, self.pll)
        m.domains.sync = sync = ClockDomain("sync")
        m.d.comb += [sync.clk.eq(clocking.clk), sync.rst.eq(clocking.rst)]
        m.submodules.link = link = UARTCore(
            self.config,
            self.divisor,
            timeout_cycles(self.clock_mhz * 1e6),
            **core_style(spec.family),
        )

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.submodules.busy_led = busy_led = io.Buffer(
            "o", platform.request("led", spec.busy_led, dir="-")
        )
        m.submodules.error_led = error_led = io.Buffer(
            "o", platform.request("led", spec.error_led, dir="-")
        )
        m.d.comb += [
            link.rx.eq(uart_rx.i),
            uart_tx.o.eq(link.tx),
            busy_led.o.eq(link.busy),
            error_led.o.eq(link.error | ~clocking.locked),
        ]
        return m

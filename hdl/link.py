"""The framed host link: UART bytes in CRC-checked frames to and from the core's word streams.

A whole command frame is buffered in block RAM and reaches the core only once its length, its
command and its CRC check out; every frame gets exactly one reply frame (``docs/protocol.md``).
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import CoreConfig

from .commands import Opcode
from .framing import (
    CRC_INIT,
    SYNC_COMMAND,
    SYNC_REPLY,
    LinkStatus,
    crc16_update,
    frame_limits,
    word_bytes,
)
from .mac import constant_product

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "FrameLink",
    "crc16_next",
    "timeout_cycles",
    "timeout_ticks",
    "write_board_verilog",
]

#: Longest gap allowed between two bytes of one frame on the boards, in milliseconds.
DEFAULT_TIMEOUT_MS = 20.0


def timeout_cycles(clock_hz: float, timeout_ms: float = DEFAULT_TIMEOUT_MS) -> int:
    """Clock cycles of the inter-byte timeout ``timeout_ms`` at ``clock_hz``.

    Raises
    ------
    ValueError
        If either value is not positive.
    """
    if clock_hz <= 0 or timeout_ms <= 0:
        raise ValueError(
            f"clock_hz and timeout_ms must be positive, not {clock_hz} and {timeout_ms}."
        )
    return max(1, round(clock_hz * timeout_ms / 1000))


def timeout_ticks(timeout: int) -> tuple[int, int]:
    """The prescaled inter-byte timer of :class:`FrameLink` for ``timeout`` clock cycles.

    Returns ``(tick_shift, ticks)``: ticks of ``2**tick_shift`` clocks, 8 bits fewer than
    ``timeout`` has, and ``ticks = ceil(timeout / 2**tick_shift)``, at most 256. The gap
    allowed, ``ticks << tick_shift``, equals ``timeout`` up to 255 clocks and exceeds it by
    less than a tick (under 1 %) above.
    """
    shift = max(0, int(timeout).bit_length() - 8)
    return shift, -(-int(timeout) // (1 << shift))


def crc16_next(crc, byte):
    """The CRC register after ``byte`` as an XOR network (:func:`hdl.framing.crc16_update`).

    The update is linear in the register and the byte together, so every output bit is the
    XOR of the input bits whose unit vectors set it in the Python definition.
    """
    bits = []
    for out in range(16):
        terms = [crc[i] for i in range(16) if crc16_update(1 << i, 0) >> out & 1]
        terms += [byte[i] for i in range(8) if crc16_update(0, 1 << i) >> out & 1]
        bits.append(reduce(operator.xor, terms, Const(0, 1)))
    return Cat(*bits)


class FrameLink(wiring.Component):
    """Frames on UART byte streams to and from the core's command and reply word streams.

    Receiving, the link hunts for the sync byte, reads the length and the payload words into
    its frame buffer and checks the CRC; then it checks that the length is between 1 and the
    buffer's depth and equals the word count the command announces in its own header, and only
    then streams the buffered words to the core. It frames the core's reply (its length known
    from the status word: a ``RUN`` with OK carries the counts of the graph last loaded with
    OK). A frame that fails a check gets a reply frame with a :class:`~hdl.framing.LinkStatus`
    error code and no words, and nothing reaches the core.

    Parameters
    ----------
    config : CoreConfig
        The core's configuration: word width, limits, class count.
    timeout : int
        Clock cycles allowed between two bytes of one frame; a longer gap ends the frame with
        ``TIMEOUT``. The link counts the gap in ticks of ``2**tick_shift`` clocks, so the gap
        it allows is ``timeout`` rounded up to a whole tick (:attr:`timeout_allowed`, less
        than 1 % more for timeouts of 256 clocks or more, exact below).

    Attributes
    ----------
    rx_bytes : In(stream.Signature(8))
        Bytes from the UART receiver; always taken (bytes that arrive while a frame is being
        executed or answered are dropped and set ``dropped``).
    tx_bytes : Out(stream.Signature(8))
        Bytes for the UART transmitter.
    cmd : Out(stream.Signature(word_width))
        Command words for the core's ``i_cmd``.
    reply : In(stream.Signature(word_width))
        Reply words from the core's ``o_reply``.
    dropped : Out(1)
        Sticky: a byte arrived while the link was not receiving and was dropped.
    tick_shift : int
        Clocks of a timeout tick, as a power of two: 8 bits fewer than ``timeout`` has.
    timeout_ticks : int
        Ticks allowed between two bytes, ``timeout`` divided by the tick and rounded up.
    """

    def __init__(self, config: CoreConfig, timeout: int):
        self._MustUse__silence = True  # no "never elaborated" warning if the arguments fail
        if timeout < 1:
            raise ValueError(f"timeout must be at least 1 clock cycle, not {timeout}.")
        self.config = config
        self.timeout = int(timeout)
        self.tick_shift, self.timeout_ticks = timeout_ticks(self.timeout)
        self.limits = frame_limits(config)
        if self.limits.buffer_words >= 1 << 16:
            raise ValueError(
                f"the longest command takes {self.limits.buffer_words} words, more than the "
                "16-bit length field of a frame holds (65535)."
            )
        self._MustUse__silence = False
        width = config.word_width
        super().__init__(
            {
                "rx_bytes": In(stream.Signature(8)),
                "tx_bytes": Out(stream.Signature(8)),
                "cmd": Out(stream.Signature(width)),
                "reply": In(stream.Signature(width)),
                "dropped": Out(1),
            }
        )

    @property
    def timeout_allowed(self) -> int:
        """Clock cycles the link waits for a frame's next byte: ``timeout`` up to a tick.

        A byte on clock ``t`` and none after it end the frame on clock
        ``t + timeout_allowed + 1``, when the link is in its ``TIMEOUT`` decision.
        """
        return self.timeout_ticks << self.tick_shift

    def elaborate(self, platform):
        m = Module()
        config = self.config
        width, n_bytes = config.word_width, word_bytes(config)
        shift = width - 4
        depth = self.limits.buffer_words

        m.submodules.buffer = buffer = Memory(shape=unsigned(width), depth=depth, init=[])
        write = buffer.write_port()
        read = buffer.read_port(transparent_for=())

        rx, tx = self.rx_bytes, self.tx_bytes
        # Every byte is taken and registered once more, with the two values the frame's
        # state compares it with, so no byte decode sits on the state's next-state logic.
        rx_fire = Signal()
        byte = Signal(8)
        byte_is_sync = Signal()
        byte_is_zero = Signal()
        m.d.comb += rx.ready.eq(1)
        m.d.sync += [
            rx_fire.eq(rx.valid),
            byte.eq(rx.payload),
            byte_is_sync.eq(rx.payload == SYNC_COMMAND),
            byte_is_zero.eq(rx.payload == 0),
        ]

        # Receiving: the frame's length, word position and CRC; the inter-byte timer. The length
        # is kept as the index of the last word, so that loop ends compare without subtracting
        # (17 bits: an empty frame has -1, all ones).
        length_high = Signal(8)
        length_high_zero = Signal()
        length_last = Signal(17)
        last_word = Signal()
        index = Signal(16)
        byte_index = Signal(range(max(n_bytes, 2)))
        assembled = Signal(8 * n_bytes)
        crc = Signal(16, init=CRC_INIT)
        # The timer counts ticks of a prescaler that restarts with every byte: a narrow counter
        # instead of a wide one, so that no long carry chain feeds the frame's state.
        expired = Signal(init=1)
        ticks_left = Signal(range(self.timeout_ticks + 1))
        tick = Signal()
        if self.tick_shift:
            prescaler = Signal(self.tick_shift)
            m.d.sync += prescaler.eq(Mux(rx_fire, 0, prescaler + 1))
            m.d.comb += tick.eq(prescaler == (1 << self.tick_shift) - 1)
        else:
            m.d.comb += tick.eq(1)
        with m.If(rx_fire):
            m.d.sync += [ticks_left.eq(self.timeout_ticks), expired.eq(0)]
        with m.Elif(tick & ~expired):
            m.d.sync += ticks_left.eq(ticks_left - 1)
            with m.If(ticks_left == 1):
                m.d.sync += expired.eq(1)

        # The command's header: opcode and argument from word 0, the edge count from word 1.
        opcode = Signal(4)
        argument = Signal(shift)
        edges = Signal(width)
        known = Signal()
        top = (1 << shift) - 1
        expected = Signal(range(max(2 + top + (1 << width), 2 + top * config.layer_dims[0])))
        # The index of the command's last word.
        m.d.comb += known.eq(
            (opcode == Opcode.LOAD_WEIGHTS)
            | (opcode == Opcode.LOAD_GRAPH)
            | (opcode == Opcode.LOAD_FEATURES)
            | (opcode == Opcode.RUN)
            | (opcode == Opcode.IDENTIFY)
        )
        with m.Switch(opcode):
            with m.Case(Opcode.LOAD_WEIGHTS):
                m.d.comb += expected.eq(self.limits.weights_words - 1)
            with m.Case(Opcode.LOAD_GRAPH):
                m.d.comb += expected.eq(1 + argument + edges)
            with m.Case(Opcode.LOAD_FEATURES):
                m.d.comb += expected.eq(constant_product(argument, config.layer_dims[0]))
            with m.Default():
                m.d.comb += expected.eq(0)
        # The length checks, registered in two steps: the header and the length are complete
        # at least three clocks before CHECK (the two CRC bytes come in between). A length of
        # 0 (last index all ones) or past the buffer is out of range.
        expected_words = Signal.like(expected)
        length_bad = Signal()
        length_differs = Signal()
        opcode_known = Signal()
        m.d.sync += [
            expected_words.eq(expected),
            opcode_known.eq(known),
            length_bad.eq(length_last >= depth),
            length_differs.eq(length_last != expected_words),
            # Valid from the clock after a word's first byte; a word has two bytes or more.
            last_word.eq(index == length_last),
        ]

        # Replying: status byte, word count, the word being sent and the graph size of RUN.
        out_status = Signal(8)
        out_length = Signal(16)
        out_index = Signal(16)
        out_word = Signal(8 * n_bytes)
        graph_nodes = Signal(shift)
        # Loop ends of the reply, registered: the length is known three clocks or more before
        # its low byte goes out, and a word's index two clocks before its last byte.
        out_length_last = Signal(17)
        out_empty = Signal()
        out_final = Signal()
        m.d.sync += [
            out_length_last.eq(out_length - 1),
            out_empty.eq(out_length == 0),
            out_final.eq(out_index == out_length_last),
        ]
        # The word FORWARD offers is the command's last.
        forward_last = Signal()
        word_in = Signal(8 * n_bytes)
        m.d.comb += word_in.eq(Cat(byte, assembled[: 8 * (n_bytes - 1)]))

        m.d.comb += [read.addr.eq(index), write.addr.eq(index), write.data.eq(word_in[:width])]

        # The stream handshakes towards the core come straight from flip-flops: set on the
        # transition into FORWARD, AWAIT and FETCH, cleared with the last word taken.
        cmd_valid = Signal()
        reply_ready = Signal()
        m.d.comb += [self.cmd.valid.eq(cmd_valid), self.reply.ready.eq(reply_ready)]
        m.d.comb += self.cmd.payload.eq(read.data)

        # One CRC network for both directions: the byte received, or the byte being sent in
        # the states that send (a network for each sent value would take four times the LUTs).
        crc_byte = Signal(8)
        crc_after = Signal(16)
        m.d.comb += [crc_byte.eq(byte), crc_after.eq(crc16_next(crc, crc_byte))]

        def reject(code: LinkStatus) -> None:
            m.d.sync += [out_status.eq(code), out_length.eq(0)]
            m.next = "SEND_SYNC"

        def receive(next_state: str, *updates) -> None:
            """Take one byte into the CRC and go on, or end the frame on a timeout."""
            with m.If(rx_fire):
                m.d.sync += crc.eq(crc_after)
                m.d.sync += list(updates)
                m.next = next_state
            with m.Elif(expired):
                reject(LinkStatus.TIMEOUT)

        def send(value, next_state: str, *, update_crc: bool = True):
            m.d.comb += [tx.valid.eq(1), tx.payload.eq(value), crc_byte.eq(value)]
            with m.If(tx.ready):
                if update_crc:
                    m.d.sync += crc.eq(crc_after)
                m.next = next_state

        with m.FSM(name="link") as fsm:
            with m.State("HUNT"):
                # The frame's registers start over on every clock until a sync byte comes.
                m.d.sync += [
                    crc.eq(CRC_INIT),
                    index.eq(0),
                    byte_index.eq(0),
                    opcode.eq(0),
                    argument.eq(0),
                    edges.eq(0),
                ]
                with m.If(rx_fire & byte_is_sync):
                    m.next = "LENGTH_HIGH"

            with m.State("LENGTH_HIGH"):
                receive("LENGTH_LOW", length_high.eq(byte), length_high_zero.eq(byte_is_zero))

            with m.State("LENGTH_LOW"):
                m.d.sync += length_last.eq(Cat(byte, length_high) - 1)
                with m.If(rx_fire & length_high_zero & byte_is_zero):
                    m.d.sync += crc.eq(crc_after)
                    m.next = "CRC_HIGH"
                with m.Else():
                    receive("DATA")

            with m.State("DATA"):
                with m.If(rx_fire):
                    m.d.sync += [crc.eq(crc_after), assembled.eq(word_in)]
                    with m.If(byte_index == n_bytes - 1):
                        m.d.sync += [byte_index.eq(0), index.eq(index + 1)]
                        m.d.comb += write.en.eq(index < depth)
                        with m.If(last_word):
                            m.next = "CRC_HIGH"
                    with m.Else():
                        m.d.sync += byte_index.eq(byte_index + 1)
                    # Every byte of words 0 and 1 goes to the header; the word's last wins.
                    with m.If(index == 0):
                        m.d.sync += [
                            opcode.eq(word_in[shift:width]),
                            argument.eq(word_in[:shift]),
                        ]
                    with m.If(index == 1):
                        m.d.sync += edges.eq(word_in[:width])
                with m.Elif(expired):
                    reject(LinkStatus.TIMEOUT)

            with m.State("CRC_HIGH"):
                receive("CRC_LOW")

            with m.State("CRC_LOW"):
                receive("CHECK")

            with m.State("CHECK"):
                # The CRC bytes follow the data high byte first, so a good frame leaves 0.
                m.d.sync += [index.eq(0), forward_last.eq(length_last == 0)]
                m.d.comb += read.addr.eq(0)
                with m.If(crc != 0):
                    reject(LinkStatus.BAD_CRC)
                with m.Elif(length_bad):
                    reject(LinkStatus.BAD_LENGTH)
                with m.Elif(~opcode_known):
                    reject(LinkStatus.UNKNOWN_COMMAND)
                with m.Elif(length_differs):
                    reject(LinkStatus.BAD_LENGTH)
                with m.Else():
                    m.d.sync += cmd_valid.eq(1)
                    m.next = "FORWARD"  # the read port shows word 0 in the next cycle

            with m.State("FORWARD"):
                with m.If(self.cmd.ready):
                    m.d.comb += read.addr.eq(index + 1)
                    m.d.sync += [index.eq(index + 1), forward_last.eq(index + 1 == length_last)]
                    with m.If(forward_last):
                        m.d.sync += [cmd_valid.eq(0), reply_ready.eq(1)]
                        m.next = "AWAIT"

            with m.State("AWAIT"):
                # The status word: it says how many words the reply holds.
                m.d.sync += [out_index.eq(0), byte_index.eq(0)]
                with m.If(self.reply.valid):
                    m.d.sync += [out_word.eq(self.reply.payload), reply_ready.eq(0)]
                    m.next = "STATUS"

            with m.State("STATUS"):
                m.d.sync += out_status.eq(LinkStatus.OK)
                status_opcode = out_word[shift:width]
                status_ok = out_word[shift - 4 : shift] == 0
                with m.If(status_ok & (status_opcode == Opcode.RUN)):
                    m.d.sync += out_length.eq(4 + constant_product(graph_nodes, config.n_classes))
                with m.Elif(status_ok & (status_opcode == Opcode.IDENTIFY)):
                    m.d.sync += out_length.eq(3)
                with m.Else():
                    m.d.sync += out_length.eq(1)
                with m.If(status_opcode == Opcode.LOAD_GRAPH):
                    m.d.sync += graph_nodes.eq(Mux(status_ok, argument, 0))
                m.next = "SEND_SYNC"

            with m.State("SEND_SYNC"):
                send(SYNC_REPLY, "SEND_STATUS", update_crc=False)
                m.d.sync += crc.eq(CRC_INIT)

            with m.State("SEND_STATUS"):
                send(out_status, "SEND_LENGTH_HIGH")

            with m.State("SEND_LENGTH_HIGH"):
                send(out_length[8:], "SEND_LENGTH_LOW")

            with m.State("SEND_LENGTH_LOW"):
                send(out_length[:8], "SEND_WORD")
                with m.If(tx.ready & out_empty):
                    m.next = "SEND_CRC_HIGH"

            with m.State("SEND_WORD"):
                send(out_word[8 * (n_bytes - 1) :], "SEND_WORD")
                with m.If(tx.ready):
                    m.d.sync += out_word.eq(out_word << 8)
                    with m.If(byte_index == n_bytes - 1):
                        m.d.sync += [byte_index.eq(0), out_index.eq(out_index + 1)]
                        with m.If(out_final):
                            m.next = "SEND_CRC_HIGH"
                        with m.Else():
                            m.d.sync += reply_ready.eq(1)
                            m.next = "FETCH"
                    with m.Else():
                        m.d.sync += byte_index.eq(byte_index + 1)

            with m.State("FETCH"):
                with m.If(self.reply.valid):
                    m.d.sync += [out_word.eq(self.reply.payload), reply_ready.eq(0)]
                    m.next = "SEND_WORD"

            with m.State("SEND_CRC_HIGH"):
                send(crc[8:], "SEND_CRC_LOW", update_crc=False)

            with m.State("SEND_CRC_LOW"):
                send(crc[:8], "HUNT", update_crc=False)

        # Bytes that arrive while a frame is executed or answered are dropped.
        receiving = Signal()
        m.d.comb += receiving.eq(
            reduce(
                operator.or_,
                [fsm.ongoing(name) for name in ("HUNT", "LENGTH_HIGH", "LENGTH_LOW", "DATA")]
                + [fsm.ongoing("CRC_HIGH"), fsm.ongoing("CRC_LOW")],
            )
        )
        with m.If(rx_fire & ~receiving):
            m.d.sync += self.dropped.eq(1)

        return m


def write_board_verilog(
    config: CoreConfig,
    path,
    divisor: int,
    timeout: int,
    name: str = "spikegnn_board",
    family: str = "ice40",
):
    """Write the Verilog of :class:`hdl.boards.UARTCore` (core, link, UART; no PLL) to ``path``.

    Simulations of the board use it with a small ``divisor`` and ``timeout``. The core is built
    as the boards of ``family`` (``"ice40"`` or ``"ecp5"``) build it. Returns the path.
    """
    from pathlib import Path

    from amaranth.back import verilog

    from .boards import UARTCore, core_style

    style = core_style(family)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"// {name}: spikegnn board top without PLL, UART divisor {divisor}, "
        f"link timeout {timeout} cycles, config hash {config.config_hash:#06x}, "
        f"core of the {family} boards\n"
    )
    top = UARTCore(config, divisor, timeout, **style)
    text = header + verilog.convert(top, name=name, emit_src=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path

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

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "FrameLink",
    "crc16_next",
    "timeout_cycles",
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


def _times(value, factor: int):
    """``value * factor`` for a constant ``factor`` as shifted adds (no multiplier inferred)."""
    terms = [value << bit for bit in range(factor.bit_length()) if factor >> bit & 1]
    return reduce(operator.add, terms, Const(0, 1))


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
        ``TIMEOUT``.

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
    """

    def __init__(self, config: CoreConfig, timeout: int):
        self._MustUse__silence = True  # no "never elaborated" warning if the arguments fail
        if timeout < 1:
            raise ValueError(f"timeout must be at least 1 clock cycle, not {timeout}.")
        self.config = config
        self.timeout = int(timeout)
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
        rx_fire = Signal()
        m.d.comb += [rx.ready.eq(1), rx_fire.eq(rx.valid)]
        byte = rx.payload

        # Receiving: the frame's length, word position and CRC; the inter-byte timer.
        length = Signal(16)
        index = Signal(16)
        byte_index = Signal(range(max(n_bytes, 2)))
        assembled = Signal(8 * n_bytes)
        crc = Signal(16, init=CRC_INIT)
        timer = Signal(range(self.timeout + 1))
        with m.If(rx_fire):
            m.d.sync += timer.eq(self.timeout)
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        # The command's header: opcode and argument from word 0, the edge count from word 1.
        opcode = Signal(4)
        argument = Signal(shift)
        edges = Signal(width)
        known = Signal()
        top = (1 << shift) - 1
        expected = Signal(range(max(2 + top + (1 << width), 2 + top * config.layer_dims[0])))
        m.d.comb += known.eq(
            (opcode == Opcode.LOAD_WEIGHTS)
            | (opcode == Opcode.LOAD_GRAPH)
            | (opcode == Opcode.LOAD_FEATURES)
            | (opcode == Opcode.RUN)
            | (opcode == Opcode.IDENTIFY)
        )
        with m.Switch(opcode):
            with m.Case(Opcode.LOAD_WEIGHTS):
                m.d.comb += expected.eq(self.limits.weights_words)
            with m.Case(Opcode.LOAD_GRAPH):
                m.d.comb += expected.eq(2 + argument + edges)
            with m.Case(Opcode.LOAD_FEATURES):
                m.d.comb += expected.eq(1 + _times(argument, config.layer_dims[0]))
            with m.Default():
                m.d.comb += expected.eq(1)

        # Replying: status byte, word count, the word being sent and the graph size of RUN.
        out_status = Signal(8)
        out_length = Signal(16)
        out_index = Signal(16)
        out_word = Signal(8 * n_bytes)
        graph_nodes = Signal(shift)
        word_in = Signal(8 * n_bytes)
        m.d.comb += word_in.eq(Cat(byte, assembled[: 8 * (n_bytes - 1)]))

        m.d.comb += [read.addr.eq(index), write.addr.eq(index), write.data.eq(word_in[:width])]

        def reject(code: LinkStatus) -> None:
            m.d.sync += [out_status.eq(code), out_length.eq(0)]
            m.next = "SEND_SYNC"

        def receive(next_state: str, *updates) -> None:
            """Take one byte into the CRC and go on, or end the frame on a timeout."""
            with m.If(rx_fire):
                m.d.sync += crc.eq(crc16_next(crc, byte))
                m.d.sync += list(updates)
                m.next = next_state
            with m.Elif(timer == 0):
                reject(LinkStatus.TIMEOUT)

        def send(value, next_state: str, *, update_crc: bool = True):
            m.d.comb += [tx.valid.eq(1), tx.payload.eq(value)]
            with m.If(tx.ready):
                if update_crc:
                    m.d.sync += crc.eq(crc16_next(crc, value))
                m.next = next_state

        with m.FSM(name="link") as fsm:
            with m.State("HUNT"):
                with m.If(rx_fire & (byte == SYNC_COMMAND)):
                    m.d.sync += [
                        crc.eq(CRC_INIT),
                        index.eq(0),
                        byte_index.eq(0),
                        opcode.eq(0),
                        argument.eq(0),
                        edges.eq(0),
                    ]
                    m.next = "LENGTH_HIGH"

            with m.State("LENGTH_HIGH"):
                receive("LENGTH_LOW", length[8:].eq(byte))

            with m.State("LENGTH_LOW"):
                with m.If(rx_fire & (length[8:] == 0) & (byte == 0)):
                    m.d.sync += [crc.eq(crc16_next(crc, byte)), length.eq(0)]
                    m.next = "CRC_HIGH"
                with m.Else():
                    receive("DATA", length[:8].eq(byte))

            with m.State("DATA"):
                with m.If(rx_fire):
                    m.d.sync += [crc.eq(crc16_next(crc, byte)), assembled.eq(word_in)]
                    with m.If(byte_index == n_bytes - 1):
                        m.d.sync += [byte_index.eq(0), index.eq(index + 1)]
                        m.d.comb += write.en.eq(index < depth)
                        with m.If(index == 0):
                            m.d.sync += [
                                opcode.eq(word_in[shift:width]),
                                argument.eq(word_in[:shift]),
                            ]
                        with m.If(index == 1):
                            m.d.sync += edges.eq(word_in[:width])
                        with m.If(index == length - 1):
                            m.next = "CRC_HIGH"
                    with m.Else():
                        m.d.sync += byte_index.eq(byte_index + 1)
                with m.Elif(timer == 0):
                    reject(LinkStatus.TIMEOUT)

            with m.State("CRC_HIGH"):
                receive("CRC_LOW")

            with m.State("CRC_LOW"):
                receive("CHECK")

            with m.State("CHECK"):
                # The CRC bytes follow the data high byte first, so a good frame leaves 0.
                m.d.sync += index.eq(0)
                m.d.comb += read.addr.eq(0)
                with m.If(crc != 0):
                    reject(LinkStatus.BAD_CRC)
                with m.Elif((length == 0) | (length > depth)):
                    reject(LinkStatus.BAD_LENGTH)
                with m.Elif(~known):
                    reject(LinkStatus.UNKNOWN_COMMAND)
                with m.Elif(length != expected):
                    reject(LinkStatus.BAD_LENGTH)
                with m.Else():
                    m.next = "FORWARD"  # the read port shows word 0 in the next cycle

            with m.State("FORWARD"):
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(read.data)]
                with m.If(self.cmd.ready):
                    m.d.comb += read.addr.eq(index + 1)
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == length - 1):
                        m.next = "AWAIT"

            with m.State("AWAIT"):
                # The status word: it says how many words the reply holds.
                m.d.comb += self.reply.ready.eq(1)
                status_opcode = self.reply.payload[shift:width]
                status_ok = self.reply.payload[shift - 4 : shift] == 0
                with m.If(self.reply.valid):
                    m.d.sync += [
                        out_status.eq(LinkStatus.OK),
                        out_word.eq(self.reply.payload),
                        out_index.eq(0),
                        byte_index.eq(0),
                    ]
                    with m.If(status_ok & (status_opcode == Opcode.RUN)):
                        m.d.sync += out_length.eq(4 + _times(graph_nodes, config.n_classes))
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
                with m.If(tx.ready & (out_length == 0)):
                    m.next = "SEND_CRC_HIGH"

            with m.State("SEND_WORD"):
                send(out_word[8 * (n_bytes - 1) :], "SEND_WORD")
                with m.If(tx.ready):
                    m.d.sync += out_word.eq(out_word << 8)
                    with m.If(byte_index == n_bytes - 1):
                        m.d.sync += [byte_index.eq(0), out_index.eq(out_index + 1)]
                        with m.If(out_index == out_length - 1):
                            m.next = "SEND_CRC_HIGH"
                        with m.Else():
                            m.next = "FETCH"
                    with m.Else():
                        m.d.sync += byte_index.eq(byte_index + 1)

            with m.State("FETCH"):
                m.d.comb += self.reply.ready.eq(1)
                with m.If(self.reply.valid):
                    m.d.sync += out_word.eq(self.reply.payload)
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
    config: CoreConfig, path, divisor: int, timeout: int, name: str = "spikegnn_board"
):
    """Write the Verilog of :class:`hdl.boards.UARTCore` (core, link, UART; no PLL) to ``path``.

    Simulations of the board use it with a small ``divisor`` and ``timeout``. Returns the path.
    """
    from pathlib import Path

    from amaranth.back import verilog

    from .boards import UARTCore

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"// {name}: spikegnn board top without PLL, UART divisor {divisor}, "
        f"link timeout {timeout} cycles, config hash {config.config_hash:#06x}\n"
    )
    text = header + verilog.convert(UARTCore(config, divisor, timeout), name=name, emit_src=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path

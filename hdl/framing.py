"""Numbers of the framed host link, shared by the gateware (:mod:`hdl.link`) and the host codec
(:mod:`sim.link`): sync bytes, link status codes, the CRC and the frame-size limits.

``docs/protocol.md`` describes the frames.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from golden.config import CoreConfig

from .commands import Opcode

__all__ = [
    "CRC_INIT",
    "CRC_POLY",
    "LENGTH_BYTES",
    "SYNC_COMMAND",
    "SYNC_REPLY",
    "FrameLimits",
    "LinkStatus",
    "command_length",
    "crc16",
    "crc16_update",
    "frame_limits",
    "word_bytes",
]

#: First byte of every frame from the host to the board.
SYNC_COMMAND = 0xA5
#: First byte of every frame from the board to the host.
SYNC_REPLY = 0x5A
#: Bytes of the length field (payload words, most significant byte first).
LENGTH_BYTES = 2

#: CRC-16/CCITT-FALSE (also called CRC-16/IBM-3740): polynomial x^16 + x^12 + x^5 + 1, not
#: reflected, no final XOR; ``crc16(b"123456789") == 0x29B1``.
CRC_POLY = 0x1021
#: Value of the CRC register before the first byte of a frame.
CRC_INIT = 0xFFFF


class LinkStatus(enum.IntEnum):
    """Second byte of a reply frame: 0 when the frame carries the core's reply, else why the
    link rejected the host's frame (nothing reached the core then)."""

    OK = 0
    BAD_CRC = 1
    TIMEOUT = 2
    BAD_LENGTH = 3
    UNKNOWN_COMMAND = 4


def crc16_update(crc: int, byte: int) -> int:
    """Return the CRC register after one more byte, most significant bit first."""
    crc ^= (byte & 0xFF) << 8
    for _ in range(8):
        crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """Return the CRC of ``data``; appending it, high byte first, makes the CRC of the whole 0."""
    for byte in data:
        crc = crc16_update(crc, byte)
    return crc


def word_bytes(config: CoreConfig) -> int:
    """Bytes a word takes on the line: ``ceil(word_width / 8)``, most significant byte first."""
    return -(-config.word_width // 8)


@dataclass(frozen=True)
class FrameLimits:
    """Sizes of the frames a configuration allows.

    Attributes
    ----------
    buffer_words : int
        Depth of the link's frame buffer: the longest command the core can accept in full
        (``LOAD_WEIGHTS``, a ``LOAD_GRAPH`` of ``max_nodes`` nodes and ``max_edges`` edges, or a
        ``LOAD_FEATURES`` of ``max_nodes`` nodes). Longer frames are refused.
    weights_words : int
        Words of a ``LOAD_WEIGHTS`` command, the command word included.
    max_reply_words : int
        Longest reply: the status, ``max_nodes * n_classes`` spike counts, class and cycles.
    """

    buffer_words: int
    weights_words: int
    max_reply_words: int


def frame_limits(config: CoreConfig) -> FrameLimits:
    """Return the frame sizes of ``config``."""
    dims = config.layer_dims
    weights = 1 + sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True)) + dims[-1]
    graph = 2 + config.max_nodes + config.max_edges
    features = 1 + config.max_nodes * dims[0]
    return FrameLimits(
        buffer_words=max(weights, graph, features),
        weights_words=weights,
        max_reply_words=4 + config.max_nodes * config.n_classes,
    )


def command_length(config: CoreConfig, words) -> int | None:
    """Words a command announces by its own header, or None for an unknown opcode.

    Parameters
    ----------
    config : CoreConfig
    words : sequence of int
        The command's words; only the first (opcode and ``N``) and, for ``LOAD_GRAPH``, the
        second (``E``, taken as 0 when absent) are read.
    """
    if not len(words):
        return None
    shift = config.word_width - 4
    opcode, argument = int(words[0]) >> shift, int(words[0]) & ((1 << shift) - 1)
    if opcode == Opcode.LOAD_WEIGHTS:
        return frame_limits(config).weights_words
    if opcode == Opcode.LOAD_GRAPH:
        edges = int(words[1]) if len(words) > 1 else 0
        return 2 + argument + edges
    if opcode == Opcode.LOAD_FEATURES:
        return 1 + argument * config.layer_dims[0]
    if opcode in (Opcode.RUN, Opcode.IDENTIFY):
        return 1
    return None

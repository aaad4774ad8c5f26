"""Host side of the framed link (``docs/protocol.md``): command frames from the word encoders of
:mod:`sim.protocol`, and a byte-by-byte decoder of the board's reply frames.

Pure Python, shared by the host driver (:mod:`sim.host`), the board testbench and the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from golden.config import CoreConfig
from hdl.framing import (
    CRC_INIT,
    LENGTH_BYTES,
    SYNC_COMMAND,
    SYNC_REPLY,
    LinkStatus,
    command_length,
    crc16,
    crc16_update,
    frame_limits,
    word_bytes,
)

from .protocol import IdentifyReply, ProtocolError, ReplyDecoder, RunReply, StatusReply

__all__ = [
    "FrameError",
    "LinkErrorReply",
    "LinkStatus",
    "ReplyFrame",
    "ReplyFrameDecoder",
    "decode_reply",
    "encode_frame",
    "encode_raw_frame",
    "reply_frame",
]

logger = logging.getLogger(__name__)


class FrameError(ProtocolError):
    """The board sent bytes that do not form a valid reply frame."""


@dataclass(frozen=True)
class ReplyFrame:
    """One reply frame from the board.

    Attributes
    ----------
    status : int
        A :class:`~hdl.framing.LinkStatus`: OK when ``words`` is the core's reply, else why the
        link refused the host's frame (``words`` is empty then).
    words : list of int
        The core's reply words.
    skipped : int
        Bytes that came before the frame's sync byte and were skipped.
    """

    status: int
    words: list = field(default_factory=list)
    skipped: int = 0


@dataclass(frozen=True)
class LinkErrorReply:
    """The link refused a frame; nothing reached the core.

    Attributes
    ----------
    status : LinkStatus
    """

    status: LinkStatus
    ok = False

    def describe(self) -> str:
        """One sentence saying why the frame was refused."""
        return _LINK_ERRORS.get(self.status, f"link status {int(self.status)}")


_LINK_ERRORS = {
    LinkStatus.BAD_CRC: "the board received the frame with a bad CRC",
    LinkStatus.TIMEOUT: "the frame stopped before its end (inter-byte timeout on the board)",
    LinkStatus.BAD_LENGTH: (
        "the frame's length is 0, above the board's frame buffer, or not the word count the "
        "command announces"
    ),
    LinkStatus.UNKNOWN_COMMAND: "the frame's first word carries an unknown opcode",
}


def _word_to_bytes(config: CoreConfig, word: int) -> bytes:
    word = int(word)
    if not 0 <= word < 1 << config.word_width:
        raise ValueError(
            f"word {word} does not fit {config.word_width} bits (0 to "
            f"{(1 << config.word_width) - 1})."
        )
    return word.to_bytes(word_bytes(config), "big")


def encode_raw_frame(config: CoreConfig, words: Sequence[int], length: int | None = None) -> bytes:
    """Frame words without checking them: sync, length (``len(words)`` or ``length``), words, CRC.

    Tests use it to send frames the board must refuse.

    Raises
    ------
    ValueError
        If a word or the length does not fit its field.
    """
    length = len(words) if length is None else int(length)
    if not 0 <= length < 1 << (8 * LENGTH_BYTES):
        raise ValueError(f"a frame length must be from 0 to 65535 words, but it is {length}.")
    body = length.to_bytes(LENGTH_BYTES, "big") + b"".join(_word_to_bytes(config, w) for w in words)
    return bytes([SYNC_COMMAND]) + body + crc16(body).to_bytes(2, "big")


def encode_frame(config: CoreConfig, words: Sequence[int]) -> bytes:
    """Frame one command's words (as the encoders of :mod:`sim.protocol` return them).

    Raises
    ------
    ValueError
        If the words are not exactly one command the board accepts: an unknown opcode, a word
        count other than the one the command announces, or more words than the board's frame
        buffer holds.
    """
    words = [int(w) for w in words]
    expected = command_length(config, words)
    if expected is None:
        opcode = words[0] >> (config.word_width - 4) if words else None
        raise ValueError(
            f"a frame must hold one command; its first word's opcode {opcode} is not one of the "
            "core's commands."
        )
    if len(words) != expected:
        raise ValueError(
            f"the command announces {expected} words but {len(words)} were given; a frame "
            "holds exactly one command."
        )
    limit = frame_limits(config).buffer_words
    if len(words) > limit:
        raise ValueError(
            f"the command takes {len(words)} words, more than the board's frame buffer of "
            f"{limit} words (max_nodes {config.max_nodes}, max_edges {config.max_edges})."
        )
    return encode_raw_frame(config, words)


def reply_frame(config: CoreConfig, status: int, words: Sequence[int] = ()) -> bytes:
    """The bytes of a reply frame, as the board sends them (for tests and board models)."""
    body = bytes([int(status)]) + len(words).to_bytes(LENGTH_BYTES, "big")
    body += b"".join(_word_to_bytes(config, w) for w in words)
    return bytes([SYNC_REPLY]) + body + crc16(body).to_bytes(2, "big")


class ReplyFrameDecoder:
    """Assemble reply frames from the board's bytes, one byte at a time.

    Bytes before a sync byte are skipped (and counted). A frame whose CRC is wrong raises
    :class:`FrameError`; the decoder then hunts for the next sync byte.

    Parameters
    ----------
    config : CoreConfig
        Supplies the word width.
    """

    def __init__(self, config: CoreConfig):
        self.config = config
        self._bytes_per_word = word_bytes(config)
        self._limit = frame_limits(config).max_reply_words
        self.reset()

    def reset(self) -> None:
        """Forget any partial frame."""
        self._state = "hunt"
        self._skipped = 0
        self._body = bytearray()
        self._need = 0
        self._crc = CRC_INIT

    @property
    def in_frame(self) -> bool:
        """Whether part of a frame has been received."""
        return self._state != "hunt"

    def feed(self, byte: int) -> ReplyFrame | None:
        """Take one byte; return the frame it completes, if any.

        Raises
        ------
        FrameError
            If a frame's CRC is wrong or its length exceeds the longest reply.
        """
        byte = int(byte) & 0xFF
        if self._state == "hunt":
            if byte == SYNC_REPLY:
                self._state, self._body, self._crc = "header", bytearray(), CRC_INIT
            else:
                self._skipped += 1
            return None
        self._body.append(byte)
        self._crc = crc16_update(self._crc, byte)
        if self._state == "header" and len(self._body) == 1 + LENGTH_BYTES:
            words = int.from_bytes(self._body[1:], "big")
            if words > self._limit:
                self._fail(
                    f"a reply frame announces {words} words, more than the longest reply of "
                    f"{self._limit} words"
                )
            self._need = 1 + LENGTH_BYTES + words * self._bytes_per_word + 2
            self._state = "body"
        elif self._state == "body" and len(self._body) == self._need:
            return self._finish()
        return None

    def feed_many(self, data: Iterable[int]) -> list[ReplyFrame]:
        """Feed several bytes; return the frames they complete."""
        frames = []
        for byte in data:
            frame = self.feed(byte)
            if frame is not None:
                frames.append(frame)
        return frames

    def _fail(self, message: str) -> None:
        body = bytes(self._body)
        self.reset()
        raise FrameError(f"{message} (frame bytes {body[:16].hex(' ')}).")

    def _finish(self) -> ReplyFrame:
        if self._crc != 0:
            self._fail("a reply frame from the board has a bad CRC")
        body, skipped = bytes(self._body), self._skipped
        n = self._bytes_per_word
        payload = body[1 + LENGTH_BYTES : -2]
        words = [int.from_bytes(payload[i : i + n], "big") for i in range(0, len(payload), n)]
        self.reset()
        return ReplyFrame(body[0], words, skipped)


def decode_reply(
    config: CoreConfig, frame: ReplyFrame, opcode: int, n_nodes: int | None = None
) -> StatusReply | RunReply | IdentifyReply | LinkErrorReply:
    """The reply a frame carries for a command with ``opcode``.

    Parameters
    ----------
    config : CoreConfig
    frame : ReplyFrame
    opcode : int
        The opcode of the command the frame answers.
    n_nodes : int, optional
        Node count of the graph the core holds, needed to split a ``RUN`` result.

    Raises
    ------
    ProtocolError
        If the link status is unknown, or the words are not exactly one reply to ``opcode``.
    """
    if frame.status != LinkStatus.OK:
        try:
            status = LinkStatus(frame.status)
        except ValueError:
            raise ProtocolError(
                f"a reply frame carries unknown link status {frame.status}."
            ) from None
        if frame.words:
            raise ProtocolError(
                f"a link error frame ({status.name}) carries {len(frame.words)} words; it must "
                "carry none."
            )
        return LinkErrorReply(status)
    decoder = ReplyDecoder(config)
    decoder.expect(opcode, n_nodes)
    replies = decoder.feed_many(frame.words)
    if len(replies) != 1 or not decoder.idle:
        raise ProtocolError(
            f"a reply frame of {len(frame.words)} words does not hold exactly one reply to "
            f"opcode {int(opcode):#x}."
        )
    return replies[0]

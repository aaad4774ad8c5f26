"""Host driver of a board over its serial port: framed commands out, reply frames in
(``docs/protocol.md``), with timeouts, retries of garbled frames and a configuration check.

``spikegnn run`` uses it; so can any Python program with a board on a USB serial port.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import serial

from golden.config import CoreConfig
from golden.fixed import quantize_features
from golden.validate import as_adjacency
from hdl.boards import DEFAULT_BAUD
from hdl.commands import DESIGN_VERSION
from hdl.framing import LinkStatus, frame_limits

from .link import FrameError, LinkErrorReply, ReplyFrameDecoder, decode_reply, encode_frame
from .protocol import (
    IdentifyReply,
    Opcode,
    ProtocolError,
    RunReply,
    Status,
    StatusReply,
    encode_identify,
    encode_load_features,
    encode_load_graph,
    encode_load_weights,
    encode_run,
)

__all__ = [
    "BoardError",
    "BoardNotFoundError",
    "BoardTimeoutError",
    "ConfigMismatchError",
    "InferenceResult",
    "SpikeGNNBoard",
]

logger = logging.getLogger(__name__)

#: Link errors worth sending the frame again for: the line garbled or cut it.
RETRIED = (LinkStatus.BAD_CRC, LinkStatus.TIMEOUT)


class BoardError(RuntimeError):
    """The board refused a command, answered nonsense or could not be reached."""


class BoardNotFoundError(BoardError):
    """The serial port cannot be opened."""


class BoardTimeoutError(BoardError):
    """The board did not answer in time."""


class ConfigMismatchError(BoardError):
    """The board's configuration hash differs from the host's configuration."""


@dataclass(frozen=True, eq=False)
class InferenceResult:
    """What the board answered to one ``RUN``.

    Attributes
    ----------
    klass : int
        The graph's class.
    counts : ndarray of shape (N, C)
        The last layer's spike counts, node by node.
    cycles : int
        Clock cycles of the inference.
    """

    klass: int
    counts: np.ndarray
    cycles: int

    @property
    def class_counts(self) -> np.ndarray:
        """Spike counts summed over the nodes, one per class (the class is their argmax)."""
        return self.counts.sum(axis=0)


class SpikeGNNBoard:
    """A board running the spike GNN core behind its framed UART link.

    Parameters
    ----------
    port : str
        Serial port, such as ``/dev/ttyUSB1`` (the iCEBreaker's second FTDI channel).
    config : CoreConfig
        The configuration the host encodes for; :meth:`open` checks the board was built for it.
    baud : int
        Bit rate of the board's UART.
    timeout : float
        Seconds to wait for a reply beyond the time its bytes take on the line.
    retries : int
        How many times a frame the board received garbled (bad CRC, cut short) is sent again.
    serial_factory : callable, optional
        Returns an open serial-port object (``read``, ``write``, ``reset_input_buffer``,
        ``close``); by default :class:`serial.Serial` on ``port``. Tests pass a board model.

    Examples
    --------
    >>> with SpikeGNNBoard("/dev/ttyUSB1", weights.config) as board:  # doctest: +SKIP
    ...     board.load_weights(weights.weights_q, weights.class_bias)
    ...     result = board.infer(adjacency, features)
    """

    def __init__(
        self,
        port: str,
        config: CoreConfig,
        *,
        baud: int = DEFAULT_BAUD,
        timeout: float = 2.0,
        retries: int = 2,
        serial_factory=None,
    ):
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout}.")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries}.")
        self.port = port
        self.config = config
        self.baud = baud
        self.timeout = timeout
        self.retries = retries
        self._factory = serial_factory
        self._serial = None
        self._decoder = ReplyFrameDecoder(config)
        self.n_nodes: int | None = None
        self.identity: IdentifyReply | None = None

    # -- the port ----------------------------------------------------------------------

    def open(self, check: bool = True) -> SpikeGNNBoard:
        """Open the port and, with ``check``, identify the board and compare its hash.

        Raises
        ------
        BoardNotFoundError
            If the port cannot be opened.
        BoardTimeoutError
            If the board does not answer ``IDENTIFY``.
        ConfigMismatchError
            If the board was built for another configuration.
        """
        if self._serial is None:
            try:
                if self._factory is not None:
                    self._serial = self._factory()
                else:
                    self._serial = serial.Serial(self.port, self.baud, timeout=0.05)
            except (serial.SerialException, OSError) as error:
                raise BoardNotFoundError(
                    f"cannot open the serial port {self.port!r} ({error}); check that the board "
                    "is plugged in and that --port names its UART (the iCEBreaker's is the "
                    "FTDI's second channel, often /dev/ttyUSB1)."
                ) from None
        if check:
            self.check_identity()
        return self

    def close(self) -> None:
        """Close the port."""
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def __enter__(self) -> SpikeGNNBoard:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------

    def request(self, words, opcode: int, n_nodes: int | None = None):
        """Send one command's words in a frame and return the decoded reply.

        A frame the board received garbled is sent again, up to :attr:`retries` times.

        Raises
        ------
        BoardError
            If the port is not open, the board refuses the frame or answers nonsense.
        BoardTimeoutError
            If no reply frame arrives in time.
        """
        if self._serial is None:
            raise BoardError(f"the port {self.port!r} is not open; call open() first.")
        frame = encode_frame(self.config, words)
        for attempt in range(self.retries + 1):
            reply = self._exchange(frame, opcode, n_nodes)
            if not isinstance(reply, LinkErrorReply):
                return reply
            if reply.status not in RETRIED or attempt == self.retries:
                raise BoardError(
                    f"the board refused the {_name(opcode)} frame: {reply.describe()} "
                    f"(link status {reply.status.name})."
                )
            logger.warning("%s: %s; sending it again", _name(opcode), reply.describe())
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, frame: bytes, opcode: int, n_nodes: int | None):
        port = self._serial
        port.reset_input_buffer()
        self._decoder.reset()
        port.write(frame)
        reply_bytes = 6 + 4 * frame_limits(self.config).max_reply_words
        wait = self.timeout + 10 * (len(frame) + reply_bytes) / self.baud
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            data = port.read(max(1, getattr(port, "in_waiting", 0) or 1))
            for byte in data:
                try:
                    got = self._decoder.feed(byte)
                except FrameError as error:
                    raise BoardError(f"the board's reply to {_name(opcode)}: {error}") from None
                if got is not None:
                    try:
                        return decode_reply(self.config, got, opcode, n_nodes)
                    except ProtocolError as error:
                        raise BoardError(
                            f"the board's reply to {_name(opcode)} is not valid: {error}"
                        ) from None
        raise BoardTimeoutError(
            f"the board on {self.port} did not answer {_name(opcode)} within {wait:.1f} s; "
            f"check the bitstream is loaded, the bit rate is {self.baud} and the port is the "
            "board's UART."
        )

    def _status(self, words, opcode: int) -> None:
        reply = self.request(words, opcode)
        if not isinstance(reply, StatusReply) or not reply.ok:
            raise BoardError(f"the board refused {_name(opcode)}: {_describe(reply)}.")

    # -- commands ----------------------------------------------------------------------

    def identify(self) -> IdentifyReply:
        """Ask the board for its configuration hash and design version."""
        reply = self.request(encode_identify(self.config), Opcode.IDENTIFY)
        if not isinstance(reply, IdentifyReply):
            raise BoardError(f"the board refused IDENTIFY: {_describe(reply)}.")
        self.identity = reply
        return reply

    def check_identity(self) -> IdentifyReply:
        """Identify the board and check it was built for the host's configuration.

        Raises
        ------
        ConfigMismatchError
            If the configuration hash or the design version differs.
        """
        reply = self.identify()
        if reply.config_hash != self.config.config_hash:
            raise ConfigMismatchError(
                f"the board's configuration hash is {reply.config_hash:#06x} but the host's "
                f"configuration gives {self.config.config_hash:#06x}; program the bitstream "
                "built for this configuration, or use the weights file trained for the board's."
            )
        if reply.version != DESIGN_VERSION:
            raise ConfigMismatchError(
                f"the board runs design version {reply.version:#06x} but the host speaks "
                f"{DESIGN_VERSION:#06x}; rebuild the bitstream from this source tree."
            )
        return reply

    def load_weights(self, weights_q, class_bias=None) -> None:
        """Load quantised weights, one ``(out, in)`` integer matrix a layer, and the readout's
        class bias (one integer a class, default zeros)."""
        words = encode_load_weights(self.config, weights_q, class_bias)
        self._status(words, Opcode.LOAD_WEIGHTS)

    def load_graph(self, adjacency) -> None:
        """Load a dense 0/1 adjacency (row ``n`` lists node ``n``'s neighbours)."""
        matrix = as_adjacency(adjacency, binary=True, max_nodes=self.config.max_nodes)
        self.n_nodes = None
        self._status(encode_load_graph(self.config, matrix), Opcode.LOAD_GRAPH)
        self.n_nodes = matrix.shape[0]

    def load_features(self, features) -> None:
        """Load node features in [0, 1], quantised as the golden model does."""
        features_q = quantize_features(np.asarray(features, dtype=np.float64), self.config)
        self._status(encode_load_features(self.config, features_q), Opcode.LOAD_FEATURES)

    def run(self) -> InferenceResult:
        """Run the loaded graph; return its class, spike counts and cycle count."""
        if self.n_nodes is None:
            raise BoardError("load a graph before RUN; the board holds none the host knows of.")
        reply = self.request(encode_run(self.config), Opcode.RUN, self.n_nodes)
        if not isinstance(reply, RunReply):
            raise BoardError(f"the board refused RUN: {_describe(reply)}.")
        return InferenceResult(reply.klass, reply.counts, reply.cycles)

    def infer(self, adjacency, features) -> InferenceResult:
        """Load a graph and its features, run it and return the result."""
        self.load_graph(adjacency)
        self.load_features(features)
        return self.run()


def _name(opcode: int) -> str:
    try:
        return Opcode(opcode).name
    except ValueError:
        return f"opcode {int(opcode):#x}"


def _describe(reply) -> str:
    if isinstance(reply, StatusReply):
        try:
            status = Status(reply.code).name
        except ValueError:
            status = str(reply.code)
        return f"status {status} ({reply.code})"
    return repr(reply)

"""Host side of the core's word protocol (``docs/protocol.md``): encoders and a reply decoder.

Pure Python and NumPy, so the cocotb testbench, a host program and the unit tests share it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from golden.config import CoreConfig
from golden.fixed import check_class_bias
from golden.validate import as_adjacency, describe
from hdl.commands import Opcode, Status, opcode_shift, status_shift

__all__ = [
    "HostSession",
    "IdentifyReply",
    "Opcode",
    "ProtocolError",
    "ReplyDecoder",
    "RunReply",
    "Status",
    "StatusReply",
    "adjacency_to_csr",
    "command_word",
    "encode_identify",
    "encode_inference",
    "encode_load_features",
    "encode_load_graph",
    "encode_load_graph_csr",
    "encode_load_weights",
    "encode_run",
    "graph_status",
    "status_word",
]

logger = logging.getLogger(__name__)


class ProtocolError(RuntimeError):
    """The core sent a word that the protocol does not allow at that point."""


# --------------------------------------------------------------------------------------------
# Words


def _opcode_shift(config: CoreConfig) -> int:
    return opcode_shift(config.word_width)


def _word_mask(config: CoreConfig) -> int:
    return (1 << config.word_width) - 1


def command_word(config: CoreConfig, opcode: int, argument: int = 0) -> int:
    """Return a command word: the opcode in the top 4 bits, the argument below.

    Parameters
    ----------
    config : CoreConfig
        Supplies ``word_width``.
    opcode : int
        0 to 15; values that are not an :class:`Opcode` are allowed, to test the core's answer.
    argument : int
        0 to ``2**(word_width - 4) - 1``.

    Raises
    ------
    ValueError
        If the opcode or the argument does not fit its field.
    """
    if not 0 <= int(opcode) <= 15:
        raise ValueError(f"opcode must be from 0 to 15, but it is {opcode}.")
    limit = (1 << _opcode_shift(config)) - 1
    if not 0 <= int(argument) <= limit:
        raise ValueError(
            f"a command argument must be from 0 to {limit} ({_opcode_shift(config)} bits), "
            f"but it is {argument}."
        )
    return (int(opcode) << _opcode_shift(config)) | int(argument)


def status_word(config: CoreConfig, opcode: int, code: int) -> int:
    """Return the status word the core sends for ``opcode`` with status ``code``."""
    return (int(opcode) << _opcode_shift(config)) | (int(code) << status_shift(config.word_width))


def _data_word(config: CoreConfig, name: str, value: int) -> int:
    value = int(value)
    if not 0 <= value <= _word_mask(config):
        raise ValueError(
            f"{name} = {value} does not fit a {config.word_width}-bit data word "
            f"(0 to {_word_mask(config)})."
        )
    return value


def _integer_array(name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == bool:
        array = array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
            return array.astype(np.int64)
        raise TypeError(f"{name} must hold integers, not {describe(array)}.")
    return array.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Encoders


def encode_load_weights(config: CoreConfig, weights_q, class_bias=None) -> list[int]:
    """Encode ``LOAD_WEIGHTS``: every weight, layer 0 first, row (output) by row, then the
    class bias.

    Parameters
    ----------
    config : CoreConfig
    weights_q : sequence of array_like
        One ``(layer_dims[l + 1], layer_dims[l])`` integer matrix a layer, each value from
        ``weight_min`` to ``weight_max``.
    class_bias : sequence of int, optional
        One integer a class, from ``weight_min`` to ``weight_max``, that the readout adds to
        the class sums (default: zeros).

    Returns
    -------
    list of int
        The command word, then each weight and each class's bias (class 0 first) in two's
        complement in its low ``weight_width`` bits.

    Raises
    ------
    ValueError
        If the number of matrices, a shape or a value is wrong.
    TypeError
        If a matrix does not hold integers.
    """
    weights_q = list(weights_q)
    if len(weights_q) != config.n_layers:
        raise ValueError(
            f"weights_q must hold {config.n_layers} matrices (one a layer), "
            f"but it holds {len(weights_q)}."
        )
    mask = (1 << config.weight_width) - 1
    words = [command_word(config, Opcode.LOAD_WEIGHTS)]
    for layer, matrix in enumerate(weights_q):
        matrix = _integer_array(f"weights_q[{layer}]", matrix)
        want = (config.layer_dims[layer + 1], config.layer_dims[layer])
        if matrix.shape != want:
            raise ValueError(
                f"weights_q[{layer}] must have shape {want} (out, in), "
                f"but its shape is {matrix.shape}."
            )
        if matrix.min() < config.weight_min or matrix.max() > config.weight_max:
            bad = matrix[(matrix < config.weight_min) | (matrix > config.weight_max)].flat[0]
            raise ValueError(
                f"weights_q[{layer}] must lie in [{config.weight_min}, {config.weight_max}] "
                f"({config.weight_width}-bit two's complement), but it contains {bad}."
            )
        words.extend(int(w) & mask for w in matrix.reshape(-1))
    words.extend(int(b) & mask for b in check_class_bias(config, class_bias))
    return words


def adjacency_to_csr(adjacency) -> tuple[int, list[int], list[int]]:
    """Return ``(N, degrees, neighbours)`` of a dense 0/1 adjacency, columns in increasing order.

    Raises
    ------
    TypeError, ValueError
        If the matrix is not a square 0/1 array with at least one node.
    """
    matrix = as_adjacency(adjacency, binary=True)
    degrees = [int(d) for d in matrix.sum(axis=1)]
    neighbours = [int(m) for m in np.nonzero(matrix)[1]]
    return matrix.shape[0], degrees, neighbours


def graph_status(
    config: CoreConfig, n_nodes: int, degrees: Sequence[int], neighbours: Sequence[int]
) -> Status:
    """Status code the core answers to a ``LOAD_GRAPH`` with these contents.

    An argument error (``N`` is 0 or above ``max_nodes``, ``E`` above ``max_edges``, degrees
    that do not add up to ``E``) is reported before a neighbour index of ``N`` or more.
    """
    if not 1 <= n_nodes <= config.max_nodes or len(neighbours) > config.max_edges:
        return Status.BAD_ARGUMENT
    if sum(degrees) != len(neighbours):
        return Status.BAD_ARGUMENT
    if any(m >= n_nodes for m in neighbours):
        return Status.BAD_NEIGHBOUR
    return Status.OK


def encode_load_graph_csr(
    config: CoreConfig,
    n_nodes: int,
    degrees: Sequence[int],
    neighbours: Sequence[int],
    *,
    strict: bool = True,
) -> list[int]:
    """Encode ``LOAD_GRAPH`` from compressed rows: ``E``, the degrees, then the neighbours.

    Parameters
    ----------
    config : CoreConfig
    n_nodes : int
        ``N``, the command's argument.
    degrees : sequence of int
        ``N`` neighbour counts, node 0 first.
    neighbours : sequence of int
        The ``E`` neighbour indices, those of node 0 first.
    strict : bool
        Reject a graph the core would refuse (see :func:`graph_status`). With ``strict=False``
        only the word widths are checked, so tests can send bad graphs on purpose.

    Raises
    ------
    ValueError
        If ``len(degrees)`` is not ``N``, a value does not fit its word, or, when ``strict``,
        the core would answer another status than OK.
    """
    degrees = [int(d) for d in degrees]
    neighbours = [int(m) for m in neighbours]
    if len(degrees) != n_nodes:
        raise ValueError(
            f"degrees must hold one count per node ({n_nodes}), but it holds {len(degrees)}."
        )
    if strict:
        if n_nodes < 1:
            raise ValueError(f"the graph must have at least one node, but it has {n_nodes}.")
        if n_nodes > config.max_nodes:
            raise ValueError(
                f"the graph has {n_nodes} nodes, more than the configured maximum of "
                f"{config.max_nodes} (max_nodes)."
            )
        if len(neighbours) > config.max_edges:
            raise ValueError(
                f"the graph has {len(neighbours)} edges (directed adjacency entries), more "
                f"than the configured maximum of {config.max_edges} (max_edges)."
            )
        if sum(degrees) != len(neighbours):
            raise ValueError(
                f"the degrees add up to {sum(degrees)}, but {len(neighbours)} neighbour "
                "indices were given; they must match."
            )
        bad = [m for m in neighbours if not 0 <= m < n_nodes]
        if bad:
            raise ValueError(
                f"neighbour index {bad[0]} is outside the graph's nodes 0 to {n_nodes - 1}."
            )
    words = [command_word(config, Opcode.LOAD_GRAPH, n_nodes)]
    words.append(_data_word(config, "the edge count E", len(neighbours)))
    words.extend(_data_word(config, f"degree of node {n}", d) for n, d in enumerate(degrees))
    words.extend(_data_word(config, "a neighbour index", m) for m in neighbours)
    return words


def encode_load_graph(config: CoreConfig, adjacency) -> list[int]:
    """Encode ``LOAD_GRAPH`` for a dense 0/1 adjacency (row ``n`` lists node ``n``'s neighbours).

    Raises
    ------
    TypeError, ValueError
        If the matrix is not square and 0/1, or the graph exceeds ``max_nodes`` or ``max_edges``.
    """
    n_nodes, degrees, neighbours = adjacency_to_csr(adjacency)
    return encode_load_graph_csr(config, n_nodes, degrees, neighbours)


def encode_load_features(config: CoreConfig, features_q, *, strict: bool = True) -> list[int]:
    """Encode ``LOAD_FEATURES``: ``N * layer_dims[0]`` quantised features, node by node.

    Parameters
    ----------
    config : CoreConfig
    features_q : array_like of shape (N, layer_dims[0])
        Integers from 0 to ``2**feature_frac_bits``.
    strict : bool
        Reject values above ``2**feature_frac_bits`` and node counts above ``max_nodes``; with
        ``strict=False`` only the word width is checked.

    Raises
    ------
    TypeError
        If the array does not hold integers.
    ValueError
        If the shape or a value is out of range.
    """
    array = _integer_array("features_q", features_q)
    if array.ndim != 2 or array.shape[1] != config.layer_dims[0] or array.shape[0] < 1:
        raise ValueError(
            f"features_q must have shape (N, {config.layer_dims[0]}) with N >= 1, "
            f"but its shape is {array.shape}."
        )
    n_nodes = array.shape[0]
    if strict:
        if n_nodes > config.max_nodes:
            raise ValueError(
                f"features_q has {n_nodes} nodes, more than the configured maximum of "
                f"{config.max_nodes} (max_nodes)."
            )
        if array.min() < 0 or array.max() > config.feature_one:
            bad = array[(array < 0) | (array > config.feature_one)].flat[0]
            raise ValueError(
                f"features_q must lie in [0, {config.feature_one}] "
                f"(Q0.{config.feature_frac_bits}), but it contains {bad}."
            )
    words = [command_word(config, Opcode.LOAD_FEATURES, n_nodes)]
    words.extend(_data_word(config, "a feature", x) for x in array.reshape(-1))
    return words


def encode_run(config: CoreConfig | None = None) -> list[int]:
    """Encode ``RUN`` (one word)."""
    return [command_word(config or CoreConfig(), Opcode.RUN)]


def encode_identify(config: CoreConfig | None = None) -> list[int]:
    """Encode ``IDENTIFY`` (one word)."""
    return [command_word(config or CoreConfig(), Opcode.IDENTIFY)]


def encode_inference(
    config: CoreConfig, weights_q, adjacency, features_q, class_bias=None
) -> list[int]:
    """Encode a whole inference: ``LOAD_WEIGHTS``, ``LOAD_GRAPH``, ``LOAD_FEATURES``, ``RUN``.

    Raises
    ------
    ValueError
        If the features' node count differs from the graph's, or any part is invalid.
    """
    n_nodes = as_adjacency(adjacency, binary=True).shape[0]
    rows = np.asarray(features_q).shape[0] if np.ndim(features_q) else 0
    if rows != n_nodes:
        raise ValueError(
            f"features_q has {rows} rows but the adjacency has {n_nodes} nodes; they must match."
        )
    return (
        encode_load_weights(config, weights_q, class_bias)
        + encode_load_graph(config, adjacency)
        + encode_load_features(config, features_q)
        + encode_run(config)
    )


# --------------------------------------------------------------------------------------------
# Replies


@dataclass(frozen=True)
class StatusReply:
    """A status word alone: every load, and a ``RUN`` or ``IDENTIFY`` that failed."""

    opcode: int
    code: int

    @property
    def ok(self) -> bool:
        """Whether the status is OK."""
        return self.code == Status.OK


@dataclass(frozen=True, eq=False)
class RunReply:
    """Result of a ``RUN`` whose status was OK.

    Attributes
    ----------
    counts : ndarray of shape (N, C)
        The last layer's spike counts.
    klass : int
        The graph's class.
    cycles : int
        Clock cycles of the inference.
    """

    counts: np.ndarray
    klass: int
    cycles: int

    opcode = Opcode.RUN
    code = Status.OK
    ok = True

    def __eq__(self, other) -> bool:
        if not isinstance(other, RunReply):
            return NotImplemented
        return (
            np.array_equal(self.counts, other.counts)
            and self.klass == other.klass
            and self.cycles == other.cycles
        )

    __hash__ = None


@dataclass(frozen=True)
class IdentifyReply:
    """Result of an ``IDENTIFY`` whose status was OK."""

    config_hash: int
    version: int

    opcode = Opcode.IDENTIFY
    code = Status.OK
    ok = True


def _name(opcode: int) -> str:
    try:
        return Opcode(opcode).name
    except ValueError:
        return f"opcode {opcode:#x}"


@dataclass
class _Pending:
    opcode: int
    n_nodes: int | None


class ReplyDecoder:
    """Parse the core's reply words, given the commands sent, in order.

    Every command sent must be announced with :meth:`expect` (or :meth:`expect_run`) in the
    order it was sent; then :meth:`feed` takes the reply words one at a time and returns each
    reply as soon as its last word arrives.

    Parameters
    ----------
    config : CoreConfig
        Supplies the word width and the class count.

    Attributes
    ----------
    replies : list
        Every reply decoded so far.
    """

    def __init__(self, config: CoreConfig):
        self.config = config
        self.replies: list[StatusReply | RunReply | IdentifyReply] = []
        self._pending: deque[_Pending] = deque()
        self._words: list[int] = []
        self._need = 0
        self._words_seen = 0

    # -- expectations ------------------------------------------------------------------

    def expect(self, opcode: int, n_nodes: int | None = None) -> None:
        """Announce a command that was sent; ``n_nodes`` is the graph size a ``RUN`` will use.

        Raises
        ------
        ValueError
            If ``n_nodes`` is not a positive integer.
        """
        if n_nodes is not None and (int(n_nodes) != n_nodes or n_nodes < 1):
            raise ValueError(f"n_nodes must be a positive integer, not {describe(n_nodes)}.")
        self._pending.append(_Pending(int(opcode), None if n_nodes is None else int(n_nodes)))

    def expect_run(self, n_nodes: int | None) -> None:
        """Announce a ``RUN`` on a graph of ``n_nodes`` nodes (None: no valid graph loaded)."""
        self.expect(Opcode.RUN, n_nodes)

    @property
    def idle(self) -> bool:
        """Whether every announced command has had its complete reply."""
        return not self._pending

    @property
    def outstanding(self) -> int:
        """Number of announced commands whose reply is not complete."""
        return len(self._pending)

    # -- decoding ----------------------------------------------------------------------

    def feed(self, word: int) -> StatusReply | RunReply | IdentifyReply | None:
        """Take one reply word; return the reply it completes, if any.

        Raises
        ------
        ProtocolError
            If the word does not fit the word width, no command awaits a reply, the status word
            echoes another opcode, has non-zero low bits or an unknown status code, or a result
            word is out of range.
        """
        word = int(word)
        index = self._words_seen
        self._words_seen += 1
        if not 0 <= word <= _word_mask(self.config):
            raise ProtocolError(
                f"reply word {index} is {word}, which does not fit {self.config.word_width} bits."
            )
        if not self._pending:
            raise ProtocolError(
                f"reply word {index} ({word:#x}) arrived, but every command sent has already "
                "had its complete reply."
            )
        pending = self._pending[0]
        if not self._words:
            return self._status(pending, word, index)
        self._words.append(word)
        if len(self._words) < self._need:
            return None
        return self._finish(pending, index)

    def feed_many(self, words: Iterable[int]) -> list[StatusReply | RunReply | IdentifyReply]:
        """Feed several words; return the replies they complete, in order."""
        done = []
        for word in words:
            reply = self.feed(word)
            if reply is not None:
                done.append(reply)
        return done

    def _status(self, pending: _Pending, word: int, index: int):
        shift = _opcode_shift(self.config)
        opcode = word >> shift
        code = (word >> (shift - 4)) & 0xF
        low = word & ((1 << (shift - 4)) - 1)
        if opcode != pending.opcode:
            raise ProtocolError(
                f"reply word {index} ({word:#x}) should be the status of {_name(pending.opcode)} "
                f"but it echoes {_name(opcode)}."
            )
        if low:
            raise ProtocolError(
                f"status word {index} ({word:#x}) for {_name(opcode)} has non-zero low bits "
                f"{low:#x}; they must be 0."
            )
        if code not in Status._value2member_map_:
            raise ProtocolError(
                f"status word {index} ({word:#x}) for {_name(opcode)} carries unknown status "
                f"code {code}."
            )
        if code == Status.OK and opcode == Opcode.RUN:
            if pending.n_nodes is None:
                raise ProtocolError(
                    f"status word {index} answers RUN with OK, but the host loaded no valid "
                    "graph, so it cannot know how many result words follow."
                )
            self._need = 1 + pending.n_nodes * self.config.n_classes + 3
            self._words = [word]
            return None
        if code == Status.OK and opcode == Opcode.IDENTIFY:
            self._need = 3
            self._words = [word]
            return None
        return self._complete(StatusReply(opcode, code))

    def _finish(self, pending: _Pending, index: int):
        words, config = self._words, self.config
        self._words, self._need = [], 0
        if pending.opcode == Opcode.IDENTIFY:
            return self._complete(IdentifyReply(words[1], words[2]))
        n_classes = config.n_classes
        counts = np.array(words[1 : 1 + pending.n_nodes * n_classes], dtype=np.int64)
        klass, high, low = words[-3:]
        if klass >= n_classes:
            raise ProtocolError(
                f"reply word {index - 2} gives class {klass}, but the core has only "
                f"{n_classes} classes."
            )
        cycles = (high << 16) | low  # the 32-bit count travels as two 16-bit halves
        reply = RunReply(counts.reshape(pending.n_nodes, n_classes), int(klass), int(cycles))
        return self._complete(reply)

    def _complete(self, reply):
        self._pending.popleft()
        self.replies.append(reply)
        return reply


class HostSession:
    """Encode commands and decode their replies, keeping track of what the core holds.

    Each method returns the words to send and announces the expected reply to :attr:`decoder`;
    feed the core's words to :meth:`feed`. The session remembers the node count of the last
    graph whose load the core accepts, so that a ``RUN`` reply can be split into its parts.

    Parameters
    ----------
    config : CoreConfig

    Attributes
    ----------
    decoder : ReplyDecoder
    n_nodes : int or None
        Node count of the graph the core holds, None when it holds no valid graph.
    """

    def __init__(self, config: CoreConfig):
        self.config = config
        self.decoder = ReplyDecoder(config)
        self.n_nodes: int | None = None

    def load_weights(self, weights_q, class_bias=None) -> list[int]:
        """Words of ``LOAD_WEIGHTS`` (weights and class bias)."""
        words = encode_load_weights(self.config, weights_q, class_bias)
        self.decoder.expect(Opcode.LOAD_WEIGHTS)
        return words

    def load_graph(self, adjacency) -> list[int]:
        """Words of ``LOAD_GRAPH`` for a valid dense adjacency."""
        words = encode_load_graph(self.config, adjacency)
        self.decoder.expect(Opcode.LOAD_GRAPH)
        self.n_nodes = np.asarray(adjacency).shape[0]
        return words

    def load_graph_csr(
        self, n_nodes: int, degrees: Sequence[int], neighbours: Sequence[int]
    ) -> tuple[list[int], Status]:
        """Words of a ``LOAD_GRAPH`` that may be invalid, and the status the core should answer."""
        words = encode_load_graph_csr(self.config, n_nodes, degrees, neighbours, strict=False)
        status = graph_status(self.config, n_nodes, degrees, neighbours)
        self.decoder.expect(Opcode.LOAD_GRAPH)
        self.n_nodes = n_nodes if status == Status.OK else None
        return words, status

    def load_features(self, features_q, *, strict: bool = True) -> list[int]:
        """Words of ``LOAD_FEATURES``."""
        words = encode_load_features(self.config, features_q, strict=strict)
        self.decoder.expect(Opcode.LOAD_FEATURES)
        return words

    def run(self) -> list[int]:
        """Words of ``RUN``."""
        self.decoder.expect_run(self.n_nodes)
        return encode_run(self.config)

    def identify(self) -> list[int]:
        """Words of ``IDENTIFY``."""
        self.decoder.expect(Opcode.IDENTIFY)
        return encode_identify(self.config)

    def raw(self, words: Sequence[int], opcode: int) -> list[int]:
        """Send hand-made words that the core answers with one status word echoing ``opcode``."""
        self.decoder.expect(opcode)
        return [int(w) for w in words]

    def inference(self, adjacency, features_q, weights_q=None, class_bias=None) -> list[int]:
        """Words of one inference: optional weights (and bias), then graph, features and ``RUN``."""
        words = [] if weights_q is None else self.load_weights(weights_q, class_bias)
        return words + self.load_graph(adjacency) + self.load_features(features_q) + self.run()

    def feed(self, word: int):
        """Feed one reply word to the decoder; return the reply it completes, if any."""
        return self.decoder.feed(word)

    def feed_many(self, words: Iterable[int]) -> list:
        """Feed several reply words; return the replies they complete."""
        return self.decoder.feed_many(words)

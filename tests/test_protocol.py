"""Unit tests of the host side of the core's word protocol (``sim.protocol``).

Exact word lists for a hand-made 3-node graph, and the decoder on hand-made reply streams.
"""

import numpy as np
import pytest

from golden.config import CoreConfig
from sim.protocol import (
    HostSession,
    IdentifyReply,
    Opcode,
    ProtocolError,
    ReplyDecoder,
    RunReply,
    Status,
    StatusReply,
    adjacency_to_csr,
    command_word,
    encode_identify,
    encode_inference,
    encode_load_features,
    encode_load_graph,
    encode_load_graph_csr,
    encode_load_weights,
    encode_run,
    graph_status,
    status_word,
)

CONFIG = CoreConfig(layer_dims=(2, 3, 2), lanes=2, max_nodes=4, max_edges=8)

# Node 0 aggregates nodes 1 and 2; nodes 1 and 2 aggregate node 0.
ADJACENCY = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
FEATURES = np.array([[0, 256], [128, 1], [255, 0]])
WEIGHTS = [
    np.array([[-1, 0], [127, -128], [1, 2]]),
    np.array([[3, -4, 5], [-64, 63, 0]]),
]


def test_opcodes_and_status_codes():
    assert [int(op) for op in Opcode] == [1, 2, 3, 4, 5]
    assert [op.name for op in Opcode] == [
        "LOAD_WEIGHTS",
        "LOAD_GRAPH",
        "LOAD_FEATURES",
        "RUN",
        "IDENTIFY",
    ]
    assert [int(code) for code in Status] == [0, 1, 2, 3, 4, 5]


def test_command_and_status_words():
    assert command_word(CONFIG, Opcode.LOAD_GRAPH, 3) == 0x2003
    assert command_word(CONFIG, 0xF, 0xFFF) == 0xFFFF
    assert status_word(CONFIG, Opcode.RUN, Status.NOT_READY) == 0x4500
    wide = CoreConfig(word_width=24)
    assert command_word(wide, Opcode.RUN, 1) == 0x400001
    assert status_word(wide, Opcode.RUN, Status.BAD_VALUE) == 0x440000


def test_command_word_rejects_fields_that_do_not_fit():
    with pytest.raises(ValueError, match="opcode must be from 0 to 15"):
        command_word(CONFIG, 16)
    with pytest.raises(ValueError, match="argument must be from 0 to 4095"):
        command_word(CONFIG, Opcode.LOAD_GRAPH, 4096)


def test_encode_load_weights_twos_complement():
    words = encode_load_weights(CONFIG, WEIGHTS)
    assert words == [
        0x1000,
        0xFF, 0x00,  # -1, 0
        0x7F, 0x80,  # 127, -128
        0x01, 0x02,
        0x03, 0xFC, 0x05,  # 3, -4, 5
        0xC0, 0x3F, 0x00,  # -64, 63, 0
        0x00, 0x00,  # class bias, zero by default
    ]  # fmt: skip
    biased = encode_load_weights(CONFIG, WEIGHTS, class_bias=[-3, 127])
    assert biased[:-2] == words[:-2]
    assert biased[-2:] == [0xFD, 0x7F]


def test_encode_load_weights_narrow_format():
    config = CoreConfig(layer_dims=(1, 1), weight_width=4, weight_frac_bits=2, prob_bits=8)
    assert encode_load_weights(config, [np.array([[-1]])]) == [0x1000, 0xF, 0x0]
    assert encode_load_weights(config, [np.array([[-8]])], [-8]) == [0x1000, 0x8, 0x8]


@pytest.mark.parametrize(
    ("bias", "error", "match"),
    [
        ([1], ValueError, "class_bias must hold 2 integers"),
        ([0, 128], ValueError, r"class_bias must lie in \[-128, 127\] .* 0 to 128"),
        ([0.5, 0], TypeError, "class_bias must hold integers"),
    ],
)
def test_encode_load_weights_rejects_bad_class_bias(bias, error, match):
    with pytest.raises(error, match=match):
        encode_load_weights(CONFIG, WEIGHTS, class_bias=bias)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (WEIGHTS[:1], "must hold 2 matrices"),
        ([WEIGHTS[1], WEIGHTS[0]], r"weights_q\[0\] must have shape \(3, 2\)"),
        ([WEIGHTS[0], np.array([[3, -4, 5], [-129, 0, 0]])], "contains -129"),
        ([WEIGHTS[0], np.array([[3, -4, 128], [0, 0, 0]])], "contains 128"),
    ],
)
def test_encode_load_weights_rejects_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        encode_load_weights(CONFIG, weights)


def test_encode_load_weights_rejects_fractions():
    with pytest.raises(TypeError, match="must hold integers"):
        encode_load_weights(CONFIG, [WEIGHTS[0] + 0.5, WEIGHTS[1]])


def test_encode_load_graph_csr_order():
    assert adjacency_to_csr(ADJACENCY) == (3, [2, 1, 1], [1, 2, 0, 0])
    assert encode_load_graph(CONFIG, ADJACENCY) == [0x2003, 4, 2, 1, 1, 1, 2, 0, 0]


def test_encode_load_graph_isolated_node_and_self_loop():
    adjacency = np.array([[1, 0], [0, 0]])
    assert encode_load_graph(CONFIG, adjacency) == [0x2002, 1, 1, 0, 0]


@pytest.mark.parametrize(
    ("adjacency", "match"),
    [
        (np.ones((5, 5), dtype=int) - np.eye(5, dtype=int), "5 nodes, more than"),
        (np.ones((4, 4), dtype=int), "16 edges"),
        (np.array([[0, 2], [1, 0]]), "only 0 and 1"),
        (np.zeros((2, 3)), "square"),
    ],
)
def test_encode_load_graph_rejects_bad_graphs(adjacency, match):
    with pytest.raises(ValueError, match=match):
        encode_load_graph(CONFIG, adjacency)


def test_encode_load_graph_csr_strict_and_loose():
    with pytest.raises(ValueError, match="neighbour index 3 is outside"):
        encode_load_graph_csr(CONFIG, 3, [1, 0, 0], [3])
    with pytest.raises(ValueError, match="degrees add up to 2"):
        encode_load_graph_csr(CONFIG, 3, [1, 1, 0], [0])
    with pytest.raises(ValueError, match="one count per node"):
        encode_load_graph_csr(CONFIG, 3, [1, 0], [0], strict=False)
    assert encode_load_graph_csr(CONFIG, 3, [1, 0, 0], [3], strict=False) == [
        0x2003, 1, 1, 0, 0, 3,
    ]  # fmt: skip
    assert encode_load_graph_csr(CONFIG, 0, [], [], strict=False) == [0x2000, 0]


def test_graph_status():
    assert graph_status(CONFIG, 3, [2, 1, 1], [1, 2, 0, 0]) == Status.OK
    assert graph_status(CONFIG, 3, [1, 0, 0], [3]) == Status.BAD_NEIGHBOUR
    assert graph_status(CONFIG, 0, [], []) == Status.BAD_ARGUMENT
    assert graph_status(CONFIG, 5, [0] * 5, []) == Status.BAD_ARGUMENT
    assert graph_status(CONFIG, 2, [9, 0], [0] * 9) == Status.BAD_ARGUMENT
    assert graph_status(CONFIG, 2, [1, 1], [0]) == Status.BAD_ARGUMENT


def test_encode_load_features():
    assert encode_load_features(CONFIG, FEATURES) == [0x3003, 0, 256, 128, 1, 255, 0]
    with pytest.raises(ValueError, match="contains 257"):
        encode_load_features(CONFIG, [[0, 257]])
    with pytest.raises(ValueError, match="contains -1"):
        encode_load_features(CONFIG, [[0, -1]])
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        encode_load_features(CONFIG, [[0, 1, 2]])
    assert encode_load_features(CONFIG, [[0, 257]], strict=False) == [0x3001, 0, 257]


def test_encode_run_identify_and_inference():
    assert encode_run() == [0x4000]
    assert encode_identify() == [0x5000]
    words = encode_inference(CONFIG, WEIGHTS, ADJACENCY, FEATURES)
    assert words == (
        encode_load_weights(CONFIG, WEIGHTS)
        + [0x2003, 4, 2, 1, 1, 1, 2, 0, 0]
        + [0x3003, 0, 256, 128, 1, 255, 0]
        + [0x4000]
    )
    with pytest.raises(ValueError, match="2 rows but the adjacency has 3 nodes"):
        encode_inference(CONFIG, WEIGHTS, ADJACENCY, FEATURES[:2])


# -- decoder ---------------------------------------------------------------------------------


def test_decoder_status_replies():
    decoder = ReplyDecoder(CONFIG)
    for opcode in (Opcode.LOAD_WEIGHTS, Opcode.LOAD_GRAPH, Opcode.LOAD_FEATURES):
        decoder.expect(opcode)
    replies = decoder.feed_many([0x1000, 0x2300, 0x3400])
    assert replies == [
        StatusReply(Opcode.LOAD_WEIGHTS, Status.OK),
        StatusReply(Opcode.LOAD_GRAPH, Status.BAD_NEIGHBOUR),
        StatusReply(Opcode.LOAD_FEATURES, Status.BAD_VALUE),
    ]
    assert replies[0].ok and not replies[1].ok
    assert decoder.idle


def test_decoder_run_reply():
    decoder = ReplyDecoder(CONFIG)
    decoder.expect_run(3)
    words = [0x4000, 1, 2, 3, 4, 5, 0, 0, 0x0001, 0x2345]
    assert [decoder.feed(w) for w in words[:-1]] == [None] * 9
    assert not decoder.idle and decoder.outstanding == 1
    reply = decoder.feed(words[-1])
    assert isinstance(reply, RunReply)
    np.testing.assert_array_equal(reply.counts, [[1, 2], [3, 4], [5, 0]])
    assert reply.klass == 0
    assert reply.cycles == 0x12345
    assert decoder.idle and decoder.replies == [reply]


def test_decoder_run_not_ready_and_identify():
    decoder = ReplyDecoder(CONFIG)
    decoder.expect_run(None)
    decoder.expect(Opcode.IDENTIFY)
    decoder.expect(0x7)
    replies = decoder.feed_many([0x4500, 0x5000, CONFIG.config_hash, 0x0102, 0x7100])
    assert replies == [
        StatusReply(Opcode.RUN, Status.NOT_READY),
        IdentifyReply(CONFIG.config_hash, 0x0102),
        StatusReply(0x7, Status.UNKNOWN_OPCODE),
    ]


@pytest.mark.parametrize(
    ("expected", "words", "match"),
    [
        ([Opcode.LOAD_GRAPH], [0x3000], "status of LOAD_GRAPH but it echoes LOAD_FEATURES"),
        ([Opcode.LOAD_GRAPH], [0x2001], "non-zero low bits"),
        ([Opcode.LOAD_GRAPH], [0x2900], "unknown status code 9"),
        ([Opcode.LOAD_GRAPH], [0x2000, 0x2000], "already had its complete reply"),
        ([], [0x1000], "already had its complete reply"),
        ([Opcode.LOAD_GRAPH], [0x10000], "does not fit 16 bits"),
        ([(Opcode.RUN, None)], [0x4000], "loaded no valid graph"),
        ([(Opcode.RUN, 1)], [0x4000, 1, 0, 2, 0, 9], "class 2, but the core has only 2"),
    ],
)
def test_decoder_errors(expected, words, match):
    decoder = ReplyDecoder(CONFIG)
    for item in expected:
        if isinstance(item, tuple):
            decoder.expect(*item)
        else:
            decoder.expect(item)
    with pytest.raises(ProtocolError, match=match):
        decoder.feed_many(words)


def test_decoder_rejects_bad_node_count():
    with pytest.raises(ValueError, match="n_nodes must be a positive integer"):
        ReplyDecoder(CONFIG).expect_run(0)


def test_host_session_tracks_the_graph():
    session = HostSession(CONFIG)
    words = session.inference(ADJACENCY, FEATURES, WEIGHTS)
    assert words == encode_inference(CONFIG, WEIGHTS, ADJACENCY, FEATURES)
    replies = session.feed_many([0x1000, 0x2000, 0x3000, 0x4000, 0, 1, 1, 0, 0, 1, 1, 0, 99])
    assert [type(r) for r in replies] == [StatusReply] * 3 + [RunReply]
    assert replies[-1].counts.shape == (3, 2)
    assert replies[-1].klass == 1 and replies[-1].cycles == 99

    words, status = session.load_graph_csr(3, [1, 0, 0], [3])
    assert status == Status.BAD_NEIGHBOUR and session.n_nodes is None
    session.run()
    assert session.feed_many([0x2300, 0x4500]) == [
        StatusReply(Opcode.LOAD_GRAPH, Status.BAD_NEIGHBOUR),
        StatusReply(Opcode.RUN, Status.NOT_READY),
    ]
    assert session.raw([0x7000], 0x7) == [0x7000]
    assert session.identify() == [0x5000]
    assert session.feed(0x7100) == StatusReply(7, Status.UNKNOWN_OPCODE)

"""Unit tests of the framed link's shared numbers (``hdl.framing``) and host codec (``sim.link``):
the CRC, frame layouts, the reply-frame decoder, and hypothesis-driven fuzzing of both.
"""

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.config import CoreConfig
from hdl.framing import (
    CRC_INIT,
    SYNC_COMMAND,
    SYNC_REPLY,
    LinkStatus,
    command_length,
    crc16,
    crc16_update,
    frame_limits,
)
from hdl.link import crc16_next
from sim.link import (
    FrameError,
    LinkErrorReply,
    ReplyFrame,
    ReplyFrameDecoder,
    decode_reply,
    encode_frame,
    encode_raw_frame,
    reply_frame,
)
from sim.protocol import (
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
    status_word,
)

CONFIG = CoreConfig(layer_dims=(2, 3, 2), lanes=2, max_nodes=4, max_edges=8)
WIDE = CoreConfig(word_width=24, layer_dims=(2, 3, 2), lanes=2, max_nodes=4, max_edges=8)


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == CRC_INIT
    assert crc16_update(0, 0) == 0


@given(st.binary(max_size=64))
def test_crc_of_data_and_its_crc_is_zero(data):
    assert crc16(data + crc16(data).to_bytes(2, "big")) == 0


@given(st.binary(min_size=1, max_size=40), st.data())
def test_crc_detects_every_single_bit_error(data, draw):
    bit = draw.draw(st.integers(0, 8 * len(data) - 1))
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert crc16(bytes(flipped)) != crc16(data)


def test_gateware_crc_equals_python_crc():
    """The XOR network of hdl.link.crc16_next against crc16_update on random inputs."""
    crc, byte = Signal(16), Signal(8)
    out = Signal(16)
    m = Module()
    m.d.comb += out.eq(crc16_next(crc, byte))
    rng = np.random.default_rng(5)
    registers, data = rng.integers(0, 1 << 16, 200), rng.integers(0, 256, 200)
    cases = [(0xFFFF, 0x31), (0, 0), (0x8000, 0x80)]
    cases += [(int(c), int(b)) for c, b in zip(registers, data, strict=True)]
    got = []

    async def bench(ctx):
        for c, b in cases:
            ctx.set(crc, c)
            ctx.set(byte, b)
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got == [crc16_update(c, b) for c, b in cases]


def test_frame_limits_default_config():
    limits = frame_limits(CoreConfig())
    # 7 * 32 + 32 * 2 weights, 2 class biases and the command word; graph 2 + 32 + 128;
    # features 1 + 32 * 7.
    assert limits.weights_words == 291
    assert limits.buffer_words == 291
    assert limits.max_reply_words == 4 + 32 * 2
    small = frame_limits(CONFIG)
    assert (small.weights_words, small.buffer_words) == (1 + 6 + 6 + 2, 1 + 6 + 6 + 2)


def test_encode_frame_layout():
    frame = encode_frame(CONFIG, encode_identify(CONFIG))
    assert frame[:5] == bytes([SYNC_COMMAND, 0x00, 0x01, 0x50, 0x00])
    assert frame[5:] == crc16(bytes([0, 1, 0x50, 0])).to_bytes(2, "big")
    wide = encode_frame(WIDE, encode_run(WIDE))
    assert wide[:6] == bytes([SYNC_COMMAND, 0, 1, 0x40, 0, 0]) and len(wide) == 8


def test_encode_frame_rejects_what_the_link_would_refuse():
    with pytest.raises(ValueError, match="opcode 6 is not one of the core's commands"):
        encode_frame(CONFIG, [0x6000])
    with pytest.raises(ValueError, match="announces 1 words but 2 were given"):
        encode_frame(CONFIG, encode_run(CONFIG) * 2)
    graph = encode_load_graph(CONFIG, np.ones((2, 2)))
    with pytest.raises(ValueError, match="announces 8 words but 7 were given"):
        encode_frame(CONFIG, graph[:-1])
    # N = 4 nodes with E = 20 fits the word fields but not the frame buffer of 15 words.
    too_long = [0x2004, 20] + [5, 5, 5, 5] + [0] * 20
    with pytest.raises(ValueError, match="26 words, more than the board's frame buffer of 15"):
        encode_frame(CONFIG, too_long)
    with pytest.raises(ValueError, match="from 0 to 65535 words"):
        encode_raw_frame(CONFIG, [], length=1 << 16)
    with pytest.raises(ValueError, match="does not fit 16 bits"):
        encode_raw_frame(CONFIG, [1 << 16])


def adjacencies(max_nodes=4, max_edges=8):
    """Random 0/1 adjacencies within the limits."""

    def build(bits):
        n = bits[0]
        matrix = np.array(bits[1 : 1 + n * n], dtype=np.int64).reshape(n, n)
        rows, cols = np.nonzero(matrix)
        matrix[rows[max_edges:], cols[max_edges:]] = 0
        return matrix

    return st.integers(1, max_nodes).flatmap(
        lambda n: st.lists(st.integers(0, 1), min_size=n * n, max_size=n * n).map(
            lambda bits: build([n, *bits])
        )
    )


@given(adjacencies(), st.integers(0, 2**16 - 1))
def test_command_length_matches_the_encoders(adjacency, seed):
    rng = np.random.default_rng(seed)
    n = adjacency.shape[0]
    features = rng.integers(0, CONFIG.feature_one + 1, (n, 2))
    weights = [rng.integers(-128, 128, (3, 2)), rng.integers(-128, 128, (2, 3))]
    for words in (
        encode_load_graph(CONFIG, adjacency),
        encode_load_features(CONFIG, features),
        encode_load_weights(CONFIG, weights),
        encode_run(CONFIG),
        encode_identify(CONFIG),
    ):
        assert command_length(CONFIG, words) == len(words)
        frame = encode_frame(CONFIG, words)
        assert len(frame) == 1 + 2 + 2 * len(words) + 2
        assert int.from_bytes(frame[1:3], "big") == len(words)
        assert crc16(frame[1:]) == 0
    assert command_length(CONFIG, [0x0000]) is None
    assert command_length(CONFIG, []) is None


@settings(max_examples=200)
@given(
    st.sampled_from(list(LinkStatus)),
    st.lists(st.integers(0, 2**16 - 1), max_size=12),
    st.binary(max_size=6),
)
def test_reply_frames_round_trip(status, words, garbage):
    words = words if status == LinkStatus.OK else []
    garbage = bytes(b for b in garbage if b != SYNC_REPLY)
    decoder = ReplyFrameDecoder(CONFIG)
    frames = decoder.feed_many(garbage + reply_frame(CONFIG, status, words))
    assert frames == [ReplyFrame(status, words, len(garbage))]
    assert not decoder.in_frame


@settings(max_examples=200)
@given(st.lists(st.integers(0, 2**24 - 1), min_size=1, max_size=8), st.data())
def test_reply_decoder_rejects_a_flipped_bit_and_recovers(words, data):
    """Any single flipped bit after the header is a CRC error; the next frame still decodes."""
    frame = bytearray(reply_frame(WIDE, LinkStatus.OK, words))
    bit = data.draw(st.integers(8 * 4, 8 * len(frame) - 1))
    frame[bit // 8] ^= 1 << (bit % 8)
    decoder = ReplyFrameDecoder(WIDE)
    with pytest.raises(FrameError, match="bad CRC"):
        decoder.feed_many(frame)
    good = reply_frame(WIDE, LinkStatus.OK, [1, 2])
    assert decoder.feed_many(good) == [ReplyFrame(LinkStatus.OK, [1, 2])]


@given(st.binary(max_size=80))
def test_reply_decoder_survives_any_bytes(data):
    """Random bytes give frames, FrameErrors or nothing, never another exception."""
    decoder = ReplyFrameDecoder(CONFIG)
    for byte in data:
        try:
            frame = decoder.feed(byte)
        except FrameError:
            continue
        if frame is not None:
            assert crc16(reply_frame(CONFIG, frame.status, frame.words)[1:]) == 0


def test_reply_decoder_rejects_overlong_reply():
    decoder = ReplyFrameDecoder(CONFIG)
    with pytest.raises(FrameError, match="announces 13 words, more than the longest reply of 12"):
        decoder.feed_many(bytes([SYNC_REPLY, 0, 0, 13]))


def test_decode_reply():
    run = [status_word(CONFIG, Opcode.RUN, Status.OK), 1, 2, 3, 4, 1, 0, 0x1234]
    got = decode_reply(CONFIG, ReplyFrame(0, run), Opcode.RUN, 2)
    assert got == RunReply(np.array([[1, 2], [3, 4]]), 1, 0x1234)
    identify = [status_word(CONFIG, Opcode.IDENTIFY, Status.OK), 0xBEEF, 0x0100]
    assert decode_reply(CONFIG, ReplyFrame(0, identify), Opcode.IDENTIFY) == IdentifyReply(
        0xBEEF, 0x0100
    )
    not_ready = [status_word(CONFIG, Opcode.RUN, Status.NOT_READY)]
    assert decode_reply(CONFIG, ReplyFrame(0, not_ready), Opcode.RUN) == StatusReply(
        Opcode.RUN, Status.NOT_READY
    )
    error = decode_reply(CONFIG, ReplyFrame(LinkStatus.BAD_CRC), Opcode.RUN)
    assert error == LinkErrorReply(LinkStatus.BAD_CRC) and not error.ok
    assert "bad CRC" in error.describe()
    with pytest.raises(ProtocolError, match="unknown link status 9"):
        decode_reply(CONFIG, ReplyFrame(9), Opcode.RUN)
    with pytest.raises(ProtocolError, match="does not hold exactly one reply"):
        decode_reply(CONFIG, ReplyFrame(0, run[:-1]), Opcode.RUN, 2)
    with pytest.raises(ProtocolError, match="already had its complete reply"):
        decode_reply(CONFIG, ReplyFrame(0, not_ready * 2), Opcode.RUN)


def test_timeout_cycles_and_link_arguments():
    from hdl.link import FrameLink, timeout_cycles

    assert timeout_cycles(36e6) == 720_000  # 20 ms at 36 MHz
    assert timeout_cycles(12e6, 1.5) == 18_000
    with pytest.raises(ValueError, match="must be positive, not 0 and 20"):
        timeout_cycles(0)
    with pytest.raises(ValueError, match="timeout must be at least 1 clock cycle, not 0"):
        FrameLink(CONFIG, 0)


def test_link_timeout_counts_prescaled_ticks():
    """Up to 255 clocks the timeout is exact; above, it is rounded up to ticks of 2**k clocks
    with at most 256 ticks, so it never shortens and grows by less than 1 %."""
    from hdl.link import timeout_ticks

    assert timeout_ticks(1) == (0, 1)
    assert timeout_ticks(255) == (0, 255)
    assert timeout_ticks(256) == (1, 128)
    assert timeout_ticks(2560) == (4, 160)  # the board simulations' timeout, exact
    assert timeout_ticks(720_000) == (12, 176)  # 20 ms at 36 MHz: 720 896 clocks allowed
    for timeout in (300, 4097, 65_535, 720_001, 2_000_000):
        shift, ticks = timeout_ticks(timeout)
        allowed = ticks << shift
        assert ticks <= 256 and timeout <= allowed < timeout + (1 << shift)
        assert allowed < timeout * 1.01

"""Tests of the serial host driver (``sim.host``) and ``spikegnn run`` against a board model on a
fake serial port: frames decoded as the link does and answered from the golden model.
"""

import time

import numpy as np
import pytest

from golden.config import CoreConfig
from golden.fixed import FixedPointModel
from golden.weights import save_weights
from hdl.commands import DESIGN_VERSION
from hdl.framing import LinkStatus, command_length, crc16, word_bytes
from sim.cli import main
from sim.cycles import predict_cycles
from sim.host import (
    BoardError,
    BoardNotFoundError,
    BoardTimeoutError,
    ConfigMismatchError,
    SpikeGNNBoard,
)
from sim.link import reply_frame
from sim.protocol import Opcode, Status, status_word

CONFIG = CoreConfig(layer_dims=(2, 3, 2), lanes=2, max_nodes=4, max_edges=8, threshold=0.05)
WEIGHTS_FLOAT = [
    np.array([[0.9, -0.2, 0.5], [0.3, 0.8, -0.4]]),
    np.array([[0.7, -0.5], [-0.3, 0.9], [0.6, 0.2]]),
]
ABSENT = "/dev/spikegnn-no-such-port"


class FakeBoard:
    """A serial port with a board behind it: parses command frames, answers from the golden
    model, and can be told to stay silent, garble frames or claim another configuration."""

    def __init__(self, config, *, config_hash=None, silent=False, garbled=0, bad_reply=False):
        self.config = config
        self.config_hash = config.config_hash if config_hash is None else config_hash
        self.silent, self.garbled, self.bad_reply = silent, garbled, bad_reply
        self.out = bytearray()
        self.weights = self.adjacency = self.features_q = None
        self.frames = 0

    @property
    def in_waiting(self):
        return len(self.out)

    def reset_input_buffer(self):
        self.out.clear()

    def close(self):
        pass

    def read(self, size=1):
        if not self.out:
            time.sleep(0.001)
            return b""
        data, self.out[:] = bytes(self.out[:size]), self.out[size:]
        return data

    def write(self, data):
        self.frames += 1
        if self.silent:
            return
        if self.garbled:
            self.garbled -= 1
            self.out += reply_frame(self.config, LinkStatus.BAD_CRC)
            return
        n = word_bytes(self.config)
        assert data[0] == 0xA5 and crc16(data[1:]) == 0
        payload = data[3:-2]
        words = [int.from_bytes(payload[i : i + n], "big") for i in range(0, len(payload), n)]
        assert len(words) == int.from_bytes(data[1:3], "big") == command_length(self.config, words)
        reply = reply_frame(self.config, LinkStatus.OK, self.answer(words))
        if self.bad_reply:
            reply = reply[:-1] + bytes([reply[-1] ^ 1])
        self.out += reply

    def answer(self, words):
        config, shift = self.config, self.config.word_width - 4
        opcode, argument = words[0] >> shift, words[0] & ((1 << shift) - 1)
        ok = [status_word(config, opcode, Status.OK)]
        if opcode == Opcode.IDENTIFY:
            return ok + [self.config_hash, DESIGN_VERSION]
        if opcode == Opcode.LOAD_WEIGHTS:
            values = np.array(words[1:], dtype=np.int64)
            values = np.where(values >= 1 << 7, values - (1 << 8), values)
            dims, self.weights, start = config.layer_dims, [], 0
            for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True):
                self.weights.append(values[start : start + fan_in * fan_out].reshape(fan_out, -1))
                start += fan_in * fan_out
        elif opcode == Opcode.LOAD_GRAPH:
            degrees, neighbours = words[2 : 2 + argument], words[2 + argument :]
            self.adjacency = np.zeros((argument, argument), dtype=np.int64)
            rows = np.repeat(np.arange(argument), degrees)
            self.adjacency[rows, neighbours] = 1
        elif opcode == Opcode.LOAD_FEATURES:
            self.features_q = np.array(words[1:]).reshape(argument, config.layer_dims[0])
        elif opcode == Opcode.RUN:
            model = FixedPointModel(config, self.weights)
            result = model.run_graphs([(self.adjacency, self.features_q / config.feature_one)])
            cycles = predict_cycles(config, self.adjacency)
            counts = result.graph_counts(0).ravel().tolist()
            return ok + counts + [int(result.classes[0]), cycles >> 16, cycles & 0xFFFF]
        return ok


def board(fake, **options) -> SpikeGNNBoard:
    return SpikeGNNBoard("fake", CONFIG, serial_factory=lambda: fake, **options)


def test_inference_equals_the_golden_model():
    model = FixedPointModel.from_float(CONFIG, [w.T for w in WEIGHTS_FLOAT])
    adjacency = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 1]])
    features = np.array([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]])
    fake = FakeBoard(CONFIG)
    with board(fake) as host:
        assert host.identity.config_hash == CONFIG.config_hash
        host.load_weights(model.weights)
        result = host.infer(adjacency, features)
    golden = model.run_graphs([(adjacency, features)])
    assert np.array_equal(result.counts, golden.graph_counts(0))
    assert result.klass == golden.classes[0]
    assert result.cycles == predict_cycles(CONFIG, adjacency)
    assert result.class_counts.tolist() == golden.graph_counts(0).sum(axis=0).tolist()
    assert fake.frames == 5  # IDENTIFY, weights, graph, features, RUN


def test_configuration_mismatch_is_named():
    with pytest.raises(ConfigMismatchError, match=r"hash is 0x1234 but the host's configuration"):
        board(FakeBoard(CONFIG, config_hash=0x1234)).open()


def test_silent_board_times_out():
    with pytest.raises(BoardTimeoutError, match="did not answer IDENTIFY within"):
        board(FakeBoard(CONFIG, silent=True), timeout=0.05, retries=0).open()


def test_absent_port():
    with pytest.raises(BoardNotFoundError, match=f"cannot open the serial port '{ABSENT}'"):
        SpikeGNNBoard(ABSENT, CONFIG).open()


def test_garbled_frames_are_sent_again_then_reported():
    fake = FakeBoard(CONFIG, garbled=2)
    board(fake, retries=2).open()
    assert fake.frames == 3
    with pytest.raises(BoardError, match="bad CRC .*link status BAD_CRC"):
        board(FakeBoard(CONFIG, garbled=3), retries=2).open()


def test_corrupt_reply_frame():
    with pytest.raises(BoardError, match="reply to IDENTIFY: a reply frame .* bad CRC"):
        board(FakeBoard(CONFIG, bad_reply=True)).open()


def test_run_without_graph_and_bad_arguments():
    host = board(FakeBoard(CONFIG)).open()
    with pytest.raises(BoardError, match="load a graph before RUN"):
        host.run()
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        SpikeGNNBoard("x", CONFIG, timeout=0)
    with pytest.raises(BoardError, match="is not open"):
        SpikeGNNBoard("x", CONFIG).identify()


GRAPHS = """2
3 0
0 2 1 2
1 1 0
0 2 0 2
2 1
1 1 1
0 1 0
"""


@pytest.fixture
def files(tmp_path):
    graph = tmp_path / "graphs.txt"
    graph.write_text(GRAPHS)
    weights = save_weights(tmp_path / "weights.npz", CONFIG, WEIGHTS_FLOAT)
    return str(graph), str(weights)


def test_cli_run(files, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("sim.host.serial.Serial", lambda *args, **kwargs: FakeBoard(CONFIG))
    graph, weights = files
    out = tmp_path / "run.json"
    code = main(
        ["run", "--port", "fake", "--graph", graph, "--weights", weights, "--json", str(out)]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"configuration hash {CONFIG.config_hash:#06x}" in text
    assert text.count("equals the golden model") == 2
    assert out.is_file()


def test_cli_run_reports_an_absent_port(files, capsys):
    graph, weights = files
    code = main(["run", "--port", ABSENT, "--graph", graph, "--weights", weights])
    assert code == 2
    assert f"cannot open the serial port '{ABSENT}'" in capsys.readouterr().err

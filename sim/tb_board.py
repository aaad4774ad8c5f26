"""cocotb testbench of the board top (``spikegnn_board``: core, framed link, UART, no PLL): frames
from the host codec (:mod:`sim.link`) go bit by bit into the RX pin, and the TX pin's bits are
decoded into reply frames by the same codec and checked against the golden model.

:func:`sim.runner.run_board` starts it with a job (``SPIKEGNN_TB_JOB``), options in
``SPIKEGNN_TB_LINK`` (divisor, timeout, soak size) and reads ``SPIKEGNN_TB_RESULTS`` back.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.queue import Queue
from cocotb.triggers import (
    ClockCycles,
    FallingEdge,
    RisingEdge,
    SimTimeoutError,
    Timer,
    with_timeout,
)

from golden.config import CoreConfig
from golden.fixed import FixedPointModel
from hdl.commands import DESIGN_VERSION
from hdl.framing import LinkStatus, frame_limits
from sim.cycles import predict_cycles
from sim.link import (
    LinkErrorReply,
    ReplyFrame,
    ReplyFrameDecoder,
    decode_reply,
    encode_frame,
    encode_raw_frame,
)
from sim.protocol import (
    IdentifyReply,
    Opcode,
    RunReply,
    Status,
    StatusReply,
    command_word,
    encode_identify,
    encode_load_features,
    encode_load_graph,
    encode_load_graph_csr,
    encode_load_weights,
    encode_run,
    graph_status,
)
from sim.runner import JOB_ENV, LINK_ENV, RESULTS_ENV, TbJob, read_job

__all__ = ["BoardHost", "test_link_errors", "test_link_fuzz", "test_link_inference", "test_soak"]

logger = logging.getLogger("cocotb.tb_board")
logger.setLevel(logging.INFO)

CLOCK_PERIOD_NS = 10
#: Size of the wrapper's ring of received bytes.
RING_BYTES = 8192


class BoardHost:
    """The host at the far end of the simulated UART: sends frames, waits for reply frames.

    Parameters
    ----------
    dut : cocotb handle
        The ``spikegnn_board`` top level.
    config : CoreConfig
    divisor : int
        Clocks per UART bit.
    timeout : int
        The link's inter-byte timeout, clock cycles.
    fast : bool
        Let the wrapper's host-side UART serialise and decode the bytes
        (:data:`sim.runner.BOARD_WRAPPER`) instead of driving and sampling every bit from
        Python; the soak uses it.
    """

    def __init__(self, dut, config: CoreConfig, divisor: int, timeout: int, fast: bool = False):
        self.dut = dut
        self.fast = fast
        self.config = config
        self.divisor = divisor
        self.timeout = timeout
        self.bit_ns = divisor * CLOCK_PERIOD_NS
        self.frames: Queue = Queue()
        self.decoder = ReplyFrameDecoder(config)
        self.frame_errors: list[str] = []
        self.bytes_sent = 0
        self.bytes_received = 0
        self.n_nodes: int | None = None  # the graph the core holds, as the host knows it

    async def start(self) -> None:
        """Reset the board (its wrapper makes the clock) and start the TX monitor."""
        dut = self.dut
        dut.rx.value = 1
        dut.host_fast.value = int(self.fast)
        dut.host_start.value = 0
        dut.host_count.value = 0
        dut.rst.value = 1
        await ClockCycles(dut.clk, 5)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 5)
        cocotb.start_soon(self._fast_monitor() if self.fast else self._monitor())

    # -- the pins ----------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Drive ``data`` into the RX pin, 8N1, one level change per run of equal bits."""
        dut = self.dut
        if self.fast:
            for position, byte in enumerate(data):
                dut.host_bytes[position].value = byte
            dut.host_count.value = len(data)
            dut.host_start.value = 1
            await RisingEdge(dut.host_sent)
            dut.host_start.value = 0
            self.bytes_sent += len(data)
            return
        await FallingEdge(dut.clk)  # change the line between clock edges
        for byte in data:
            bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1]
            run, level = 0, bits[0]
            for bit in bits + [None]:
                if bit == level:
                    run += 1
                    continue
                dut.rx.value = level
                await Timer(run * self.bit_ns, unit="ns")
                run, level = 1, bit
        self.bytes_sent += len(data)

    async def _monitor(self) -> None:
        """Decode the TX pin: sample each bit in its middle, a quarter clock off the edges."""
        dut, bit_ns = self.dut, self.bit_ns
        first = 1.5 * bit_ns + CLOCK_PERIOD_NS / 4
        while True:
            await FallingEdge(dut.tx)
            await Timer(first, unit="ns")
            value = 0
            for i in range(8):
                value |= int(dut.tx.value) << i
                await Timer(bit_ns, unit="ns")
            if not int(dut.tx.value):
                self.frame_errors.append(f"stop bit low after byte {value:#04x}")
            self._take(value)

    async def _fast_monitor(self) -> None:
        """Read the bytes the wrapper decoded from the TX pin whenever a burst of them ends."""
        dut, taken = self.dut, 0
        while True:
            await dut.host_burst.value_change
            received = int(dut.host_received.value)
            while taken != received:
                self._take(int(dut.host_rx_bytes[taken % RING_BYTES].value))
                taken = (taken + 1) % (1 << 16)
            if int(dut.host_stop_error.value):
                self.frame_errors.append("the wrapper's receiver saw a low stop bit")

    def _take(self, value: int) -> None:
        self.bytes_received += 1
        try:
            frame = self.decoder.feed(value)
        except Exception as error:  # a bad CRC or length from the board
            self.frame_errors.append(str(error))
            return
        if frame is not None:
            self.frames.put_nowait(frame)

    # -- requests ----------------------------------------------------------------------

    def frame_cycles(self, n_bytes: int) -> int:
        """Clock cycles ``n_bytes`` take on the line."""
        return n_bytes * 10 * self.divisor

    async def receive(self, cycles: int) -> ReplyFrame | None:
        """The next reply frame, or None when none comes within ``cycles``."""
        try:
            return await with_timeout(self.frames.get(), cycles * CLOCK_PERIOD_NS, "ns")
        except SimTimeoutError:
            return None

    async def request(self, words, opcode: int, n_nodes: int | None = None, extra: int = 0):
        """Send one command's frame and return the decoded reply.

        Raises
        ------
        AssertionError
            If no reply frame arrives in time.
        """
        frame = encode_frame(self.config, words)
        await self.send(frame)
        reply_bytes = 6 + 4 * frame_limits(self.config).max_reply_words
        wait = self.frame_cycles(reply_bytes) + 2 * self.timeout + extra + 2000
        got = await self.receive(wait)
        assert got is not None, (
            f"no reply frame within {wait} cycles to the frame of opcode {opcode:#x}"
        )
        return decode_reply(self.config, got, opcode, n_nodes)

    async def drain(self) -> list[ReplyFrame]:
        """Wait out the link's timeout and return every reply frame that arrives meanwhile."""
        frames = []
        while True:
            got = await self.receive(2 * self.timeout + self.frame_cycles(16))
            if got is None:
                return frames
            frames.append(got)

    async def identify(self):
        return await self.request(encode_identify(self.config), Opcode.IDENTIFY)

    async def load_weights(self, weights_q, class_bias=None):
        words = encode_load_weights(self.config, weights_q, class_bias)
        return await self.request(words, Opcode.LOAD_WEIGHTS)

    async def load_graph(self, adjacency):
        reply = await self.request(encode_load_graph(self.config, adjacency), Opcode.LOAD_GRAPH)
        if isinstance(reply, StatusReply):
            self.n_nodes = np.asarray(adjacency).shape[0] if reply.ok else None
        return reply

    async def load_features(self, features_q):
        return await self.request(
            encode_load_features(self.config, features_q), Opcode.LOAD_FEATURES
        )

    async def run(self, cycles: int):
        return await self.request(encode_run(self.config), Opcode.RUN, self.n_nodes, cycles)


# --------------------------------------------------------------------------------------------
# Job, golden answers, results


def _options() -> dict:
    text = os.environ.get(LINK_ENV, "{}")
    return json.loads(text)


def _load() -> tuple[TbJob, dict]:
    path = os.environ.get(JOB_ENV)
    assert path, f"set {JOB_ENV} to a job file written by sim.runner.write_job."
    return read_job(Path(path)), _options()


def golden_run(config: CoreConfig, model: FixedPointModel, graphs) -> list[RunReply]:
    """The golden answer (counts, class, predicted cycles) to each ``(adjacency, features_q)``."""
    if not graphs:
        return []
    one = config.feature_one
    result = model.run_graphs([(a, x / one) for a, x in graphs])
    return [
        RunReply(
            result.graph_counts(i).astype(np.int64),
            int(result.classes[i]),
            int(predict_cycles(config, graphs[i][0])),
        )
        for i in range(len(graphs))
    ]


def _describe(reply) -> str:
    if isinstance(reply, LinkErrorReply):
        return f"link error {reply.status.name}"
    if isinstance(reply, StatusReply):
        return f"status {reply.code} for opcode {reply.opcode:#x}"
    if isinstance(reply, RunReply):
        return f"RUN result class {reply.klass}, {reply.cycles} cycles"
    return repr(reply)


def _write_results(data: dict) -> None:
    path = os.environ.get(RESULTS_ENV)
    if path:
        Path(path).write_text(json.dumps(data))


async def _start(dut) -> tuple[TbJob, dict, BoardHost]:
    job, options = _load()
    fast = bool(options.get("fast", False))
    host = BoardHost(dut, job.config, int(options["divisor"]), int(options["timeout"]), fast)
    await host.start()
    return job, options, host


async def _expect_ok(host: BoardHost, coroutine, label: str) -> None:
    reply = await coroutine
    assert isinstance(reply, StatusReply) and reply.ok, f"{label}: got {_describe(reply)}"


async def _inference(host: BoardHost, adjacency, features_q, golden: RunReply, label: str):
    await _expect_ok(host, host.load_graph(adjacency), f"{label} LOAD_GRAPH")
    await _expect_ok(host, host.load_features(features_q), f"{label} LOAD_FEATURES")
    return await _check_run(host, golden, label)


async def _check_run(host: BoardHost, golden: RunReply, label: str) -> RunReply:
    got = await host.run(4 * golden.cycles)
    assert isinstance(got, RunReply), f"{label} RUN: got {_describe(got)}"
    assert got == golden, (
        f"{label} RUN: expected class {golden.klass}, counts {golden.counts.tolist()}, "
        f"{golden.cycles} cycles; got class {got.klass}, counts {got.counts.tolist()}, "
        f"{got.cycles} cycles"
    )
    return got


async def _identify(host: BoardHost, label: str) -> None:
    reply = await host.identify()
    expected = IdentifyReply(host.config.config_hash, DESIGN_VERSION)
    assert reply == expected, f"{label}: expected {expected}, got {_describe(reply)}"


# --------------------------------------------------------------------------------------------
# Tests


@cocotb.test()
async def test_link_inference(dut):
    """IDENTIFY, weights, then every graph of the job: results equal the golden model."""
    job, _, host = await _start(dut)
    config = job.config
    golden = golden_run(config, FixedPointModel(config, job.weights, job.class_bias), job.graphs)
    await _identify(host, "IDENTIFY")
    await _expect_ok(host, host.load_weights(job.weights, job.class_bias), "LOAD_WEIGHTS")
    results = []
    for index, ((adjacency, features_q), want) in enumerate(zip(job.graphs, golden, strict=True)):
        got = await _inference(host, adjacency, features_q, want, f"graph {index}")
        results.append({"class": got.klass, "cycles": got.cycles, "counts": got.counts.tolist()})
    await _identify(host, "IDENTIFY after the graphs")
    assert not host.frame_errors, f"bad reply frames: {host.frame_errors}"
    _write_results({"graphs": results, "bytes_sent": host.bytes_sent})


def _bad_frames(config: CoreConfig, adjacency, features_q, other) -> list:
    """(label, frame bytes, expected link status or None for 'any error') of the error test."""
    limits = frame_limits(config)
    graph_words = encode_load_graph(config, other)
    graph = encode_frame(config, graph_words)
    flipped_crc = bytearray(graph)
    flipped_crc[-1] ^= 0x01
    flipped_data = bytearray(graph)
    flipped_data[5] ^= 0x80
    features = encode_frame(config, encode_load_features(config, features_q))
    run = encode_run(config)
    shift = config.word_width - 4
    return [
        ("corrupt CRC", bytes(flipped_crc), LinkStatus.BAD_CRC),
        ("corrupt data byte", bytes(flipped_data), LinkStatus.BAD_CRC),
        ("truncated LOAD_FEATURES", features[: len(features) // 2], LinkStatus.TIMEOUT),
        ("header only", features[:3], LinkStatus.TIMEOUT),
        (
            "length one word short",
            encode_raw_frame(config, graph_words[:-1]),
            LinkStatus.BAD_LENGTH,
        ),
        (
            "length one word long",
            encode_raw_frame(config, graph_words + [0]),
            LinkStatus.BAD_LENGTH,
        ),
        ("RUN with two words", encode_raw_frame(config, run + run), LinkStatus.BAD_LENGTH),
        ("length 0", encode_raw_frame(config, []), LinkStatus.BAD_LENGTH),
        (
            "longer than the buffer",
            encode_raw_frame(config, [1 << shift] + [0] * limits.buffer_words),
            LinkStatus.BAD_LENGTH,
        ),
        ("unknown opcode 0x6", encode_raw_frame(config, [6 << shift]), LinkStatus.UNKNOWN_COMMAND),
        ("unknown opcode 0x0", encode_raw_frame(config, [0x0]), LinkStatus.UNKNOWN_COMMAND),
        (
            "unknown opcode 0xF",
            encode_raw_frame(config, [(0xF << shift) | 3]),
            LinkStatus.UNKNOWN_COMMAND,
        ),
    ]


@cocotb.test()
async def test_link_errors(dut):
    """Corrupt, truncated, mis-sized and unknown frames get their error reply and change
    nothing: the next RUN gives the same golden answer; garbage between frames is skipped."""
    job, _, host = await _start(dut)
    config = job.config
    model = FixedPointModel(config, job.weights, job.class_bias)
    golden = golden_run(config, model, job.graphs)
    (adjacency, features_q), (other, _) = job.graphs[0], job.graphs[1]

    # RUN before anything: the core's NOT_READY, carried in an OK frame.
    reply = await host.run(1000)
    assert reply == StatusReply(Opcode.RUN, Status.NOT_READY), _describe(reply)
    await _expect_ok(host, host.load_weights(job.weights, job.class_bias), "LOAD_WEIGHTS")
    await _inference(host, adjacency, features_q, golden[0], "graph 0")

    checked = []
    for label, frame, status in _bad_frames(config, adjacency, features_q, other):
        await host.send(frame)
        frames = await host.drain()
        got = [f.status for f in frames]
        assert got == [status], f"{label}: expected one {status.name} reply, got {got}"
        await _check_run(host, golden[0], f"RUN after {label}")
        checked.append(label)

    # Garbage without a sync byte is skipped; the next frame is answered as usual.
    await host.send(bytes([0x00, 0xFF, 0x13, 0x5A, 0x37]))
    assert await host.drain() == [], "garbage bytes were answered"
    await _identify(host, "IDENTIFY after garbage")
    await _check_run(host, golden[0], "RUN after garbage")

    # A good frame after all that: a new graph gives its own golden answer.
    await _inference(host, *job.graphs[1], golden[1], "graph 1")
    assert not host.frame_errors, f"bad reply frames: {host.frame_errors}"
    _write_results({"checked": checked, "bytes_sent": host.bytes_sent})


def _mutations(config: CoreConfig, rng: random.Random, frame: bytes, words) -> list:
    """Bad variants of one good frame: (label, bytes, kind) with kind 'link' or 'none'."""
    cases = []
    position = rng.randrange(1, len(frame))
    bit = rng.randrange(8)
    flipped = bytearray(frame)
    flipped[position] ^= 1 << bit
    cases.append((f"bit {bit} of byte {position} flipped", bytes(flipped), "link"))
    cut = rng.randrange(1, len(frame))
    cases.append((f"cut after {cut} of {len(frame)} bytes", frame[:cut], "link"))
    wrong = rng.choice([n for n in range(0, len(words) + 3) if n != len(words)])
    body = (list(words) + [rng.randrange(1 << config.word_width) for _ in range(3)])[:wrong]
    cases.append(
        (f"length {wrong} instead of {len(words)}", encode_raw_frame(config, body), "link")
    )
    sync = bytearray(frame)
    sync[0] ^= 0xFF
    cases.append(("sync byte corrupted", bytes(sync), "any"))
    return cases


@cocotb.test()
async def test_link_fuzz(dut):
    """Generated bad frames: every one ends in link error replies (or, with a lost sync byte,
    possibly none), the core keeps its state, and the next good request succeeds. Bad contents
    in well-formed frames get the core's own error status."""
    job, options, host = await _start(dut)
    config = job.config
    rng = random.Random(job.seed)
    model = FixedPointModel(config, job.weights, job.class_bias)
    golden = golden_run(config, model, job.graphs)
    adjacency, features_q = job.graphs[0]
    n_nodes = adjacency.shape[0]
    await _expect_ok(host, host.load_weights(job.weights, job.class_bias), "LOAD_WEIGHTS")
    await _inference(host, adjacency, features_q, golden[0], "graph 0")

    rounds = int(options.get("rounds", 4))
    counts = {"link": 0, "core": 0, "silent": 0}
    for round_index in range(rounds):
        source = job.graphs[1 + round_index % (len(job.graphs) - 1)]
        commands = [
            encode_load_graph(config, source[0]),
            encode_load_features(config, source[1]),
            encode_run(config),
            encode_identify(config),
        ]
        words = rng.choice(commands)
        for label, frame, kind in _mutations(config, rng, encode_frame(config, words), words):
            label = f"round {round_index}: {label}"
            await host.send(frame)
            frames = await host.drain()
            statuses = [f.status for f in frames]
            assert all(s != LinkStatus.OK for s in statuses), f"{label}: got replies {statuses}"
            if kind == "link":
                assert statuses, f"{label}: no error reply"
            counts["link" if statuses else "silent"] += 1
            await _check_run(host, golden[0], f"RUN after {label}")

    # Well-formed frames with bad contents: the core answers its own status and keeps its
    # weights; the graph load is void (docs/protocol.md), so the good graph is loaded again.
    top = config.max_nodes + 1
    bad_graphs = [
        ("neighbour index N", n_nodes, [1] + [0] * (n_nodes - 1), [n_nodes]),
        ("neighbour index max", n_nodes, [0] * (n_nodes - 1) + [1], [(1 << config.word_width) - 1]),
        ("degrees not adding up to E", n_nodes, [2] + [0] * (n_nodes - 1), [0]),
        ("N above max_nodes", top, [0] * (top - 1) + [1], [0]),
    ]
    edges = config.max_edges + 1
    if 2 + 1 + edges <= frame_limits(config).buffer_words:
        bad_graphs.append(("E above max_edges", 1, [edges], [0] * edges))
    for label, n, degrees, neighbours in bad_graphs:
        words = encode_load_graph_csr(config, n, degrees, neighbours, strict=False)
        reply = await host.request(words, Opcode.LOAD_GRAPH)
        want = graph_status(config, n, degrees, neighbours)
        assert want != Status.OK
        assert reply == StatusReply(Opcode.LOAD_GRAPH, want), f"{label}: {_describe(reply)}"
        counts["core"] += 1
        reply = await host.run(1000)
        assert reply == StatusReply(Opcode.RUN, Status.NOT_READY), f"{label}: {_describe(reply)}"
        await _expect_ok(host, host.load_graph(adjacency), f"LOAD_GRAPH after {label}")
        await _check_run(host, golden[0], f"RUN after {label}")
    too_big = np.array(features_q)
    too_big[0, 0] = config.feature_one + 1
    reply = await host.request(
        encode_load_features(config, too_big, strict=False), Opcode.LOAD_FEATURES
    )
    assert reply == StatusReply(Opcode.LOAD_FEATURES, Status.BAD_VALUE), _describe(reply)
    await _inference(host, adjacency, features_q, golden[0], "graph 0 after bad features")
    unknown = command_word(config, 0x7, 1)
    await host.send(encode_raw_frame(config, [unknown]))
    assert [f.status for f in await host.drain()] == [LinkStatus.UNKNOWN_COMMAND]
    assert not host.frame_errors, f"bad reply frames: {host.frame_errors}"
    _write_results({"counts": counts, "bytes_sent": host.bytes_sent})


@cocotb.test()
async def test_soak(dut):
    """Stream random graphs through the link (weights loaded once) and compare every answer
    with the golden model; count mismatches and lost results rather than stopping."""
    job, options, host = await _start(dut)
    config = job.config
    count = int(options.get("graphs", 100))
    seed = job.seed
    progress_file = options.get("progress_file")
    model = FixedPointModel(config, job.weights, job.class_bias)
    rng = np.random.default_rng(seed)
    await _identify(host, "IDENTIFY")
    await _expect_ok(host, host.load_weights(job.weights, job.class_bias), "LOAD_WEIGHTS")

    from sim.soak import soak_graphs

    mismatches, lost, cycles_run = [], [], 0
    done = 0
    started = time.perf_counter()
    batch = 200
    while done < count:
        graphs = soak_graphs(config, rng, min(batch, count - done))
        golden = golden_run(config, model, graphs)
        for (adjacency, features_q), want in zip(graphs, golden, strict=True):
            index = done
            try:
                replies = [
                    await host.load_graph(adjacency),
                    await host.load_features(features_q),
                    await host.run(4 * want.cycles),
                ]
            except AssertionError as error:  # no reply frame in time
                lost.append(f"graph {index}: {error}")
                host.decoder.reset()
                await host.drain()
                done += 1
                continue
            got = replies[-1]
            if not isinstance(got, RunReply):
                lost.append(f"graph {index}: " + ", ".join(_describe(r) for r in replies))
            elif got != want:
                mismatches.append(
                    f"graph {index}: expected class {want.klass}, {want.cycles} cycles, counts "
                    f"{want.counts.tolist()}; got class {got.klass}, {got.cycles} cycles, "
                    f"counts {got.counts.tolist()}"
                )
            cycles_run += want.cycles
            done += 1
            if progress_file and done % 20 == 0:
                Path(progress_file).write_text(str(done))
    elapsed = time.perf_counter() - started
    sim_ns = cocotb.utils.get_sim_time(unit="ns")
    _write_results(
        {
            "graphs": count,
            "mismatches": mismatches,
            "lost": lost,
            "frame_errors": host.frame_errors,
            "wall_seconds": elapsed,
            "simulated_cycles": int(sim_ns // CLOCK_PERIOD_NS),
            "inference_cycles": cycles_run,
            "bytes_sent": host.bytes_sent,
            "bytes_received": host.bytes_received,
            "seed": seed,
        }
    )
    if progress_file:
        Path(progress_file).write_text(str(done))

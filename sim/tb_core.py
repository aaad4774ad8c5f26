"""cocotb testbench of ``spikegnn_core``: a command driver, a reply monitor and an in-order
scoreboard that checks every spike count, class and cycle count against the golden model.

Runs inside the simulator; :func:`sim.runner.run_rtl` starts it with a JSON job named by
``SPIKEGNN_TB_JOB`` and reads the hardware's answers back from ``SPIKEGNN_TB_RESULTS``.
``SPIKEGNN_TB_IDLE`` and ``SPIKEGNN_TB_BACKPRESSURE`` override the job's probabilities.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import (
    ClockCycles,
    Event,
    ReadOnly,
    RisingEdge,
    SimTimeoutError,
    with_timeout,
)

from golden.config import CoreConfig
from golden.fixed import FixedPointModel
from hdl.commands import DESIGN_VERSION
from sim.cycles import predict_cycles
from sim.protocol import (
    HostSession,
    IdentifyReply,
    Opcode,
    RunReply,
    Status,
    StatusReply,
    command_word,
)
from sim.runner import JOB_ENV, RESULTS_ENV, TbJob, read_job

__all__ = ["TB", "Expected", "golden_replies", "test_errors", "test_inference"]

logger = logging.getLogger("cocotb.tb_core")
logger.setLevel(logging.INFO)

CLOCK_PERIOD_NS = 10
#: Cycles to wait after the last reply to be sure the core sends nothing more.
SETTLE_CYCLES = 200
#: Most mismatches listed in one failure message.
MAX_REPORTED = 20


@dataclass
class Expected:
    """One reply the scoreboard waits for.

    Attributes
    ----------
    label : str
        Where the reply belongs, for messages: ``"graph 3 RUN"``.
    reply : StatusReply or RunReply or IdentifyReply
        The expected reply; an ``IdentifyReply`` with version -1 accepts any version.
    graph : int or None
        Index of the job's graph whose ``RUN`` this answers, to record the result.
    """

    label: str
    reply: object
    graph: int | None = None


@dataclass
class Scoreboard:
    """Compare the decoded replies, in order, with the expected ones.

    Attributes
    ----------
    mismatches : list of str
        One sentence for every difference found.
    results : dict
        The hardware's answer to every ``RUN`` of a job graph, by graph index.
    """

    seed: int
    expected: deque = field(default_factory=deque)
    mismatches: list = field(default_factory=list)
    results: dict = field(default_factory=dict)
    identify: IdentifyReply | None = None
    compared: int = 0

    def check(self, got) -> None:
        """Compare one decoded reply with the next expected one."""
        if not self.expected:
            self.mismatches.append(f"an extra reply {got!r} arrived (seed {self.seed}).")
            return
        want = self.expected.popleft()
        self.compared += 1
        if isinstance(got, RunReply) and want.graph is not None:
            self.results[want.graph] = got
        if isinstance(got, IdentifyReply):
            self.identify = got
        self._compare(want, got)

    def _compare(self, want: Expected, got) -> None:
        expected, seed = want.reply, self.seed
        if type(got) is not type(expected) or got.opcode != expected.opcode:
            self.mismatches.append(
                f"{want.label}: expected {_show(expected)} but got {_show(got)} (seed {seed})."
            )
            return
        if isinstance(expected, StatusReply):
            if got.code != expected.code:
                self.mismatches.append(
                    f"{want.label}: expected status {_status(expected.code)} but got "
                    f"{_status(got.code)} (seed {seed})."
                )
            return
        if isinstance(expected, IdentifyReply):
            if got.config_hash != expected.config_hash:
                self.mismatches.append(
                    f"{want.label}: expected configuration hash {expected.config_hash:#06x} "
                    f"but got {got.config_hash:#06x} (seed {seed})."
                )
            if expected.version >= 0 and got.version != expected.version:
                self.mismatches.append(
                    f"{want.label}: expected version {expected.version:#x} but got "
                    f"{got.version:#x} (seed {seed})."
                )
            return
        for node, klass in zip(*np.nonzero(got.counts != expected.counts), strict=True):
            self.mismatches.append(
                f"{want.label}: node {node}, class {klass}: expected spike count "
                f"{expected.counts[node, klass]} but got {got.counts[node, klass]} (seed {seed})."
            )
        if got.klass != expected.klass:
            self.mismatches.append(
                f"{want.label}: expected class {expected.klass} but got {got.klass} "
                f"(class sums {expected.counts.sum(axis=0).tolist()} expected, "
                f"{got.counts.sum(axis=0).tolist()} got; seed {seed})."
            )
        if got.cycles != expected.cycles:
            self.mismatches.append(
                f"{want.label}: expected {expected.cycles} cycles (sim.cycles.predict_cycles) "
                f"but got {got.cycles} (seed {seed})."
            )


def _status(code: int) -> str:
    try:
        return f"{code} ({Status(code).name})"
    except ValueError:
        return str(code)


def _show(reply) -> str:
    if isinstance(reply, StatusReply):
        return f"status {_status(reply.code)} for opcode {reply.opcode:#x}"
    if isinstance(reply, RunReply):
        return f"a RUN result (class {reply.klass}, {reply.cycles} cycles)"
    return repr(reply)


class TB:
    """Clock, reset, command driver, reply monitor and scoreboard around ``spikegnn_core``.

    The driver inserts an idle cycle before a command word with probability ``idle``; the
    monitor holds ``o_reply__ready`` low in a cycle with probability ``backpressure``. Both
    draw from one ``random.Random(seed)``, so a seed reproduces a run.

    Parameters
    ----------
    dut : cocotb handle
        The ``spikegnn_core`` top level.
    config : CoreConfig
    seed : int
    idle, backpressure : float
    """

    def __init__(self, dut, config: CoreConfig, *, seed: int, idle: float, backpressure: float):
        self.dut = dut
        self.config = config
        self.seed = seed
        self.idle = idle
        self.backpressure = backpressure
        self.rng = random.Random(seed)
        self.session = HostSession(config)
        self.scoreboard = Scoreboard(seed)
        self.words_sent = 0
        self.words_received = 0
        self.protocol_error: Exception | None = None
        self._commands: deque[int] = deque()
        self._wake_driver = Event()
        self._all_replies = Event()
        self._edge = RisingEdge(dut.clk)

    # -- set-up ------------------------------------------------------------------------

    async def start(self, reset_cycles: int = 5) -> None:
        """Start the clock, hold reset for ``reset_cycles`` and start the driver and monitor."""
        dut = self.dut
        dut.i_cmd__valid.value = 0
        dut.i_cmd__payload.value = 0
        dut.o_reply__ready.value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        await ClockCycles(dut.clk, reset_cycles)
        dut.rst.value = 0
        await self._edge
        cocotb.start_soon(self._drive())
        cocotb.start_soon(self._monitor())

    # -- host side ---------------------------------------------------------------------

    def send(self, words, expected) -> None:
        """Queue command words and the replies they must produce (a list of :class:`Expected`)."""
        self.scoreboard.expected.extend(expected)
        self._commands.extend(int(w) for w in words)
        self._all_replies.clear()
        self._wake_driver.set()

    async def wait_replies(self, timeout_cycles: int) -> None:
        """Wait until every command sent has had its reply, then check nothing more follows.

        Raises
        ------
        AssertionError
            On a protocol error, a timeout, or a word after the last expected reply.
        """
        try:
            await with_timeout(self._all_replies.wait(), timeout_cycles * CLOCK_PERIOD_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(
                f"the core did not answer within {timeout_cycles} cycles: "
                f"{len(self._commands)} command words still queued, "
                f"{self.session.decoder.outstanding} replies outstanding, "
                f"{len(self.scoreboard.expected)} expected (seed {self.seed})."
            ) from None
        self._raise_protocol_error()
        before = self.words_received
        await ClockCycles(self.dut.clk, SETTLE_CYCLES)
        self._raise_protocol_error()
        assert self.words_received == before and not self.scoreboard.expected, (
            f"the core sent {self.words_received - before} reply words after the last "
            f"expected reply (seed {self.seed})."
        )
        assert not self._commands, f"{len(self._commands)} command words were never accepted."

    def _raise_protocol_error(self) -> None:
        if self.protocol_error is not None:
            raise AssertionError(
                f"protocol error after {self.words_received} reply words: "
                f"{self.protocol_error} (seed {self.seed})."
            )

    # -- driver and monitor ------------------------------------------------------------

    async def _drive(self) -> None:
        """Offer queued command words on ``i_cmd``; hold each until the core takes it."""
        dut, edge = self.dut, self._edge
        while True:
            if not self._commands:
                dut.i_cmd__valid.value = 0
                self._wake_driver.clear()
                await self._wake_driver.wait()
                await edge
                continue
            if self.idle and self.rng.random() < self.idle:
                dut.i_cmd__valid.value = 0
                await edge
                continue
            dut.i_cmd__payload.value = self._commands[0]
            dut.i_cmd__valid.value = 1
            await ReadOnly()
            while not dut.i_cmd__ready.value:
                # The core is busy: sleep until ready rises instead of waking every cycle.
                await RisingEdge(dut.i_cmd__ready)
                await ReadOnly()
            self._commands.popleft()
            self.words_sent += 1
            await edge

    async def _monitor(self) -> None:
        """Take reply words from ``o_reply`` under random back-pressure and decode them."""
        dut, edge = self.dut, self._edge
        while True:
            ready = not (self.backpressure and self.rng.random() < self.backpressure)
            dut.o_reply__ready.value = int(ready)
            await ReadOnly()
            if not dut.o_reply__valid.value:
                # Nothing offered: sleep until valid rises instead of waking every cycle.
                await RisingEdge(dut.o_reply__valid)
                continue
            if ready:
                self._take(int(dut.o_reply__payload.value))
            await edge

    def _take(self, word: int) -> None:
        self.words_received += 1
        if self.protocol_error is not None:
            return
        try:
            reply = self.session.feed(word)
        except Exception as error:  # a ProtocolError, or a word past every expected reply
            self.protocol_error = error
            self._all_replies.set()
            return
        if reply is not None:
            self.scoreboard.check(reply)
            if self.session.decoder.idle:
                self._all_replies.set()


# --------------------------------------------------------------------------------------------
# Expected results


def golden_replies(job: TbJob) -> list[RunReply]:
    """The golden model's answer to every graph of a job: counts, class and cycle count."""
    model = FixedPointModel(job.config, job.weights, job.class_bias)
    one = job.config.feature_one
    replies = []
    for adjacency, features_q in job.graphs:
        result = model.run_graphs([(adjacency, features_q / one)])
        replies.append(
            RunReply(
                result.graph_counts(0).astype(np.int64),
                int(result.classes[0]),
                int(predict_cycles(job.config, adjacency)),
            )
        )
    return replies


def _ok(opcode: int) -> StatusReply:
    return StatusReply(opcode, Status.OK)


def _inference(tb: TB, job: TbJob, index: int, golden: RunReply, weights: bool) -> int:
    """Queue graph ``index``'s commands and expected replies; return the words queued."""
    session, (adjacency, features_q) = tb.session, job.graphs[index]
    label = f"graph {index}"
    words, expected = [], []
    if weights:
        words += session.load_weights(job.weights, job.class_bias)
        expected.append(Expected(f"{label} LOAD_WEIGHTS", _ok(Opcode.LOAD_WEIGHTS)))
    words += session.load_graph(adjacency)
    words += session.load_features(features_q)
    words += session.run()
    expected += [
        Expected(f"{label} LOAD_GRAPH", _ok(Opcode.LOAD_GRAPH)),
        Expected(f"{label} LOAD_FEATURES", _ok(Opcode.LOAD_FEATURES)),
        Expected(f"{label} RUN", golden, graph=index),
    ]
    tb.send(words, expected)
    return len(words)


def _identify(tb: TB, label: str) -> None:
    expected = IdentifyReply(tb.config.config_hash, DESIGN_VERSION)
    tb.send(tb.session.identify(), [Expected(label, expected)])


def _timeout(job: TbJob, golden, words: int) -> int:
    """Generous cycle budget: every inference and every word at the worst idle/back-pressure."""
    slow = 1.0 / (1.0 - job.idle) + 1.0 / (1.0 - job.backpressure)
    reply_words = sum(g.counts.size + 4 for g in golden)
    return int(4 * (sum(g.cycles for g in golden) + slow * (words + reply_words)) + 10_000)


def _write_results(job: TbJob, tb: TB, golden, name: str) -> None:
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    graphs = []
    for index in range(len(golden)):
        got = tb.scoreboard.results.get(index)
        graphs.append(
            {
                "counts": None if got is None else got.counts.tolist(),
                "class": None if got is None else got.klass,
                "cycles": None if got is None else got.cycles,
                "expected_class": golden[index].klass,
                "expected_cycles": golden[index].cycles,
            }
        )
    identify = tb.scoreboard.identify
    data = {
        "testcase": name,
        "seed": job.seed,
        "graphs": graphs,
        "identify": None if identify is None else [identify.config_hash, identify.version],
        "mismatches": tb.scoreboard.mismatches,
        "words_sent": tb.words_sent,
        "words_received": tb.words_received,
    }
    Path(path).write_text(json.dumps(data))


def _load() -> TbJob:
    path = os.environ.get(JOB_ENV)
    assert path, f"set {JOB_ENV} to a job file written by sim.runner.write_job."
    job = read_job(Path(path))
    idle = os.environ.get("SPIKEGNN_TB_IDLE")
    backpressure = os.environ.get("SPIKEGNN_TB_BACKPRESSURE")
    if idle is not None or backpressure is not None:
        job = TbJob(
            job.config,
            job.weights,
            job.graphs,
            job.seed,
            float(idle) if idle is not None else job.idle,
            float(backpressure) if backpressure is not None else job.backpressure,
            job.check,
            job.class_bias,
        )
    return job


def _finish(job: TbJob, tb: TB, golden, name: str) -> None:
    _write_results(job, tb, golden, name)
    mismatches = tb.scoreboard.mismatches
    logger.info(
        "%s: %d replies compared, %d mismatches, %d command words, %d reply words, seed %d",
        name,
        tb.scoreboard.compared,
        len(mismatches),
        tb.words_sent,
        tb.words_received,
        job.seed,
    )
    if mismatches and job.check:
        shown = "\n".join(mismatches[:MAX_REPORTED])
        more = len(mismatches) - MAX_REPORTED
        raise AssertionError(
            f"{len(mismatches)} mismatches with the golden model (seed {job.seed}):\n{shown}"
            + (f"\n... and {more} more" if more > 0 else "")
        )


# --------------------------------------------------------------------------------------------
# Tests


@cocotb.test()
async def test_inference(dut):
    """Every graph of the job: counts, class and cycle count equal the golden model's."""
    job = _load()
    golden = golden_replies(job)
    tb = TB(dut, job.config, seed=job.seed, idle=job.idle, backpressure=job.backpressure)
    await tb.start()

    _identify(tb, "IDENTIFY")
    words = 1
    halfway = len(job.graphs) // 2
    for index, reply in enumerate(golden):
        # Weights go with the first graph and again halfway, to check a reload changes nothing.
        words += _inference(tb, job, index, reply, weights=index in (0, halfway))
    try:
        await tb.wait_replies(_timeout(job, golden, words))
    finally:
        _write_results(job, tb, golden, "test_inference")
    _finish(job, tb, golden, "test_inference")


@cocotb.test()
async def test_errors(dut):
    """Bad commands get their status codes, leave the core in step, and inference still works."""
    job = _load()
    config = job.config
    golden = golden_replies(job)[:1]
    tb = TB(dut, config, seed=job.seed, idle=job.idle, backpressure=job.backpressure)
    session = tb.session
    await tb.start()
    adjacency, features_q = job.graphs[0]
    n_nodes = adjacency.shape[0]

    def status(label: str, opcode: int, code: int) -> Expected:
        return Expected(label, StatusReply(opcode, code))

    # RUN right after reset: no graph yet.
    tb.send(session.run(), [status("RUN after reset", Opcode.RUN, Status.NOT_READY)])

    # Unknown opcodes are dropped, one word each, between the loads of a good inference.
    words = session.load_weights(job.weights, job.class_bias) + session.load_graph(adjacency)
    expected = [
        status("LOAD_WEIGHTS", Opcode.LOAD_WEIGHTS, Status.OK),
        status("LOAD_GRAPH", Opcode.LOAD_GRAPH, Status.OK),
    ]
    for opcode in (0x0, 0x6, 0xF):
        word = command_word(config, opcode, 0x5A5 & ((1 << (config.word_width - 4)) - 1))
        words += session.raw([word], opcode)
        expected.append(status(f"opcode {opcode:#x}", opcode, Status.UNKNOWN_OPCODE))
    words += session.load_features(features_q) + session.run()
    expected += [
        status("LOAD_FEATURES", Opcode.LOAD_FEATURES, Status.OK),
        Expected("graph 0 RUN after unknown opcodes", golden[0], graph=0),
    ]
    tb.send(words, expected)

    # Bad graphs: each consumes the words its header announces, and RUN is refused after it.
    bad_graphs = [
        ("neighbour index N", n_nodes, [1] + [0] * (n_nodes - 1), [n_nodes]),
        ("neighbour index max", n_nodes, [0] * (n_nodes - 1) + [1], [config.max_nodes]),
        ("N = 0", 0, [], []),
        ("degrees that do not add up to E", n_nodes, [2] + [0] * (n_nodes - 1), [0]),
    ]
    top = config.max_nodes + 1
    if top < 1 << (config.word_width - 4):
        bad_graphs.append(("N above max_nodes", top, [0] * (top - 1) + [1], [0]))
    edges = config.max_edges + 1
    bad_graphs.append(("E above max_edges", 1, [edges], [0] * edges))
    for label, n, degrees, neighbours in bad_graphs:
        words, code = session.load_graph_csr(n, degrees, neighbours)
        words += session.run()
        tb.send(
            words,
            [
                status(f"LOAD_GRAPH with {label}", Opcode.LOAD_GRAPH, code),
                status(f"RUN after LOAD_GRAPH with {label}", Opcode.RUN, Status.NOT_READY),
            ],
        )

    # Bad features on a good graph: a value above 1.0, N = 0 or above max_nodes, and a node
    # count that is not the graph's (the load itself is fine, but RUN is refused).
    width = config.layer_dims[0]
    words = session.load_graph(adjacency)
    expected = [status("LOAD_GRAPH", Opcode.LOAD_GRAPH, Status.OK)]
    too_big = np.array(features_q)
    too_big[-1, -1] = config.feature_one + 1
    zero = command_word(config, Opcode.LOAD_FEATURES, 0)
    # (label, a function that encodes the load and announces its reply, expected status)
    bad_features = [
        ("above 1.0", lambda: session.load_features(too_big, strict=False), Status.BAD_VALUE),
        ("for 0 nodes", lambda: session.raw([zero], Opcode.LOAD_FEATURES), Status.BAD_ARGUMENT),
    ]
    if top < 1 << (config.word_width - 4):
        too_many = np.zeros((top, width), dtype=np.int64)
        bad_features.append(
            (
                f"for {top} nodes",
                lambda: session.load_features(too_many, strict=False),
                Status.BAD_ARGUMENT,
            )
        )
    other = n_nodes + 1 if n_nodes < config.max_nodes else n_nodes - 1
    if other >= 1:
        others = np.zeros((other, width), dtype=np.int64)
        bad_features.append(
            (f"for {other} nodes", lambda: session.load_features(others), Status.OK)
        )
    for label, load, code in bad_features:
        words += load() + session.run()
        expected += [
            status(f"LOAD_FEATURES {label}", Opcode.LOAD_FEATURES, code),
            status(f"RUN after LOAD_FEATURES {label}", Opcode.RUN, Status.NOT_READY),
        ]
    tb.send(words, expected)

    # A good inference still works, and IDENTIFY answers.
    words = session.load_features(features_q) + session.run()
    tb.send(
        words,
        [
            status("LOAD_FEATURES again", Opcode.LOAD_FEATURES, Status.OK),
            Expected("graph 0 RUN after the errors", golden[0], graph=0),
        ],
    )
    _identify(tb, "IDENTIFY after the errors")
    try:
        await tb.wait_replies(_timeout(job, golden * 2, 4 * config.max_edges + 2000))
    finally:
        _write_results(job, tb, golden, "test_errors")
    _finish(job, tb, golden, "test_errors")

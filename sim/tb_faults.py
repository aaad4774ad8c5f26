"""cocotb testbench of reset faults: reset at random clocks while loading and while an inference
runs, check that the core comes back idle, then a full load and inference against the golden model.

:func:`sim.runner.run_rtl` starts it with ``test_module="sim.tb_faults"``; the job's seed draws
every reset point, and each one is logged with the seed.
"""

from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from sim.cycles import predict_cycles
from sim.protocol import HostSession, Opcode, RunReply, Status, StatusReply
from sim.runner import RESULTS_ENV
from sim.tb_core import CLOCK_PERIOD_NS, _load, golden_replies

__all__ = ["test_reset_faults"]

logger = logging.getLogger("cocotb.tb_faults")
logger.setLevel(logging.INFO)

#: Reset faults injected while loading and while an inference runs, per run.
FAULTS_PER_PHASE = 4
#: Clocks after a reset during which the core must offer nothing.
QUIET_CYCLES = 16


class Host:
    """Command driver and reply monitor that a reset can stop at any clock.

    Parameters
    ----------
    dut : cocotb handle
    rng : random.Random
        Draws the idle and back-pressure clocks.
    idle, backpressure : float
    """

    def __init__(self, dut, rng: random.Random, idle: float, backpressure: float):
        self.dut = dut
        self.rng = rng
        self.idle = idle
        self.backpressure = backpressure
        self.replies: list = []

    async def _send(self, words) -> None:
        dut = self.dut
        for word in words:
            while self.idle and self.rng.random() < self.idle:
                dut.i_cmd__valid.value = 0
                await RisingEdge(dut.clk)
            dut.i_cmd__payload.value = word
            dut.i_cmd__valid.value = 1
            while True:
                await ReadOnly()
                taken = bool(dut.i_cmd__ready.value)
                await RisingEdge(dut.clk)
                if taken:
                    break
        dut.i_cmd__valid.value = 0

    async def _receive(self, session: HostSession) -> None:
        dut = self.dut
        while not session.decoder.idle:
            ready = not (self.backpressure and self.rng.random() < self.backpressure)
            dut.o_reply__ready.value = int(ready)
            await ReadOnly()
            if ready and dut.o_reply__valid.value:
                reply = session.feed(int(dut.o_reply__payload.value))
                if reply is not None:
                    self.replies.append(reply)
            await RisingEdge(dut.clk)
        dut.o_reply__ready.value = 0

    def start(self, session: HostSession, words) -> list:
        """Start sending ``words`` and decoding what ``session`` expects; return the tasks."""
        self.replies = []
        return [cocotb.start_soon(self._send(words)), cocotb.start_soon(self._receive(session))]

    async def exchange(self, session: HostSession, words, timeout: int) -> list:
        """Send ``words``, wait for every reply ``session`` expects and return them."""
        tasks = self.start(session, words)
        for _ in range(timeout):
            if all(task.done() for task in tasks):
                return self.replies
            await RisingEdge(self.dut.clk)
        raise AssertionError(
            f"the core did not answer within {timeout} clocks ({len(self.replies)} replies so far)."
        )

    def stop(self, tasks) -> None:
        """Abandon the exchange: cancel the tasks and release both streams."""
        for task in tasks:
            if not task.done():
                task.cancel()
        self.dut.i_cmd__valid.value = 0
        self.dut.o_reply__ready.value = 0


async def _reset(dut, clocks: int) -> None:
    dut.rst.value = 1
    await ClockCycles(dut.clk, clocks)
    dut.rst.value = 0


async def _check_idle_after_reset(dut, label: str) -> None:
    """Right after reset the core takes commands, offers nothing and is not busy."""
    await ReadOnly()
    assert dut.i_cmd__ready.value == 1, f"{label}: not ready for a command after reset."
    assert dut.busy.value == 0, f"{label}: busy after reset."
    await RisingEdge(dut.clk)
    for _ in range(QUIET_CYCLES):
        await ReadOnly()
        assert dut.o_reply__valid.value == 0, f"{label}: a reply word offered after reset."
        await RisingEdge(dut.clk)


def _write_results(graphs: list, faults: list, seed: int) -> None:
    path = os.environ.get(RESULTS_ENV)
    if path:
        Path(path).write_text(json.dumps({"graphs": graphs, "faults": faults, "seed": seed}))


@cocotb.test()
async def test_reset_faults(dut):
    """Reset at random clocks of loading and of inference; then every graph against golden."""
    job = _load()
    config = job.config
    rng = random.Random(job.seed)
    golden = golden_replies(job)
    host = Host(dut, rng, job.idle, job.backpressure)

    dut.i_cmd__valid.value = 0
    dut.i_cmd__payload.value = 0
    dut.o_reply__ready.value = 0
    Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
    await _reset(dut, 3)
    await RisingEdge(dut.clk)

    slow = 1.0 / (1.0 - job.idle) + 1.0 / (1.0 - job.backpressure)
    faults = []
    for trial in range(2 * FAULTS_PER_PHASE):
        index = trial % len(job.graphs)
        adjacency, features_q = job.graphs[index]
        session = HostSession(config)
        words = session.inference(adjacency, features_q, job.weights, job.class_bias)
        inference = predict_cycles(config, adjacency) + golden[index].counts.size + 4
        during_load = trial < FAULTS_PER_PHASE
        tasks = host.start(session, words)
        if during_load:
            # Anywhere from the first command word to the last data word before RUN.
            offset = rng.randrange(1, int(len(words) * slow) + 2)
            await ClockCycles(dut.clk, offset)
            phase = "loading"
        else:
            # Anywhere from the clock after RUN is taken to the last result word.
            await RisingEdge(dut.busy)
            offset = rng.randrange(0, int(inference * (1 + job.backpressure)) + 1)
            await ClockCycles(dut.clk, offset)
            phase = "inference"
        width = rng.randrange(1, 4)
        label = (
            f"reset for {width} clocks at clock {offset} of {phase} of graph {index} "
            f"(seed {job.seed})"
        )
        logger.info("%s", label)
        faults.append(label)
        host.stop(tasks)
        await _reset(dut, width)
        await _check_idle_after_reset(dut, label)

        # The reset forgets the graph: RUN is refused until a new load.
        session = HostSession(config)
        replies = await host.exchange(session, session.run(), 1000)
        assert replies == [StatusReply(Opcode.RUN, Status.NOT_READY)], (
            f"{label}: RUN after the reset answered {replies}, not NOT_READY."
        )

    # A full load and inference of every graph, bit for bit against the golden model.
    results = []
    for index, want in enumerate(golden):
        adjacency, features_q = job.graphs[index]
        session = HostSession(config)
        words = session.inference(
            adjacency, features_q, job.weights if index == 0 else None, job.class_bias
        )
        budget = int(4 * (want.cycles + slow * (len(words) + want.counts.size + 8)) + 2000)
        replies = await host.exchange(session, words, budget)
        got = replies[-1]
        assert isinstance(got, RunReply), f"graph {index}: no RUN result but {got!r}."
        results.append({"counts": got.counts.tolist(), "class": got.klass, "cycles": got.cycles})
        _write_results(results, faults, job.seed)
        assert (got.counts == want.counts).all(), (
            f"graph {index} after {len(faults)} resets: counts {got.counts.tolist()}, "
            f"expected {want.counts.tolist()} (seed {job.seed})."
        )
        assert got.klass == want.klass and got.cycles == want.cycles, (
            f"graph {index}: class {got.klass}, {got.cycles} cycles; expected class "
            f"{want.klass}, {want.cycles} cycles (seed {job.seed})."
        )
    logger.info(
        "%d reset faults, then %d graphs equal to the golden model (seed %d)",
        len(faults),
        len(golden),
        job.seed,
    )

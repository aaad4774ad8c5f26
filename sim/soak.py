"""Soak test of the board's host link: stream many random graphs through the simulated board top
(core, framed link, UART pins) and compare every answer with the golden model.

``python -m sim.soak --graphs N`` (``make soak N=...``) prints mismatches, lost results and the
throughput in graphs and simulated cycles per second of wall time.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from golden.builtin import random_graphs_within
from golden.config import CoreConfig
from golden.fixed import quantize_features

__all__ = ["SoakReport", "main", "run_soak", "soak_graphs"]

logger = logging.getLogger(__name__)

#: Most mismatch or lost-result messages printed.
MAX_SHOWN = 10


def soak_graphs(config: CoreConfig, rng, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` random graphs within the limits: ``(adjacency, features_q)`` integer pairs.

    The graphs are those of :func:`golden.builtin.random_graphs_within` for the limits of
    ``config``, with their features quantised.
    """
    rng = np.random.default_rng(rng)
    graphs = random_graphs_within(
        rng, count, config.max_nodes, config.max_edges, config.layer_dims[0]
    )
    return [(g.adjacency, quantize_features(g.features, config)) for g in graphs]


class SoakReport(dict):
    """The soak testbench's results (a dict), with the derived throughput figures."""

    @property
    def graphs_per_second(self) -> float:
        """Graphs through the link per second of wall time."""
        return self["graphs"] / max(self["wall_seconds"], 1e-9)

    @property
    def cycles_per_second(self) -> float:
        """Simulated clock cycles per second of wall time."""
        return self["simulated_cycles"] / max(self["wall_seconds"], 1e-9)

    def format(self) -> str:
        """The figures as lines of text."""
        lines = [
            f"graphs                    {self['graphs']}",
            f"mismatches                {len(self['mismatches'])}",
            f"lost results              {len(self['lost'])}",
            f"bad reply frames          {len(self['frame_errors'])}",
            f"wall time                 {self['wall_seconds']:.1f} s (simulation only)",
            f"graphs per second         {self.graphs_per_second:.1f}",
            f"simulated cycles          {self['simulated_cycles']}"
            f" ({self['inference_cycles']} in inference)",
            f"simulated cycles/second   {self.cycles_per_second:.0f}",
            f"bytes to / from the board {self['bytes_sent']} / {self['bytes_received']}",
        ]
        for name in ("mismatches", "lost", "frame_errors"):
            for message in self[name][:MAX_SHOWN]:
                lines.append(f"{name}: {message}")
        return "\n".join(lines)


def run_soak(
    config: CoreConfig,
    weights_q,
    count: int,
    *,
    seed: int = 0,
    sim: str | None = None,
    class_bias=None,
) -> SoakReport:
    """Stream ``count`` random graphs through the simulated board top; return the report.

    One simulator build and one simulation for all graphs; the weights (and the readout's
    ``class_bias``, zeros by default) are loaded once.

    Raises
    ------
    ValueError
        If ``count`` is not positive.
    RTLSimulationError
        If the simulation itself fails.
    """
    from tqdm import tqdm

    from sim.runner import run_board

    if count < 1:
        raise ValueError(f"the soak needs a positive graph count, but it is {count}.")
    with tqdm(total=count, unit="graph", desc="soak", file=sys.stderr) as bar:

        def progress(done: int) -> None:
            bar.update(done - bar.n)

        results = run_board(
            config,
            weights_q,
            [],
            seed=seed,
            testcase="test_soak",
            options={"graphs": int(count), "fast": True},
            progress=progress,
            sim=sim,
            class_bias=class_bias,
        )
        progress(count)
    return SoakReport(results)


def main(argv: list[str] | None = None) -> int:
    """Command line of the soak; exit 1 on any mismatch or lost result."""
    from golden.fixed import FixedPointModel
    from sim.cli import load_config, seed_weights

    parser = argparse.ArgumentParser(prog="python -m sim.soak", description=__doc__)
    parser.add_argument("--graphs", type=int, default=1000, metavar="N", help="graph count")
    parser.add_argument("--seed", type=int, default=0, help="random graphs")
    parser.add_argument("--config", metavar="FILE", help="configuration JSON")
    parser.add_argument("--weights", metavar="FILE", help="weights file (default: seed weights)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("Verilator", "Icarus", "cocotb_tools", "cocotb"):
        logging.getLogger(name).setLevel(logging.WARNING)  # the runner's tool commands
    try:
        if args.weights:
            from golden.weights import load_weights

            weights = load_weights(args.weights)
            config, weights_q, bias = weights.config, weights.weights_q, weights.class_bias
        else:
            config = load_config(args.config)
            weights_q = FixedPointModel.from_float(config, seed_weights(config)).weights
            bias = None
        started = time.perf_counter()
        report = run_soak(
            config, weights_q, args.graphs, seed=args.seed, sim=args.sim, class_bias=bias
        )
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"soak: error: {error}", file=sys.stderr)
        return 2
    print(report.format())
    print(f"total wall time           {time.perf_counter() - started:.1f} s (with the build)")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(report), indent=2) + "\n")
        print(f"wrote {path}")
    return 1 if report["mismatches"] or report["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())

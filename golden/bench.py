"""Throughput of the two golden models: the float reference run graph by graph, as the seed model
is used, against the fixed-point model run on the whole batch at once.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from .config import CoreConfig
from .datasets import graph_pair
from .fixed import FixedPointModel
from .reference import SpikeGNNLayer

__all__ = ["default_graphs", "format_benchmark", "run_benchmark"]

logger = logging.getLogger(__name__)


def default_graphs() -> tuple[str, list]:
    """Return the MUTAG graphs when the shared data is present, else the built-in dataset.

    Returns
    -------
    name : str
        ``"MUTAG"`` or ``"builtin"``.
    graphs : list of Graph
    """
    from .builtin import builtin_dataset
    from .datasets import load_dataset, mutag_path

    path = mutag_path()
    dataset = load_dataset(path) if path.exists() else builtin_dataset()
    return dataset.name, list(dataset.graphs)


def _seconds(run: Callable[[], object]) -> float:
    """Wall-clock seconds of one call of ``run``."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def run_benchmark(
    graphs: Sequence,
    layer_dims: Sequence[int] = (7, 32, 2),
    T: int = 8,
    repeats: int = 5,
) -> dict:
    """Time the float reference and the fixed-point golden model on the same graphs.

    The reference is ``SpikeGNNLayer(layer_dims, threshold, T, tau_mem)`` with the threshold
    and time constant of ``CoreConfig(layer_dims=layer_dims, timesteps=T)``, classifying one
    graph at a time with ``graph_classify``. The fixed-point model uses that configuration
    (graph limits raised to fit the largest graph) and the reference's weights ``convs[i].W``
    quantised, and runs every graph in one padded batch with ``run_graphs``. Each model runs
    once untimed first, so one-off set-up such as the LFSR draw table is not counted, and then
    the two take turns ``repeats`` times.

    Parameters
    ----------
    graphs : sequence of Graph or of (adjacency, features) pairs
        Node features in [0, 1] with ``layer_dims[0]`` columns, 0/1 adjacency.
    layer_dims : sequence of int
        ``(in, hidden, ..., classes)``.
    T : int
        Timesteps per layer.
    repeats : int
        Timed runs of each model; the medians are reported.

    Returns
    -------
    dict
        ``graphs``, ``repeats``, ``layer_dims``, ``timesteps``; ``reference`` and ``fixed``,
        each ``{"seconds": [...], "median_seconds", "graphs_per_second"}``; ``speedup``, the
        reference's median time over the fixed model's; ``class_agreement``, the fraction of
        graphs both models put in the same class.

    Raises
    ------
    ValueError
        If ``graphs`` is empty or ``repeats`` is below 1; the models' own errors for graphs
        they cannot run.
    """
    pairs = [graph_pair(graph) for graph in graphs]
    if not pairs:
        raise ValueError("graphs must hold at least one graph, but it is empty.")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, but it is {repeats!r}.")
    largest = max(np.asarray(adjacency).shape[0] for adjacency, _ in pairs)
    most_edges = max(int(np.count_nonzero(adjacency)) for adjacency, _ in pairs)
    defaults = CoreConfig()
    config = CoreConfig(
        layer_dims=tuple(layer_dims),
        timesteps=T,
        max_nodes=max(defaults.max_nodes, largest),
        max_edges=max(defaults.max_edges, most_edges),
    )
    reference = SpikeGNNLayer(
        list(config.layer_dims), threshold=config.threshold, T=T, tau_mem=config.tau_mem
    )
    fixed = FixedPointModel.from_float(config, [conv.W for conv in reference.convs])

    def run_reference() -> list[int]:
        return [reference.graph_classify(features, adjacency) for adjacency, features in pairs]

    def run_fixed():
        return fixed.run_graphs(pairs)

    reference_classes = np.array(run_reference())
    fixed_classes = run_fixed().classes
    logger.debug("timing %d graphs, %d repeats", len(pairs), repeats)
    result = {
        "graphs": len(pairs),
        "repeats": repeats,
        "layer_dims": list(config.layer_dims),
        "timesteps": T,
        "class_agreement": float(np.mean(reference_classes == fixed_classes)),
    }
    # The two models take turns, so a change in machine load affects both alike.
    seconds = {"reference": [], "fixed": []}
    for _ in range(repeats):
        seconds["reference"].append(_seconds(run_reference))
        seconds["fixed"].append(_seconds(run_fixed))
    for name, times in seconds.items():
        median = statistics.median(times)
        result[name] = {
            "seconds": times,
            "median_seconds": median,
            "graphs_per_second": len(pairs) / median,
        }
    result["speedup"] = result["reference"]["median_seconds"] / result["fixed"]["median_seconds"]
    return result


def format_benchmark(result: dict) -> str:
    """Return a benchmark result of :func:`run_benchmark` as a small printable table."""
    lines = [
        f"{result['graphs']} graphs, layers {result['layer_dims']}, T {result['timesteps']}, "
        f"median of {result['repeats']} runs",
        f"{'model':<34}{'seconds':>10}{'graphs/s':>12}",
    ]
    labels = {
        "reference": "float reference, graph by graph",
        "fixed": "fixed-point golden, one batch",
    }
    for name, label in labels.items():
        entry = result[name]
        lines.append(
            f"{label:<34}{entry['median_seconds']:>10.4f}{entry['graphs_per_second']:>12.1f}"
        )
    lines.append(f"speed-up {result['speedup']:.1f}x")
    lines.append(f"class agreement {result['class_agreement']:.3f}")
    return "\n".join(lines)

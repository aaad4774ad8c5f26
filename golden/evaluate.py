"""Accuracy of trained weights on a dataset with one of three backends: the float reference, the
bit-exact fixed-point model or the RTL simulation of the core; and the cross-validation that
trains and measures all three fold by fold.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .datasets import GraphDataset
from .weights import WeightsFile

__all__ = [
    "BACKENDS",
    "Evaluation",
    "OversizeGraphError",
    "float_run",
    "prepare_dataset",
    "cross_validate",
    "evaluate",
    "format_crossval",
]

logger = logging.getLogger(__name__)

#: Backends of :func:`evaluate`.
BACKENDS = ("float", "fixed", "rtl")


class OversizeGraphError(ValueError):
    """A graph has more nodes or edges than the core stores."""


@dataclass
class Evaluation:
    """Accuracy of one backend on a set of graphs.

    Attributes
    ----------
    backend : str
        ``"float"``, ``"fixed"`` or ``"rtl"``.
    graphs : int
        Graphs classified (skipped ones not included).
    correct : int
        Graphs whose class equals their label.
    accuracy : float
        ``correct / graphs`` (0 when no graph was classified).
    firing_rates : list of float or None
        Mean spike count per neuron of every layer over the classified graphs; the core returns
        the last layer only, so the RTL backend gives None for the others.
    skipped : int
        Graphs over the core's limits left out (with ``skip_oversize``).
    skipped_graphs : list of int
        Their indices in the dataset.
    classes : list of int
        Class of every classified graph, in order.
    mismatches : int or None
        RTL backend: graphs whose spike counts or class differ from the fixed-point model's
        (must be 0); None for the other backends.
    """

    backend: str
    graphs: int
    correct: int
    accuracy: float
    firing_rates: list
    skipped: int = 0
    skipped_graphs: list[int] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    mismatches: int | None = None

    def to_dict(self) -> dict:
        """Return the figures as a JSON-ready dictionary."""
        return asdict(self)

    def summary(self) -> str:
        """Return one line: backend, accuracy, graph counts and firing rates."""
        rates = [None if r is None else round(r, 3) for r in self.firing_rates]
        text = (
            f"{self.backend}: accuracy {self.accuracy:.4f} ({self.correct}/{self.graphs} graphs), "
            f"{self.skipped} skipped over the core's limits, firing rates per layer {rates}"
        )
        if self.mismatches is not None:
            text += f", {self.mismatches} graphs differ from the fixed-point model"
        return text


def prepare_dataset(weights: WeightsFile, dataset: GraphDataset) -> GraphDataset:
    """Check that a dataset suits the weights and return it with the node features they take.

    The weights' degree columns, if any, are appended to the node tags
    (:meth:`WeightsFile.encode`).

    Raises
    ------
    ValueError
        If the tags (plus degree columns) do not make ``layer_dims[0]`` or there are more
        classes than outputs.
    """
    dims = weights.config.layer_dims
    dataset = weights.encode(dataset)
    if dataset.n_classes > dims[-1]:
        raise ValueError(
            f"{dataset.name} has {dataset.n_classes} classes but the weights' last layer has "
            f"{dims[-1]} outputs (layer_dims[-1]); there must be one output a class."
        )
    return dataset


def _oversize(weights: WeightsFile, dataset: GraphDataset, indices, skip: bool) -> list[int]:
    """Positions (in ``indices``) of graphs over the core's limits; raise unless ``skip``."""
    config = weights.config
    over = []
    for position, index in enumerate(indices):
        graph = dataset[int(index)]
        if graph.n_nodes > config.max_nodes:
            problem = f"{graph.n_nodes} nodes, more than max_nodes = {config.max_nodes}"
        elif graph.n_edges > config.max_edges:
            problem = f"{graph.n_edges} edges, more than max_edges = {config.max_edges}"
        else:
            continue
        if not skip:
            raise OversizeGraphError(
                f"graph {int(index)} ({graph.name}) has {problem} of the core; use a "
                "configuration with larger limits or skip such graphs (--skip-oversize)."
            )
        over.append(position)
    return over


def float_run(weights: WeightsFile, pairs) -> tuple[np.ndarray, list[float]]:
    """Classes and per-layer firing rates of the float reference model.

    The layers run as in :meth:`SpikeGNNLayer.forward`; the class is the argmax of the last
    layer's count sums (plus the readout bias), as :meth:`SpikeGNNLayer.graph_classify` gives
    without a bias.
    """
    network = weights.reference_network()
    class_sums, spikes, neurons = [], np.zeros(len(network.convs)), 0
    for adjacency, features in pairs:
        hidden = features
        for layer, conv in enumerate(network.convs):
            counts = conv.forward(hidden, adjacency, T=network.T)
            spikes[layer] += counts.sum() / counts.shape[1]
            peak = counts.max()
            hidden = counts / peak if peak > 0 else counts
        neurons += adjacency.shape[0]
        class_sums.append(counts.sum(axis=0))
    classes = weights.classify(np.array(class_sums))
    return classes.astype(np.int64), [float(s / max(neurons, 1)) for s in spikes]


def evaluate(
    weights: WeightsFile,
    dataset: GraphDataset,
    backend: str,
    *,
    indices=None,
    skip_oversize: bool = False,
    sim: str | None = None,
    seed: int = 0,
) -> Evaluation:
    """Classify graphs of a dataset with one backend and measure the accuracy.

    Parameters
    ----------
    weights : WeightsFile
        Trained weights and their configuration.
    dataset : GraphDataset
        Labelled graphs with their node tags; the weights' degree columns are appended here
        (:func:`prepare_dataset`).
    backend : str
        ``"float"`` (reference model, float weights), ``"fixed"`` (bit-exact integer model) or
        ``"rtl"`` (cocotb simulation of the core through :func:`sim.runner.run_rtl`).
    indices : sequence of int, optional
        Graphs to classify (default: all), e.g. a fold's test indices.
    skip_oversize : bool
        Leave graphs over ``max_nodes`` / ``max_edges`` out and count them. Without it such a
        graph is an error for the fixed and RTL backends; the float model has no limits, and
        classifies them unless ``skip_oversize`` is set, when it leaves out the same graphs.
    sim : str, optional
        RTL simulator (``"verilator"`` or ``"icarus"``).
    seed : int
        Seed of the RTL testbench's idle and back-pressure cycles.

    Raises
    ------
    OversizeGraphError
        If a graph is over the core's limits (fixed and RTL backends, without skip_oversize).
    ValueError
        If the backend is unknown or the dataset does not suit the weights.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}.")
    dataset = prepare_dataset(weights, dataset)
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    over = _oversize(weights, dataset, indices, skip_oversize or backend == "float")
    if backend == "float" and not skip_oversize:
        over = []
    keep = np.setdiff1d(np.arange(len(indices)), over)
    chosen = [dataset[int(i)] for i in indices[keep]]
    skipped = [int(indices[p]) for p in over]
    if not chosen:
        rates = [0.0] * weights.config.n_layers
        return Evaluation(backend, 0, 0, 0.0, rates, len(skipped), skipped)
    pairs = [(graph.adjacency, graph.features) for graph in chosen]
    labels = np.array([graph.label for graph in chosen])
    mismatches = None
    if backend == "float":
        classes, rates = float_run(weights, pairs)
    else:
        result = weights.fixed_model().run_graphs(pairs)
        classes, rates = weights.classify(result.class_sums), result.firing_rates()
        if backend == "rtl":
            from sim.runner import run_rtl

            replies = run_rtl(
                weights.config,
                weights.weights_q,
                pairs,
                seed=seed,
                sim=sim,
                check=False,
                class_bias=weights.class_bias,
            )
            mismatches = sum(
                reply.klass != result.classes[i]
                or not np.array_equal(reply.counts, result.graph_counts(i))
                for i, reply in enumerate(replies)
            )
            classes = np.array([reply.klass for reply in replies])
            spikes = sum(int(reply.counts.sum()) for reply in replies)
            neurons = sum(reply.counts.size for reply in replies)
            rates = [None] * (weights.config.n_layers - 1) + [spikes / max(neurons, 1)]
    correct = int(np.sum(classes == labels))
    return Evaluation(
        backend,
        len(chosen),
        correct,
        correct / len(chosen),
        [None if r is None else float(r) for r in rates],
        len(skipped),
        skipped,
        [int(c) for c in classes],
        None if mismatches is None else int(mismatches),
    )


def cross_validate(
    dataset: GraphDataset,
    config,
    out_dir,
    *,
    backends=("float", "fixed"),
    folds=None,
    seed: int = 0,
    epochs: int | None = None,
    overwrite: bool = False,
    reuse: bool = False,
    readout_bias: bool = False,
    degree_features: int = 0,
    sim: str | None = None,
    progress: bool = True,
) -> dict:
    """Train one network per fold, then measure every backend on the fold's test graphs.

    Fold ``k``'s weights go to ``out_dir/fold-k.npz`` and the figures to
    ``out_dir/results.json``. Graphs over the core's limits are skipped and counted. With
    ``reuse``, folds whose weights file exists are measured without training again. With
    ``readout_bias``, training also learns the core's readout class bias (see `train_network`).
    ``dataset`` holds the node tags only; with ``degree_features`` the network also takes that
    many one-hot degree columns (:meth:`GraphDataset.with_degree_features`), so
    ``layer_dims[0]`` must equal the tags plus ``degree_features``.

    Returns
    -------
    dict
        ``{"dataset", "seed", "epochs", "folds": [{"fold", backend: Evaluation dict, ...}],
        "summary": {backend: {"mean", "std", "accuracies"}}}``.

    Raises
    ------
    ValueError
        If the dataset has no folds or a fold does not exist.
    FileExistsError
        If a fold's weights file exists and ``overwrite`` is false.
    """
    from .train import train_network
    from .weights import load_weights, save_weights

    if not dataset.folds:
        raise ValueError(f"dataset {dataset.name!r} has no cross-validation folds.")
    folds = list(folds or range(1, len(dataset.folds) + 1))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for k in folds:
        dataset.fold(k)  # a fold that does not exist fails here, before any training
        path = out_dir / f"fold-{k}.npz"
        if path.exists() and not (overwrite or reuse):
            raise FileExistsError(
                f"the weights file {path} already exists; pass --overwrite to train it again "
                "or --reuse to measure it as it is."
            )
    encoded = dataset.with_degree_features(degree_features)
    if encoded.n_tags != config.layer_dims[0]:
        raise ValueError(
            f"the graphs of {dataset.name} have {encoded.n_tags} input columns ({dataset.n_tags} "
            f"node tags and {degree_features} degree columns), but the configuration's first "
            f"layer takes {config.layer_dims[0]} (layer_dims[0])."
        )
    options = {} if epochs is None else {"epochs": epochs}
    report = {
        "dataset": dataset.name,
        "seed": seed,
        "epochs": epochs,
        "degree_features": degree_features,
        "folds": [],
    }
    for k in folds:
        path = out_dir / f"fold-{k}.npz"
        if reuse and path.exists():
            weights = load_weights(path)
            if weights.config != config or weights.degree_features != degree_features:
                raise ValueError(
                    f"the weights file {path} was trained for another configuration or input "
                    "encoding; pass --overwrite to train it again for this one."
                )
            logger.info("fold %d: measuring the saved weights %s", k, path)
        else:
            train, _ = encoded.fold(k)
            logger.info("fold %d: training on %d graphs", k, len(train))
            result = train_network(
                config, train, seed=seed, readout_bias=readout_bias, progress=progress, **options
            )
            meta = {
                "dataset": dataset.name,
                "fold": k,
                "seed": seed,
                "epochs": len(result.losses),
                "best_epoch": result.best_epoch,
                "train_accuracy": result.train_accuracy,
                "train_firing_rates": result.firing_rates,
            }
            save_weights(
                path,
                config,
                result.weights_float,
                metadata=meta,
                overwrite=True,
                class_bias=result.class_bias,
                degree_features=degree_features,
            )
            weights = load_weights(path)
        row = {"fold": k}
        for backend in backends:
            evaluation = evaluate(
                weights,
                dataset,
                backend,
                indices=dataset.folds[k - 1][1],
                skip_oversize=True,
                sim=sim,
                seed=k,
            )
            row[backend] = evaluation.to_dict()
            logger.info("fold %d %s", k, evaluation.summary())
        report["folds"].append(row)
    summary = {}
    for backend in backends:
        accuracies = [row[backend]["accuracy"] for row in report["folds"]]
        summary[backend] = {
            "mean": float(np.mean(accuracies)),
            "std": float(np.std(accuracies)),
            "accuracies": accuracies,
        }
    report["summary"] = summary
    (out_dir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_crossval(report: dict) -> str:
    """Return the cross-validation figures as a text table, one row a fold."""
    backends = list(report["summary"])
    lines = ["fold  " + "  ".join(f"{b:>8}" for b in backends)]
    for row in report["folds"]:
        lines.append(
            f"{row['fold']:>4}  " + "  ".join(f"{row[b]['accuracy']:>8.4f}" for b in backends)
        )
    stats = report["summary"]
    lines.append("mean  " + "  ".join(f"{stats[b]['mean']:>8.4f}" for b in backends))
    lines.append("std   " + "  ".join(f"{stats[b]['std']:>8.4f}" for b in backends))
    return "\n".join(lines)

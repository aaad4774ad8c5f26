"""How far the fixed-point golden model's firing rates sit from the float model's expected rates.

Both models are random, so single runs differ; this module averages each over many random
streams (float: NumPy generators, fixed: LFSR seeds) and compares the averages neuron by neuron.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import CoreConfig
from .datasets import graph_pair
from .fixed import FixedPointModel

__all__ = ["DeviationReport", "float_counts", "measure_deviation"]

logger = logging.getLogger(__name__)

# Elements of the largest float array; the graphs are simulated in blocks below this size.
_BLOCK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class DeviationReport:
    """Firing-rate deviation of the fixed-point model from the float model, layer by layer.

    A firing rate is spikes per neuron and timestep (count / T), averaged over the random
    streams; a neuron is one output feature of one real (not padded) node.

    Attributes
    ----------
    n_graphs, n_streams, timesteps : int
        Graphs measured, random streams per model, timesteps per layer.
    float_rates, fixed_rates : tuple of float
        Mean firing rate of each layer over every neuron.
    mean_abs_diff, max_abs_diff : tuple of float
        Mean and largest ``|fixed - float|`` of the per-neuron rates of each layer.
    sampling_noise : tuple of float
        The mean absolute difference that sampling alone would give: the float model's two
        half-stream means compared neuron by neuron, divided by ``sqrt(2)`` (two half means
        differ twice as much as two full means). NaN with fewer than two streams.
    class_agreement : float
        Fraction of graphs whose fixed-point class, with the configured LFSR seed, equals the
        float model's expected class (the argmax of its mean class sums).
    mean_class_agreement : float
        The same averaged over every LFSR seed, i.e. the agreement of a typical run.
    float_class_agreement : float
        Fraction of single float runs whose class equals the float model's expected class:
        the agreement the float model has with itself, a baseline for the two above.
    expected_class_agreement : float
        Fraction of graphs where the argmax of the fixed model's mean class sums equals the
        float model's expected class.
    float_neuron_rates, fixed_neuron_rates : tuple of ndarray
        Per-neuron rates of each layer, ``(B, N, out)`` padded to the batch's largest graph,
        zero on padded nodes. Not part of :meth:`to_dict`.
    n_nodes : ndarray of shape (B,)
        Real node count of every graph.
    """

    n_graphs: int
    n_streams: int
    timesteps: int
    float_rates: tuple[float, ...]
    fixed_rates: tuple[float, ...]
    mean_abs_diff: tuple[float, ...]
    max_abs_diff: tuple[float, ...]
    sampling_noise: tuple[float, ...]
    class_agreement: float
    mean_class_agreement: float
    float_class_agreement: float
    expected_class_agreement: float
    float_neuron_rates: tuple[np.ndarray, ...] = field(repr=False, compare=False)
    fixed_neuron_rates: tuple[np.ndarray, ...] = field(repr=False, compare=False)
    n_nodes: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        """Return the summary figures as a JSON-ready dictionary (no per-neuron arrays)."""
        skip = {"float_neuron_rates", "fixed_neuron_rates", "n_nodes"}
        data = {}
        for item in dataclasses.fields(self):
            if item.name in skip:
                continue
            value = getattr(self, item.name)
            data[item.name] = list(value) if isinstance(value, tuple) else value
        return data

    def format(self) -> str:
        """Return a printable table: one row a layer, then the class agreements."""
        lines = [
            f"firing-rate deviation, fixed point vs float: {self.n_graphs} graphs, "
            f"{self.n_streams} random streams each, T {self.timesteps}",
            f"{'layer':>5}{'float rate':>12}{'fixed rate':>12}{'mean |diff|':>13}"
            f"{'max |diff|':>12}{'sampling':>10}",
        ]
        for layer in range(len(self.float_rates)):
            lines.append(
                f"{layer + 1:>5}{self.float_rates[layer]:>12.4f}{self.fixed_rates[layer]:>12.4f}"
                f"{self.mean_abs_diff[layer]:>13.4f}{self.max_abs_diff[layer]:>12.4f}"
                f"{self.sampling_noise[layer]:>10.4f}"
            )
        lines += [
            "class agreement with the float model's expected class:",
            f"  fixed point, configured seed   {self.class_agreement:.3f}",
            f"  fixed point, mean over seeds   {self.mean_class_agreement:.3f}",
            f"  fixed point, mean counts       {self.expected_class_agreement:.3f}",
            f"  float, single runs (baseline)  {self.float_class_agreement:.3f}",
        ]
        return "\n".join(lines)


def float_counts(
    adjacency: np.ndarray,
    features: np.ndarray,
    weights: Sequence[np.ndarray],
    *,
    threshold: float,
    tau_mem: float,
    timesteps: int,
    generators: Sequence[np.random.Generator],
) -> list[np.ndarray]:
    """Spike counts of the float model for a padded batch, one random stream a generator.

    The float model's semantics: ``(A @ X) / max(deg, 1)``, times ``W.T``; at each step an
    input spike with probability ``clip(p, 0, 1)``, ``v = alpha * v + (1 - alpha) * s``, a
    spike at ``v >= threshold`` and reset by subtraction; each layer's counts divided by the
    graph's largest count (when above 0) feed the next layer.

    Parameters
    ----------
    adjacency : ndarray of shape (B, N, N)
    features : ndarray of shape (B, N, F)
        Padded nodes have no edges and zero features, so they never spike.
    weights : sequence of ndarray
        Float ``(out, in)`` matrices.
    threshold, tau_mem : float
        LIF threshold and membrane time constant.
    timesteps : int
    generators : sequence of numpy.random.Generator
        One a stream; stream ``s`` draws its uniforms from ``generators[s]`` only.

    Returns
    -------
    list of ndarray
        Counts of every layer, ``(S, B, N, out)`` floats.
    """
    alpha = np.exp(-1.0 / tau_mem)
    gain = 1 - alpha
    n_streams = len(generators)
    adjacency = np.asarray(adjacency, dtype=np.float64)
    degree = np.maximum(adjacency.sum(axis=-1, keepdims=True), 1)
    hidden = np.asarray(features, dtype=np.float64)[None]
    all_counts = []
    for weight in weights:
        drive = (np.matmul(adjacency, hidden) / degree) @ np.asarray(weight, np.float64).T
        rates = np.broadcast_to(np.clip(drive, 0, 1), (n_streams, *drive.shape[1:]))
        membrane = np.zeros(rates.shape)
        counts = np.zeros(rates.shape)
        uniforms = np.empty(rates.shape)
        for _ in range(timesteps):
            for stream, generator in enumerate(generators):
                generator.random(out=uniforms[stream])
            membrane = alpha * membrane + gain * (uniforms < rates)
            fired = membrane >= threshold
            membrane[fired] -= threshold
            counts += fired
        all_counts.append(counts)
        peak = counts.max(axis=(2, 3), keepdims=True)
        hidden = np.where(peak > 0, counts / np.where(peak > 0, peak, 1), counts)
    return all_counts


def _lfsr_seeds(config: CoreConfig, n_streams: int, seed: int) -> list[int]:
    """The configured LFSR seed, then ``n_streams - 1`` other distinct non-zero seeds."""
    period = (1 << config.lfsr_width) - 1
    if n_streams > period:
        raise ValueError(
            f"n_streams must be at most {period} (distinct non-zero LFSR seeds), "
            f"but it is {n_streams}."
        )
    rng = np.random.default_rng(seed)
    others = rng.choice(period - 1, size=n_streams - 1, replace=False) + 1
    # Values 1 .. period - 1 skipping the configured seed: map it onto the top value.
    others = np.where(others == config.lfsr_seed, period, others)
    return [config.lfsr_seed, *(int(s) for s in others)]


def _check_streams(n_streams) -> int:
    if isinstance(n_streams, bool) or not isinstance(n_streams, (int, np.integer)):
        raise TypeError(f"n_streams must be a positive integer, not {n_streams!r}.")
    if n_streams < 1:
        raise ValueError(f"n_streams must be at least 1, but it is {n_streams}.")
    return int(n_streams)


def measure_deviation(
    config: CoreConfig,
    weights_float: Sequence,
    graphs: Sequence,
    n_streams: int = 64,
    seed: int = 0,
) -> DeviationReport:
    """Compare the fixed-point model's firing rates with the float model's expected rates.

    The float model runs ``n_streams`` times on independent NumPy generators (seeded from
    ``seed``); the fixed-point model runs ``n_streams`` times with different LFSR seeds (the
    configured one first, then distinct random non-zero ones), on the weights quantised with
    :func:`golden.fixed.quantize_weights`. Both use ``config.threshold``, ``config.tau_mem``
    and ``config.timesteps``. Each model's rates are averaged over its streams before the two
    are compared, so what remains is the systematic difference (quantisation, LFSR draws)
    plus the sampling noise that :attr:`DeviationReport.sampling_noise` estimates.

    Parameters
    ----------
    config : CoreConfig
        The fixed-point configuration; its ``lfsr_seed`` is the first fixed-point stream.
    weights_float : sequence of array_like
        Float ``(out, in)`` weight matrices, one a layer.
    graphs : sequence of Graph or of (adjacency, features) pairs
        Graphs the fixed-point model accepts (0/1 adjacency, features in [0, 1]).
    n_streams : int
        Random streams per model.
    seed : int
        Seed of the float generators and of the choice of LFSR seeds.

    Returns
    -------
    DeviationReport

    Raises
    ------
    TypeError, ValueError
        For weights or graphs the fixed-point model rejects, an empty graph list, or
        ``n_streams`` not a positive integer (or above the number of LFSR states).
    """
    n_streams = _check_streams(n_streams)
    weights_float = [np.asarray(w, dtype=np.float64) for w in weights_float]
    model = FixedPointModel.from_float(config, weights_float)
    pairs = [graph_pair(graph) for graph in graphs]
    if not pairs:
        raise ValueError("graphs must hold at least one graph, but it is empty.")
    prepared = [model.prepare(adjacency, features) for adjacency, features in pairs]
    batch, width = len(prepared), max(a.shape[0] for a, _ in prepared)
    adjacency = np.zeros((batch, width, width), dtype=np.int64)
    features = np.zeros((batch, width, config.layer_dims[0]))
    features_q = np.zeros((batch, width, config.layer_dims[0]), dtype=np.int64)
    n_nodes = np.zeros(batch, dtype=np.int64)
    for b, ((a, x_q), (_, x)) in enumerate(zip(prepared, pairs, strict=True)):
        n = a.shape[0]
        adjacency[b, :n, :n] = a
        features[b, :n] = np.asarray(x, dtype=np.float64)
        features_q[b, :n] = x_q
        n_nodes[b] = n
    real = np.arange(width)[None, :] < n_nodes[:, None]

    # Float model: every stream at once, a block of graphs at a time.
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_streams)]
    per_graph = n_streams * width * max(width, config.max_features)
    step = max(1, _BLOCK_ELEMENTS // per_graph)
    float_sum = [np.zeros((batch, width, w.shape[0])) for w in weights_float]
    float_half = [np.zeros((batch, width, w.shape[0])) for w in weights_float]
    float_classes = np.zeros((n_streams, batch), dtype=np.int64)
    for start in range(0, batch, step):
        block = slice(start, start + step)
        counts = float_counts(
            adjacency[block],
            features[block],
            weights_float,
            threshold=config.threshold,
            tau_mem=config.tau_mem,
            timesteps=config.timesteps,
            generators=generators,
        )
        for layer, layer_counts in enumerate(counts):
            float_sum[layer][block] = layer_counts.sum(axis=0)
            float_half[layer][block] = layer_counts[: n_streams // 2].sum(axis=0)
        float_classes[:, block] = np.argmax(counts[-1].sum(axis=2), axis=-1)

    # Fixed-point model: one run of the whole batch per LFSR seed.
    fixed_sum = [np.zeros((batch, width, w.shape[0]), dtype=np.int64) for w in weights_float]
    fixed_classes = np.zeros((n_streams, batch), dtype=np.int64)
    for stream, lfsr_seed in enumerate(_lfsr_seeds(config, n_streams, seed)):
        seeded = FixedPointModel(dataclasses.replace(config, lfsr_seed=lfsr_seed), model.weights)
        result = seeded.run_batch(adjacency, features_q, n_nodes)
        for layer, layer_counts in enumerate(result.counts):
            fixed_sum[layer] += layer_counts
        fixed_classes[stream] = result.classes
    logger.debug("ran %d graphs x %d streams through both models", batch, n_streams)

    scale = 1.0 / (n_streams * config.timesteps)
    float_rates = tuple(total * scale for total in float_sum)
    fixed_rates = tuple(total * scale for total in fixed_sum)
    mean_abs, max_abs, noise = [], [], []
    for layer in range(config.n_layers):
        difference = np.abs(fixed_rates[layer] - float_rates[layer])[real]
        mean_abs.append(float(difference.mean()))
        max_abs.append(float(difference.max()))
        if n_streams >= 2:
            first = n_streams // 2
            half_a = float_half[layer] / (first * config.timesteps)
            half_b = (float_sum[layer] - float_half[layer]) / (
                (n_streams - first) * config.timesteps
            )
            noise.append(float(np.abs(half_a - half_b)[real].mean() / math.sqrt(2)))
        else:
            noise.append(math.nan)

    expected_float = np.argmax(float_sum[-1].sum(axis=1), axis=-1)
    expected_fixed = np.argmax(fixed_sum[-1].sum(axis=1), axis=-1)
    return DeviationReport(
        n_graphs=batch,
        n_streams=n_streams,
        timesteps=config.timesteps,
        float_rates=tuple(float(r[real].mean()) for r in float_rates),
        fixed_rates=tuple(float(r[real].mean()) for r in fixed_rates),
        mean_abs_diff=tuple(mean_abs),
        max_abs_diff=tuple(max_abs),
        sampling_noise=tuple(noise),
        class_agreement=float(np.mean(fixed_classes[0] == expected_float)),
        mean_class_agreement=float(np.mean(fixed_classes == expected_float[None])),
        float_class_agreement=float(np.mean(float_classes == expected_float[None])),
        expected_class_agreement=float(np.mean(expected_fixed == expected_float)),
        float_neuron_rates=float_rates,
        fixed_neuron_rates=fixed_rates,
        n_nodes=n_nodes,
    )

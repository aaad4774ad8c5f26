"""Integer-only golden model: bit for bit what the spike GNN core computes.

Every step below has one matching block in the gateware; ``docs/fixed_point.md`` gives the
formulas and widths. The model runs a padded batch of graphs at once, looping only over layers
and timesteps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .config import CoreConfig
from .validate import as_adjacency, as_features, describe

__all__ = [
    "FixedPointModel",
    "FixedResult",
    "aggregate",
    "draw_schedule",
    "encode_and_integrate",
    "normalise_counts",
    "project",
    "quantize_features",
    "quantize_weights",
    "readout",
]

logger = logging.getLogger(__name__)


def quantize_features(features, config: CoreConfig) -> np.ndarray:
    """Round features in [0, 1] to ``feature_frac_bits`` (half up): ``floor(x * 2**F + 1/2)``."""
    scaled = np.asarray(features, dtype=np.float64) * config.feature_one
    return np.floor(scaled + 0.5).astype(np.int64)


def quantize_weights(weight, config: CoreConfig) -> np.ndarray:
    """Round float weights to signed ``weight_width`` bits, saturating at the extremes.

    ``clip(floor(w * 2**weight_frac_bits + 1/2), weight_min, weight_max)``.
    """
    scaled = np.asarray(weight, dtype=np.float64) * (1 << config.weight_frac_bits)
    return np.clip(np.floor(scaled + 0.5), config.weight_min, config.weight_max).astype(np.int64)


def aggregate(adjacency: np.ndarray, features: np.ndarray, config: CoreConfig) -> np.ndarray:
    """Degree-scaled neighbour mean of every node and feature.

    ``agg[n, i] = (sum over neighbours m of x[m, i] * r[deg n]) >> recip_frac_bits`` with
    ``r = config.degree_reciprocals`` (isolated nodes use degree 1). The hardware accumulates
    the products neighbour by neighbour; the floor happens once, at the end.

    Parameters
    ----------
    adjacency : ndarray of shape (B, N, N)
        0/1 integers.
    features : ndarray of shape (B, N, F)
        Unsigned integers, at most ``feature_one``.
    """
    degree = adjacency.sum(axis=-1)
    reciprocal = config.degree_reciprocals[degree]
    sums = np.matmul(adjacency, features)
    return (sums * reciprocal[..., None]) >> config.recip_frac_bits


def project(aggregated: np.ndarray, weight_q: np.ndarray, config: CoreConfig) -> np.ndarray:
    """Spike probability of every node and output feature.

    ``p = clip(sum_i agg[i] * W[j, i] >> probability_shift, 0, 2**prob_bits)``; the shift is
    arithmetic (floor), so a negative sum gives probability 0.
    """
    accumulator = np.matmul(aggregated, weight_q.T)
    return np.clip(accumulator >> config.probability_shift, 0, config.probability_one)


def draw_schedule(n_nodes: int, width: int, config: CoreConfig) -> np.ndarray:
    """LFSR draw for every node, output feature and timestep of one layer, ``(N, width, T)``.

    Feature ``j`` runs on lane ``j % lanes`` in group ``j // lanes``. The core visits nodes in
    order, the groups of a node in order, and the ``T`` timesteps of a group back to back, and
    each lane draws once per visit whether or not its feature exists. So neuron ``(n, j)`` at
    timestep ``t`` uses draw ``(n * G + j // lanes) * T + t`` of lane ``j % lanes``, where ``G``
    is the layer's group count. Every layer starts again from the lane seeds.
    """
    groups, steps = config.groups(width), config.timesteps
    node = np.arange(n_nodes)[:, None, None]
    feature = np.arange(width)[None, :, None]
    step = np.arange(steps)[None, None, :]
    index = (node * groups + feature // config.lanes) * steps + step
    needed = n_nodes * groups * steps
    table = config.layer_draws if needed <= config.layer_draws.shape[1] else config.draws(needed)
    return table[feature % config.lanes, index]


def encode_and_integrate(
    probability: np.ndarray, draws: np.ndarray, config: CoreConfig
) -> np.ndarray:
    """Rate-encode the probabilities and integrate them in LIF neurons; return spike counts.

    Per timestep ``t``: ``s = draw[t] < p``; ``v = (v * leak_q) >> leak_frac_bits + s *
    input_gain_q``; ``spike = v >= threshold_q``; ``v -= spike * threshold_q``; the membrane
    starts at 0 for every layer.

    Parameters
    ----------
    probability : ndarray of shape (B, N, J)
    draws : ndarray of shape (N, J, T)
    """
    membrane = np.zeros(probability.shape, dtype=np.int64)
    counts = np.zeros(probability.shape, dtype=np.int64)
    for t in range(config.timesteps):
        spike_in = draws[None, :, :, t] < probability
        membrane = ((membrane * config.leak_q) >> config.leak_frac_bits) + np.where(
            spike_in, config.input_gain_q, 0
        )
        fired = membrane >= config.threshold_q
        membrane = membrane - np.where(fired, config.threshold_q, 0)
        counts += fired
    return counts


def normalise_counts(counts: np.ndarray, config: CoreConfig) -> np.ndarray:
    """Next layer's features: ``round(c * 2**F / cmax)`` with ``cmax`` the graph's top count.

    ``cmax`` is taken over every node and feature of one graph; a silent layer stays 0. The
    gateware reads the same ``normalisation_table``.
    """
    top = counts.reshape(counts.shape[0], -1).max(axis=1)
    return config.normalisation_table[top[:, None, None], counts]


def readout(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the last layer's counts over nodes and take the argmax (ties go to the lowest class).

    Normalising the last layer would scale every class sum alike, so the core skips it.
    """
    class_sums = counts.sum(axis=1)
    return class_sums, np.argmax(class_sums, axis=1)


@dataclass(frozen=True)
class FixedResult:
    """Outputs of the fixed-point model for a batch of graphs.

    Attributes
    ----------
    counts : tuple of ndarray
        Spike counts of every layer, each ``(B, N, out)``, zero on padded nodes.
    class_sums : ndarray of shape (B, C)
    classes : ndarray of shape (B,)
    n_nodes : ndarray of shape (B,)
    """

    counts: tuple[np.ndarray, ...]
    class_sums: np.ndarray
    classes: np.ndarray
    n_nodes: np.ndarray

    def graph_counts(self, index: int, layer: int = -1) -> np.ndarray:
        """Spike counts of one graph's real nodes in one layer."""
        return self.counts[layer][index, : self.n_nodes[index]]

    def firing_rates(self) -> list[float]:
        """Mean spikes per neuron and timestep of every layer, over real nodes only."""
        rates = []
        for layer in self.counts:
            mask = np.arange(layer.shape[1])[None, :] < self.n_nodes[:, None]
            neurons = mask.sum() * layer.shape[2]
            rates.append(float(layer[mask].sum() / max(neurons, 1)))
        return rates


class FixedPointModel:
    """The spike GNN core's arithmetic in NumPy integers.

    Parameters
    ----------
    config : CoreConfig
        Formats, constants and limits shared with the gateware.
    weights : sequence of ndarray
        Quantised weights, one ``(out, in)`` integer matrix a layer, as the core stores them.

    Raises
    ------
    ValueError
        If a weight matrix has the wrong shape or values outside the weight format.

    Notes
    -----
    Use :meth:`from_float` to quantise float weights, for example a reference model's.
    """

    def __init__(self, config: CoreConfig, weights):
        self.config = config
        weights = list(weights)
        if len(weights) != config.n_layers:
            raise ValueError(
                f"weights must hold {config.n_layers} matrices (one a layer), "
                f"but it holds {len(weights)}."
            )
        checked = []
        for layer, matrix in enumerate(weights):
            matrix = np.asarray(matrix)
            want = (config.layer_dims[layer + 1], config.layer_dims[layer])
            if matrix.shape != want:
                raise ValueError(
                    f"weights[{layer}] must have shape {want} (out, in), "
                    f"but it has {describe(matrix)}."
                )
            if not np.issubdtype(matrix.dtype, np.integer):
                raise TypeError(
                    f"weights[{layer}] must hold quantised integers, not {matrix.dtype}; "
                    "use FixedPointModel.from_float for float weights."
                )
            if matrix.min() < config.weight_min or matrix.max() > config.weight_max:
                raise ValueError(
                    f"weights[{layer}] must lie in [{config.weight_min}, {config.weight_max}], "
                    f"but it holds {int(matrix.min())} to {int(matrix.max())}."
                )
            checked.append(matrix.astype(np.int64))
        self.weights = tuple(checked)

    @classmethod
    def from_float(cls, config: CoreConfig, weights) -> FixedPointModel:
        """Quantise float weight matrices with :func:`quantize_weights` and build the model."""
        return cls(config, [quantize_weights(w, config) for w in weights])

    def prepare(self, adjacency, node_features) -> tuple[np.ndarray, np.ndarray]:
        """Check one graph against the configuration and return its integer arrays."""
        config = self.config
        adjacency = as_adjacency(adjacency, binary=True, max_nodes=config.max_nodes)
        n_edges = int(adjacency.sum())
        if n_edges > config.max_edges:
            raise ValueError(
                f"the graph has {n_edges} edges (directed adjacency entries), more than the "
                f"configured maximum of {config.max_edges} (max_edges)."
            )
        features = as_features(
            node_features, adjacency.shape[0], config.layer_dims[0], unit_range=True
        )
        return adjacency, quantize_features(features, config)

    def run_batch(
        self, adjacency: np.ndarray, features_q: np.ndarray, n_nodes: np.ndarray
    ) -> FixedResult:
        """Run a padded batch already in integer form.

        Parameters
        ----------
        adjacency : ndarray of shape (B, N, N)
            0/1; padded nodes have no edges, so they never spike.
        features_q : ndarray of shape (B, N, F)
            Quantised features; zero on padded nodes.
        n_nodes : ndarray of shape (B,)
            Real node count of every graph.
        """
        config = self.config
        adjacency = np.asarray(adjacency, dtype=np.int64)
        x = np.asarray(features_q, dtype=np.int64)
        all_counts = []
        for layer, weight in enumerate(self.weights):
            if layer:
                x = normalise_counts(all_counts[-1], config)
            probability = project(aggregate(adjacency, x, config), weight, config)
            draws = draw_schedule(adjacency.shape[1], weight.shape[0], config)
            all_counts.append(encode_and_integrate(probability, draws, config))
        class_sums, classes = readout(all_counts[-1])
        return FixedResult(tuple(all_counts), class_sums, classes, np.asarray(n_nodes))

    def run_graphs(self, graphs) -> FixedResult:
        """Run a list of ``(adjacency, node_features)`` pairs as one padded batch."""
        prepared = [self.prepare(a, f) for a, f in graphs]
        if not prepared:
            raise ValueError("graphs must hold at least one graph, but it is empty.")
        width = max(a.shape[0] for a, _ in prepared)
        batch = len(prepared)
        adjacency = np.zeros((batch, width, width), dtype=np.int64)
        features = np.zeros((batch, width, self.config.layer_dims[0]), dtype=np.int64)
        sizes = np.zeros(batch, dtype=np.int64)
        for b, (a, x) in enumerate(prepared):
            n = a.shape[0]
            adjacency[b, :n, :n] = a
            features[b, :n] = x
            sizes[b] = n
        return self.run_batch(adjacency, features, sizes)

    def forward(self, node_features, adjacency) -> np.ndarray:
        """Spike counts of the last layer for one graph, ``(N, out)``."""
        result = self.run_graphs([(adjacency, node_features)])
        return result.graph_counts(0)

    def graph_classify(self, node_features, adjacency) -> int:
        """Class of one graph: sum-pool of the last layer's counts, then argmax."""
        return int(self.run_graphs([(adjacency, node_features)]).classes[0])

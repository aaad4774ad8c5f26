"""Integer-only golden model: bit for bit what the spike GNN core computes.

Every step below has one matching block in the gateware; ``docs/fixed_point.md`` gives the
formulas and widths. The model runs a padded batch of graphs a block of graphs at a time,
vectorised over nodes and features and looping only over layers and timesteps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import CoreConfig
from .validate import as_adjacency, as_features, describe

__all__ = [
    "FixedPointModel",
    "FixedResult",
    "aggregate",
    "check_class_bias",
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


def _largest_magnitude(array: np.ndarray) -> int:
    """Largest absolute value of an integer array, as a Python integer (0 when empty)."""
    return max(-int(array.min()), int(array.max())) if array.size else 0


def _matmul_floor(
    a: np.ndarray,
    b: np.ndarray,
    shift: int,
    scale: np.ndarray | None = None,
    clip: tuple[int, int] | None = None,
) -> np.ndarray:
    """``(a @ b) * scale >> shift`` of integer arrays, optionally clipped, as ``int64``.

    NumPy multiplies integers without BLAS, several times slower than floats. When no partial
    result can reach 2**53, every float64 product, sum, scaling by ``2**-shift`` and floor is
    exact, so the float path gives the integer result bit for bit; it works in place to spare
    large temporaries. Otherwise, or for other dtypes, the integers are used as they are.
    """
    bound = a.shape[-1] * _largest_magnitude(a) * _largest_magnitude(b)
    if scale is not None:
        bound *= _largest_magnitude(scale)
    if np.result_type(a, b) != np.int64 or bound >= 1 << 53:
        product = np.matmul(a, b)
        if scale is not None:
            product = product * scale
        product = product >> shift
        return product if clip is None else np.clip(product, *clip)
    product = np.matmul(a.astype(np.float64), b.astype(np.float64))
    if scale is not None:
        np.multiply(product, scale, out=product)
    np.multiply(product, 2.0**-shift, out=product)
    np.floor(product, out=product)
    if clip is not None:
        np.clip(product, *clip, out=product)
    return product.astype(np.int64)


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
    return _matmul_floor(adjacency, features, config.recip_frac_bits, reciprocal[..., None])


def project(aggregated: np.ndarray, weight_q: np.ndarray, config: CoreConfig) -> np.ndarray:
    """Spike probability of every node and output feature.

    ``p = clip(sum_i agg[i] * W[j, i] >> probability_shift, 0, 2**prob_bits)``; the shift is
    arithmetic (floor), so a negative sum gives probability 0.
    """
    clip = (0, config.probability_one)
    return _matmul_floor(aggregated, weight_q.T, config.probability_shift, clip=clip)


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
    steps = config.timesteps
    constants = (config.leak_q, config.leak_frac_bits, config.input_gain_q, config.threshold_q)
    by_step = np.moveaxis(draws, -1, 0)
    if steps > _PATTERN_STEPS:
        return _integrate([by_step[t] < probability for t in range(steps)], *constants)
    # The count depends only on the steps that brought an input spike: look the T-bit input
    # pattern up in a table that the same recurrence filled for every pattern.
    shape = np.broadcast_shapes(probability.shape, by_step.shape[1:])
    pattern, arrival, bit = (np.zeros(shape, np.uint16) for _ in range(3))
    for t in range(steps):
        np.less(by_step[t], probability, out=arrival)
        np.left_shift(arrival, t, out=bit)
        np.bitwise_or(pattern, bit, out=pattern)
    return _pattern_counts(steps, *constants)[pattern]


# Up to this many timesteps, encode_and_integrate looks spike counts up per input pattern.
_PATTERN_STEPS = 16


def _integrate(
    arrivals, leak_q: int, leak_frac_bits: int, input_gain_q: int, threshold_q: int
) -> np.ndarray:
    """Run the LIF recurrence over boolean input-spike arrays, one a timestep; return counts."""
    membrane = np.zeros(arrivals[0].shape, dtype=np.int64)
    counts = np.zeros(arrivals[0].shape, dtype=np.int64)
    for spike_in in arrivals:
        membrane = ((membrane * leak_q) >> leak_frac_bits) + np.where(spike_in, input_gain_q, 0)
        fired = membrane >= threshold_q
        membrane = membrane - np.where(fired, threshold_q, 0)
        counts += fired
    return counts


@lru_cache(maxsize=16)
def _pattern_counts(steps: int, *constants: int) -> np.ndarray:
    """Spike count for every ``steps``-bit input pattern (bit ``t`` set: input spike at ``t``)."""
    patterns = np.arange(1 << steps, dtype=np.int64)
    table = _integrate([(patterns >> t) & 1 == 1 for t in range(steps)], *constants)
    table.setflags(write=False)
    return table


def normalise_counts(counts: np.ndarray, config: CoreConfig) -> np.ndarray:
    """Next layer's features: ``round(c * 2**F / cmax)`` with ``cmax`` the graph's top count.

    ``cmax`` is taken over every node and feature of one graph; a silent layer stays 0. The
    gateware reads the same ``normalisation_table``.
    """
    top = counts.reshape(counts.shape[0], -1).max(axis=1)
    return config.normalisation_table[top[:, None, None], counts]


def readout(counts: np.ndarray, class_bias=None) -> tuple[np.ndarray, np.ndarray]:
    """Sum the last layer's counts over nodes, add the class bias and take the argmax.

    Ties go to the lowest class. The class sums returned are the plain count sums, without the
    bias. Normalising the last layer would scale every class sum alike, so the core skips it.
    """
    class_sums = counts.sum(axis=1)
    biased = class_sums if class_bias is None else class_sums + np.asarray(class_bias)
    return class_sums, np.argmax(biased, axis=1)


def check_class_bias(config: CoreConfig, class_bias) -> np.ndarray:
    """Return ``class_bias`` as ``C`` int64 values in the weight format (zeros for None).

    Raises
    ------
    TypeError, ValueError
        If it is not ``C`` integers from ``weight_min`` to ``weight_max``.
    """
    if class_bias is None:
        return np.zeros(config.n_classes, dtype=np.int64)
    bias = np.asarray(class_bias)
    if bias.shape != (config.n_classes,):
        raise ValueError(
            f"class_bias must hold {config.n_classes} integers (one a class), "
            f"not {describe(class_bias)}."
        )
    if bias.dtype.kind not in "iu" and not (
        bias.dtype.kind == "f" and np.all(np.isfinite(bias)) and np.all(bias == np.round(bias))
    ):
        raise TypeError(f"class_bias must hold integers, not {describe(class_bias)}.")
    bias = bias.astype(np.int64)
    if bias.min() < config.weight_min or bias.max() > config.weight_max:
        raise ValueError(
            f"class_bias must lie in [{config.weight_min}, {config.weight_max}] (the weight "
            f"format), but it holds {int(bias.min())} to {int(bias.max())}."
        )
    return bias


@dataclass(frozen=True)
class FixedResult:
    """Outputs of the fixed-point model for a batch of graphs.

    Attributes
    ----------
    counts : tuple of ndarray
        Spike counts of every layer, each ``(B, N, out)``, zero on padded nodes.
    class_sums : ndarray of shape (B, C)
        Last-layer spike counts summed over each graph's nodes (without the class bias).
    classes : ndarray of shape (B,)
        Argmax of ``class_sums`` plus the model's class bias, ties to the lowest class.
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
        """Mean spike count per neuron (over all timesteps) of every layer, real nodes only."""
        rates = []
        for layer in self.counts:
            mask = np.arange(layer.shape[1])[None, :] < self.n_nodes[:, None]
            neurons = mask.sum() * layer.shape[2]
            rates.append(float(layer[mask].sum() / max(neurons, 1)))
        return rates


def _is_plain_adjacency(adjacency, max_nodes: int) -> bool:
    """Whether ``adjacency`` is an ``int64`` 0/1 square array that ``as_adjacency`` accepts."""
    return (
        isinstance(adjacency, np.ndarray)
        and adjacency.dtype == np.int64
        and adjacency.ndim == 2
        and 1 <= adjacency.shape[0] == adjacency.shape[1] <= max_nodes
        and adjacency.min() >= 0
        and adjacency.max() <= 1
    )


def _is_plain_features(features, n_nodes: int, width: int) -> bool:
    """Whether ``features`` is a ``float64`` array in [0, 1] that ``as_features`` accepts."""
    return (
        isinstance(features, np.ndarray)
        and features.dtype == np.float64
        and features.shape == (n_nodes, width)
        and features.min() >= 0.0
        and features.max() <= 1.0
    )


# Elements of the largest temporary array when run_batch works through a batch block by block.
_BLOCK_ELEMENTS = 16384


class FixedPointModel:
    """The spike GNN core's arithmetic in NumPy integers.

    Parameters
    ----------
    config : CoreConfig
        Formats, constants and limits shared with the gateware.
    weights : sequence of ndarray
        Quantised weights, one ``(out, in)`` integer matrix a layer, as the core stores them.
    class_bias : sequence of int, optional
        One integer a class, in the weight format's range, added to the class sums before the
        argmax, as the core's readout does (default: zeros).

    Raises
    ------
    ValueError
        If a weight matrix or the class bias has the wrong shape or values outside the weight
        format.

    Notes
    -----
    Use :meth:`from_float` to quantise float weights, for example a reference model's.
    """

    def __init__(self, config: CoreConfig, weights, class_bias=None):
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
        self.class_bias = check_class_bias(config, class_bias)

    @classmethod
    def from_float(cls, config: CoreConfig, weights, class_bias=None) -> FixedPointModel:
        """Quantise float weight matrices with :func:`quantize_weights` and build the model."""
        return cls(config, [quantize_weights(w, config) for w in weights], class_bias)

    def prepare(self, adjacency, node_features) -> tuple[np.ndarray, np.ndarray]:
        """Check one graph against the configuration and return its integer arrays."""
        config = self.config
        # Arrays that plainly pass skip the general checks, which cost more than the model.
        if _is_plain_adjacency(adjacency, config.max_nodes):
            adjacency = adjacency.copy()
        else:
            adjacency = as_adjacency(adjacency, binary=True, max_nodes=config.max_nodes)
        n_edges = int(adjacency.sum())
        if n_edges > config.max_edges:
            raise ValueError(
                f"the graph has {n_edges} edges (directed adjacency entries), more than the "
                f"configured maximum of {config.max_edges} (max_edges)."
            )
        features = node_features
        if not _is_plain_features(features, adjacency.shape[0], config.layer_dims[0]):
            features = as_features(
                features, adjacency.shape[0], config.layer_dims[0], unit_range=True
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
        features_q = np.asarray(features_q, dtype=np.int64)
        batch, width = adjacency.shape[:2]
        draws = [draw_schedule(width, weight.shape[0], config) for weight in self.weights]
        counts = tuple(np.empty((batch, width, w.shape[0]), np.int64) for w in self.weights)
        # Graphs are independent, so a few at a time give the same counts as the whole batch
        # while every temporary array stays small enough to be reused from cache.
        step = max(1, _BLOCK_ELEMENTS // (width * max(width, config.max_features)))
        for start in range(0, batch, step):
            block = slice(start, start + step)
            x = features_q[block]
            for layer, weight in enumerate(self.weights):
                if layer:
                    x = normalise_counts(counts[layer - 1][block], config)
                probability = project(aggregate(adjacency[block], x, config), weight, config)
                counts[layer][block] = encode_and_integrate(probability, draws[layer], config)
        class_sums, classes = readout(counts[-1], self.class_bias)
        return FixedResult(counts, class_sums, classes, np.asarray(n_nodes))

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
        """Class of one graph: sum-pool of the last layer's counts, class bias, argmax."""
        return int(self.run_graphs([(adjacency, node_features)]).classes[0])

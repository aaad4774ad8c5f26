"""Float reference model of the spiking graph neural network: mean aggregation, a linear map and
leaky integrate-and-fire neurons driven by rate-coded input, bit-identical to the seed model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from golden.validate import (
    as_adjacency,
    as_features,
    check_layer_dims,
    check_positive,
    check_timesteps,
    describe,
)

__all__ = [
    "SpikeGNNLayer",
    "SpikeGraphConv",
    "UnreachableThresholdWarning",
    "max_membrane",
    "reset_unreachable_warnings",
    "threshold_reachable",
]

#: Seed of the generator that draws the input spikes; every forward pass starts it afresh.
INPUT_SPIKE_SEED = 42

# (threshold, tau_mem, T) configurations already warned about in this process.
_warned_configurations: set[tuple[float, float, int]] = set()


class UnreachableThresholdWarning(UserWarning):
    """Warn that a threshold lies above the highest membrane value a neuron can reach.

    No neuron of such a layer ever spikes, so its output is all zeros and a classifier built on
    it always answers class 0.
    """


def reset_unreachable_warnings() -> None:
    """Forget which configurations were warned about, so that each warns once more.

    Intended for tests: :class:`UnreachableThresholdWarning` is otherwise emitted only once per
    distinct ``(threshold, tau_mem, T)`` in a process.
    """
    _warned_configurations.clear()


def _decay(tau_mem) -> np.float64:
    """Return the per-step membrane decay factor, computed exactly as the forward pass does."""
    return np.exp(-1.0 / tau_mem)


def max_membrane(tau_mem: float, T: int) -> float:
    """Return the highest membrane value a neuron can reach in ``T`` steps from rest.

    The maximum comes from an input spike at every step and no reset, which in exact arithmetic
    is ``1 - alpha**T`` with ``alpha = exp(-1 / tau_mem)``. The value is obtained by running the
    same floating-point recurrence as :meth:`SpikeGraphConv.forward`, so a threshold at or below
    it is crossed by the model itself, and one above it never is.

    Parameters
    ----------
    tau_mem : float
        Membrane time constant in steps, above zero.
    T : int
        Number of timesteps, at least 1.

    Returns
    -------
    float
        The largest membrane value over the ``T`` steps.

    Raises
    ------
    TypeError
        If ``tau_mem`` is not a number or ``T`` is not an integer.
    ValueError
        If ``tau_mem`` is not positive and finite or ``T`` is below 1.
    """
    check_positive("tau_mem", tau_mem)
    steps = check_timesteps(T)
    alpha = _decay(tau_mem)
    gain = 1 - alpha
    membrane = np.float64(0.0)
    highest = membrane
    for _ in range(steps):
        membrane = alpha * membrane + gain * 1.0
        highest = max(highest, membrane)
    return float(highest)


def threshold_reachable(threshold: float, tau_mem: float, T: int) -> bool:
    """Tell whether a neuron can spike at all within ``T`` steps.

    Parameters
    ----------
    threshold : float
        Firing threshold, above zero.
    tau_mem : float
        Membrane time constant in steps, above zero.
    T : int
        Number of timesteps, at least 1.

    Returns
    -------
    bool
        True when ``threshold <= max_membrane(tau_mem, T)``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range.
    """
    return check_positive("threshold", threshold) <= max_membrane(tau_mem, T)


def _warn_if_unreachable(threshold, tau_mem, T, stacklevel: int) -> None:
    """Emit :class:`UnreachableThresholdWarning` once per configuration when nothing can fire."""
    key = (float(threshold), float(tau_mem), int(T))
    if key in _warned_configurations:
        return
    ceiling = max_membrane(tau_mem, T)
    if key[0] <= ceiling:
        return
    _warned_configurations.add(key)
    warnings.warn(
        f"no neuron can ever spike: threshold {key[0]!r} is above {ceiling!r}, the highest "
        f"membrane value a neuron with tau_mem {key[1]!r} reaches in T={key[2]} steps, so every "
        f"spike count is 0; use a threshold of at most {ceiling!r}, or a larger tau_mem or T.",
        category=UnreachableThresholdWarning,
        stacklevel=stacklevel + 1,
    )


def _check_size(name: str, value) -> None:
    """Check a layer width (a positive integer) and raise with a one-sentence message if not."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, not {describe(value)}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, but it is {value}.")


class SpikeGraphConv:
    """Spike-based graph convolution layer.

    Each node takes the degree-normalised sum of its neighbours' features, maps it through a
    weight matrix, and feeds the result as spike probabilities into leaky integrate-and-fire
    neurons for ``T`` steps; the output is the spike count of every neuron.

    Parameters
    ----------
    in_features : int
        Feature width of every input node.
    out_features : int
        Number of neurons, that is output features, per node.
    threshold : float
        Membrane value at which a neuron fires; firing subtracts it from the membrane.
    tau_mem : float
        Membrane time constant in steps; the membrane decays by ``exp(-1 / tau_mem)`` per step.
    seed : int
        Seed of the legacy ``numpy.random.RandomState`` that draws the weights.

    Attributes
    ----------
    in_features, out_features : int
        As given.
    threshold, tau_mem : float
        As given.
    W : ndarray of shape (out_features, in_features)
        He-scaled normal weights, ``randn(out, in) * sqrt(2 / in)``.

    Raises
    ------
    TypeError
        If a width is not an integer or a threshold or time constant is not a number.
    ValueError
        If a width, the threshold or the time constant is not positive.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        threshold: float = 1.0,
        tau_mem: float = 10.0,
        seed: int = 42,
    ):
        _check_size("in_features", in_features)
        _check_size("out_features", out_features)
        check_positive("threshold", threshold)
        check_positive("tau_mem", tau_mem)
        self.in_features = in_features
        self.out_features = out_features
        self.threshold = threshold
        self.tau_mem = tau_mem
        scale = np.sqrt(2.0 / in_features)
        self.W = np.random.RandomState(seed).randn(out_features, in_features) * scale
        # Membrane potentials after the last step of the latest forward pass.
        self._v: np.ndarray | None = None

    def _checked(self, node_features, adjacency) -> tuple[np.ndarray, np.ndarray]:
        """Validate one graph and return ``(features, adjacency)`` as arrays.

        The arrays keep the caller's dtypes, since NumPy's type promotion (float32 stays
        float32, booleans meet the other operand's type) decides the rounding the seed model
        applies. The one change: when both are boolean the features become ``int64``, so the
        product counts neighbours instead of taking NumPy's boolean (logical or) product.
        """
        n_nodes = as_adjacency(adjacency).shape[0]
        width = as_features(node_features, n_nodes).shape[1]
        if width != self.in_features:
            raise ValueError(
                f"node_features has {width} columns but this layer expects "
                f"{self.in_features} (in_features)."
            )
        features, graph = np.asarray(node_features), np.asarray(adjacency)
        if features.dtype == bool and graph.dtype == bool:
            features = features.astype(np.int64)
        return features, graph

    def project(self, node_features, adjacency) -> np.ndarray:
        """Return the drive of every neuron: the mean neighbour features times ``W.T``.

        The neighbour sum of each node is divided by its degree (row sum of ``adjacency``),
        with degrees below 1 raised to 1 so isolated nodes and light weighted rows are not
        amplified.

        Parameters
        ----------
        node_features : array_like of shape (N, in_features)
            One row a node, any finite values.
        adjacency : array_like of shape (N, N)
            Row ``n`` weights the neighbours node ``n`` aggregates; weights need not be 0/1.

        Returns
        -------
        ndarray of shape (N, out_features)
            Input to the neurons; values are read as spike probabilities clipped to [0, 1].

        Raises
        ------
        TypeError
            If an input is not a numeric array.
        ValueError
            If the shapes disagree, the graph is empty, or a value is not finite.
        """
        features, graph = self._checked(node_features, adjacency)
        return self._project(features, graph)

    def _project(self, features: np.ndarray, graph: np.ndarray) -> np.ndarray:
        degree = np.maximum(graph.sum(axis=1, keepdims=True), 1)
        return ((graph @ features) / degree) @ self.W.T

    def forward(self, node_features, adjacency, T: int = 8) -> np.ndarray:
        """Run the layer for ``T`` steps and count the spikes of every neuron.

        The input spikes come from a ``numpy.random.RandomState(42)`` created afresh on each
        call, so equal inputs always give equal counts. At every step each neuron receives an
        input spike with probability ``clip(drive, 0, 1)``, then its membrane becomes
        ``alpha * v + (1 - alpha) * input`` and, at or above the threshold, it fires and loses
        ``threshold``.

        Parameters
        ----------
        node_features : array_like of shape (N, in_features)
            One row a node, any finite values (rates in [0, 1] in normal use).
        adjacency : array_like of shape (N, N)
            Row ``n`` weights the neighbours node ``n`` aggregates; weights need not be 0/1.
        T : int
            Number of timesteps, at least 1.

        Returns
        -------
        ndarray of shape (N, out_features)
            Spike counts as floats, between 0 and ``T``.

        Raises
        ------
        TypeError
            If an input is not a numeric array or ``T`` is not an integer.
        ValueError
            If the shapes disagree, the graph is empty, a value is not finite or ``T < 1``.

        Warns
        -----
        UnreachableThresholdWarning
            Once per ``(threshold, tau_mem, T)`` when the threshold cannot be reached.
        """
        steps = check_timesteps(T)
        features, graph = self._checked(node_features, adjacency)
        _warn_if_unreachable(self.threshold, self.tau_mem, steps, stacklevel=2)
        return self._integrate(self._project(features, graph), steps)

    def _integrate(self, drive: np.ndarray, steps: int) -> np.ndarray:
        """Rate-code ``drive`` into input spikes and run the LIF neurons over ``steps``."""
        spike_source = np.random.RandomState(INPUT_SPIKE_SEED)
        rates = np.clip(drive, 0, 1)
        alpha = _decay(self.tau_mem)
        gain = 1 - alpha
        membrane = np.zeros(drive.shape)
        counts = np.zeros(drive.shape)
        for _ in range(steps):
            arrivals = (spike_source.random_sample(drive.shape) < rates).astype(np.float64)
            membrane = alpha * membrane + gain * arrivals
            fired = membrane >= self.threshold
            membrane[fired] -= self.threshold
            counts += fired
        self._v = membrane
        return counts


@dataclass
class SpikeGNNLayer:
    """Stack of spike graph convolutions that classifies whole graphs.

    Layer ``i`` maps ``layer_dims[i]`` features to ``layer_dims[i + 1]`` with weights drawn from
    seed ``42 + i``. Between layers the spike counts are divided by their largest value, so the
    next layer sees rates in [0, 1].

    Parameters
    ----------
    layer_dims : list of int
        ``[in_features, hidden1, ..., out_features]``, at least two positive sizes.
    threshold : float
        Firing threshold of every layer, above zero.
    T : int
        Timesteps each layer runs, at least 1.
    tau_mem : float
        Membrane time constant of every layer, above zero.

    Attributes
    ----------
    convs : list of SpikeGraphConv
        The layers, built once at construction from the parameters above.

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a parameter is out of range.

    Warns
    -----
    UnreachableThresholdWarning
        Once per ``(threshold, tau_mem, T)`` when the threshold cannot be reached.
    """

    layer_dims: list[int]
    threshold: float = 1.0
    T: int = 8
    tau_mem: float = 10.0
    convs: list[SpikeGraphConv] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        dims = self.layer_dims
        check_layer_dims(dims.tolist() if isinstance(dims, np.ndarray) else dims)
        check_positive("threshold", self.threshold)
        check_timesteps(self.T)
        check_positive("tau_mem", self.tau_mem)
        self.convs = [
            SpikeGraphConv(
                dims[i], dims[i + 1], threshold=self.threshold, tau_mem=self.tau_mem, seed=42 + i
            )
            for i in range(len(dims) - 1)
        ]
        # Three frames up: this method, the dataclass __init__, then the caller.
        _warn_if_unreachable(self.threshold, self.tau_mem, self.T, stacklevel=3)

    def forward(self, node_features, adjacency) -> np.ndarray:
        """Run every layer in turn on one graph.

        Parameters
        ----------
        node_features : array_like of shape (N, layer_dims[0])
            One row a node, any finite values.
        adjacency : array_like of shape (N, N)
            Row ``n`` weights the neighbours node ``n`` aggregates; weights need not be 0/1.

        Returns
        -------
        ndarray of shape (N, layer_dims[-1])
            Spike counts of the last layer divided by their largest value (unchanged when all
            are 0).

        Raises
        ------
        TypeError
            If an input is not a numeric array.
        ValueError
            If the shapes disagree, the graph is empty or a value is not finite.
        """
        n_nodes = as_adjacency(adjacency).shape[0]
        as_features(node_features, n_nodes, self.convs[0].in_features)
        hidden = node_features
        for conv in self.convs:
            hidden = conv.forward(hidden, adjacency, T=self.T)
            peak = hidden.max()
            if peak > 0:
                hidden = hidden / peak
        return hidden

    def graph_classify(self, node_features, adjacency) -> int:
        """Return the class of a graph: the output feature with the largest sum over nodes.

        Parameters
        ----------
        node_features : array_like of shape (N, layer_dims[0])
            One row a node, any finite values.
        adjacency : array_like of shape (N, N)
            Row ``n`` weights the neighbours node ``n`` aggregates.

        Returns
        -------
        int
            Index in ``0 .. layer_dims[-1] - 1``; the lowest index wins ties, so a silent
            network answers 0.

        Raises
        ------
        TypeError
            If an input is not a numeric array.
        ValueError
            If the shapes disagree, the graph is empty or a value is not finite.
        """
        pooled = self.forward(node_features, adjacency).sum(axis=0)
        return int(np.argmax(pooled))

    @property
    def n_layers(self) -> int:
        """Number of graph convolution layers, ``len(layer_dims) - 1``."""
        return len(self.convs)

"""Training of the spike GNN for graph classification with the core's own structure: the same
layers, timesteps, LIF constants and sum-pool readout, weights learnt on the core's 8-bit grid.
Needs PyTorch, an optional extra (``pip install .[train]``); nothing else in spikegnn imports it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from .config import CoreConfig
from .datasets import GraphDataset
from .fixed import FixedPointModel, encode_and_integrate

__all__ = [
    "TrainResult",
    "TrainingUnavailableError",
    "count_polynomial",
    "pattern_counts",
    "train_network",
]

logger = logging.getLogger(__name__)

# Backward slope added to d E[count] / d drive, as a fraction of the largest spike count.
SURROGATE_SLOPE = 0.1

# Spike counts of the readout bias per unit of its learnt parameter.
BIAS_STEP = 10.0

# Largest T whose 2**T input patterns are tabulated.
MAX_TRAIN_TIMESTEPS = 16


class TrainingUnavailableError(ImportError):
    """PyTorch, which training needs, is not installed."""


def _import_torch():
    try:
        import torch
    except ImportError:
        raise TrainingUnavailableError(
            "training needs PyTorch, which is not installed; install it with "
            "`pip install .[train]` (or `pip install torch==2.13.0`)."
        ) from None
    return torch


def pattern_counts(config: CoreConfig) -> np.ndarray:
    """Spike count of the fixed-point LIF neuron for every ``T``-bit input pattern.

    Entry ``m`` is the count when the input spikes at exactly the timesteps ``t`` whose bit
    ``(m >> t) & 1`` is set. The counts come from :func:`golden.fixed.encode_and_integrate`
    itself, fed a probability of 1 and draws of 0 (spike) or 1 (no spike).

    Raises
    ------
    ValueError
        If ``config.timesteps`` is above 16 (the table would be too large).
    """
    steps = config.timesteps
    if steps > MAX_TRAIN_TIMESTEPS:
        raise ValueError(
            f"training supports at most {MAX_TRAIN_TIMESTEPS} timesteps, but the configuration "
            f"has timesteps = {steps}."
        )
    patterns = np.arange(1 << steps, dtype=np.int64)
    arrivals = (patterns[:, None] >> np.arange(steps)[None, :]) & 1
    draws = (1 - arrivals)[:, None, :]
    probability = np.ones((1, patterns.size, 1), dtype=np.int64)
    return encode_and_integrate(probability, draws, config)[0, :, 0]


def count_polynomial(config: CoreConfig) -> np.ndarray:
    """``a_k``: the summed spike counts of all input patterns with ``k`` spikes, ``k = 0 .. T``.

    ``E[count](p) = sum_k a_k p**k (1 - p)**(T - k)`` for independent input spikes of
    probability ``p``.
    """
    table = pattern_counts(config)
    ones = np.array([bin(m).count("1") for m in range(table.size)])
    return np.bincount(ones, weights=table, minlength=config.timesteps + 1)


def monomial_coefficients(bernstein: np.ndarray) -> np.ndarray:
    """``c_j`` with ``sum_j c_j p**j == sum_k a_k p**k (1 - p)**(T - k)`` (``a`` as given)."""
    steps = len(bernstein) - 1
    result = np.zeros(steps + 1)
    for k, a_k in enumerate(bernstein):
        # p**k (1 - p)**(T - k) = sum_i C(T - k, i) (-1)**i p**(k + i)
        for i in range(steps - k + 1):
            result[k + i] += a_k * math.comb(steps - k, i) * (-1) ** i
    return result


@dataclass
class TrainResult:
    """A trained network and how training went.

    Attributes
    ----------
    config : CoreConfig
    weights_float : list of ndarray
        One ``(in, out)`` matrix a layer, on the core's weight grid.
    losses : list of float
        Mean training loss of every epoch.
    train_accuracy : float
        Accuracy of the fixed-point model on the training graphs with the chosen weights.
    best_epoch : int
        Epoch (1-based) whose weights were kept.
    firing_rates : list of float
        Mean spike count per neuron of every layer (fixed-point model, training graphs).
    class_bias : ndarray of shape (C,) or None
        Integers the core's readout adds to the class sums (``readout_bias``), else None.
    """

    config: CoreConfig
    weights_float: list[np.ndarray]
    losses: list[float] = field(default_factory=list)
    train_accuracy: float = 0.0
    best_epoch: int = 0
    firing_rates: list[float] = field(default_factory=list)
    class_bias: np.ndarray | None = None


def _tensors(torch, dataset: GraphDataset, config: CoreConfig):
    """Padded float tensors of a dataset: adjacency, degree reciprocals, features, labels."""
    batch = dataset.batch()
    degree = batch.adjacency.sum(axis=-1)
    # The core's reciprocal table (isolated nodes read degree 1), not an exact 1/d.
    limit = config.degree_reciprocals.size - 1
    reciprocal = config.degree_reciprocals[np.minimum(degree, limit)] / (
        1 << config.recip_frac_bits
    )
    reciprocal = np.where(degree > limit, 1.0 / np.maximum(degree, 1), reciprocal)
    features = np.floor(batch.features * config.feature_one + 0.5) / config.feature_one
    return (
        torch.tensor(batch.adjacency, dtype=torch.float64),
        torch.tensor(reciprocal[..., None], dtype=torch.float64),
        torch.tensor(features, dtype=torch.float64),
        torch.tensor(batch.labels, dtype=torch.int64),
    )


class _SpikeNetwork:
    """The core's forward pass in PyTorch: quantised weights, sampled LIF counts, readout."""

    def __init__(self, torch, config: CoreConfig, generator):
        self.torch = torch
        self.config = config
        self.generator = generator
        steps = config.timesteps
        self.table = torch.tensor(pattern_counts(config), dtype=torch.float64)
        self.monomials = [float(c) for c in monomial_coefficients(count_polynomial(config))]
        self.bits = 2 ** torch.arange(steps, dtype=torch.int64)
        self.leak = SURROGATE_SLOPE * float(self.table.max())
        self.weights = []
        dims = config.layer_dims
        for layer in range(config.n_layers):
            fan_in = dims[layer]
            # Layer 0 sees one-hot tag means (rows sum to 1), later layers spike-count rates:
            # start every neuron with a positive drive so that every layer fires from the start.
            mean = 0.5 if layer == 0 else 1.0 / fan_in
            weight = mean + torch.randn(fan_in, dims[layer + 1], generator=generator) * (
                1.0 / math.sqrt(fan_in)
            )
            self.weights.append(weight.double().requires_grad_(True))

    def quantised(self, weight):
        """Fake quantisation: the forward pass sees the core's weight, the gradient passes."""
        config = self.config
        scale = float(1 << config.weight_frac_bits)
        grid = self.torch.clamp(
            self.torch.floor(weight * scale + 0.5), config.weight_min, config.weight_max
        )
        return weight + (grid / scale - weight).detach()

    def expected_count(self, probability):
        """``E[count](p)`` from the count polynomial."""
        # Horner's rule on the monomial form: T multiply-adds, cheap to differentiate.
        total = self.torch.full_like(probability, self.monomials[-1])
        for coefficient in reversed(self.monomials[:-1]):
            total = total * probability + coefficient
        return total

    def sampled_count(self, probability):
        """Counts of Bernoulli input patterns drawn with ``probability``, looked up per pattern."""
        torch = self.torch
        shape = (*probability.shape, self.config.timesteps)
        draws = torch.rand(shape, generator=self.generator, dtype=torch.float64)
        arrivals = (draws < probability.detach().unsqueeze(-1)).long()
        return self.table[(arrivals * self.bits).sum(-1)]

    def forward(self, adjacency, reciprocal, features, *, sample: bool):
        """Class sums and per-layer counts of a padded batch."""
        torch = self.torch
        x = features
        counts = []
        for layer, weight in enumerate(self.weights):
            aggregated = reciprocal * (adjacency @ x)
            drive = aggregated @ self.quantised(weight)
            probability = torch.clamp(drive, 0.0, 1.0)
            # Surrogate gradient: E[count] is flat near p = 0 and p = 1 and the clip is flat
            # beyond, so a small constant slope keeps silent or saturated neurons learning.
            mean = self.expected_count(probability) + self.leak * (drive - drive.detach())
            count = mean + (self.sampled_count(probability) - mean).detach() if sample else mean
            counts.append(count)
            if layer < len(self.weights) - 1:
                top = count.detach().amax(dim=(1, 2), keepdim=True)
                x = count / torch.clamp(top, min=1e-6)
        return counts[-1].sum(dim=1), counts


def _fixed_accuracy(config: CoreConfig, weights_float, dataset: GraphDataset, class_bias=None):
    """Accuracy and firing rates of the fixed-point model on the graphs that fit the core."""
    model = FixedPointModel.from_float(config, [w.T for w in weights_float])
    fits = [g for g in dataset if g.n_nodes <= config.max_nodes and g.n_edges <= config.max_edges]
    if not fits:
        return 0.0, [0.0] * config.n_layers
    result = model.run_graphs([(g.adjacency, g.features) for g in fits])
    labels = np.array([g.label for g in fits])
    classes = result.classes
    if class_bias is not None:
        classes = np.argmax(result.class_sums + class_bias, axis=1)
    return float(np.mean(classes == labels)), result.firing_rates()


def train_network(
    config: CoreConfig,
    dataset: GraphDataset,
    *,
    seed: int = 0,
    epochs: int = 100,
    batch_size: int = 32,
    learning_rate: float = 0.02,
    select_every: int = 5,
    sample_spikes: bool = True,
    readout_bias: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train the core's network on a dataset's graphs.

    Parameters
    ----------
    config : CoreConfig
        The core the weights are for; ``layer_dims[0]`` must equal the dataset's node tags and
        ``layer_dims[-1]`` its classes.
    dataset : GraphDataset
        Training graphs.
    seed : int
        Seeds the weight initialisation, the spike sampling and the batch order; equal seeds
        give identical weights.
    epochs : int
        Passes over the training graphs.
    batch_size : int
        Graphs per gradient step.
    learning_rate : float
        Adam step size.
    select_every : int
        Every this many epochs (and after the last) the fixed-point model classifies the
        training graphs; the weights with the best training accuracy are kept (later epochs
        win ties).
    sample_spikes : bool
        Draw input spikes in the forward pass (as the core does); without it every count is
        its expectation.
    readout_bias : bool
        Also learn one integer a class that the core's readout adds to the class sums before
        the argmax, from ``weight_min`` to ``weight_max`` (without it the bias is zero).
    progress : bool
        Show a tqdm progress bar with the loss.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingUnavailableError
        If PyTorch is not installed.
    ValueError
        If the dataset does not suit the configuration or an argument is out of range.

    Notes
    -----
    For ``T <= 16`` timesteps a LIF neuron's spike count depends only on which timesteps bring
    an input spike, so the fixed-point model's count of every ``T``-bit input pattern is
    tabulated once (:func:`pattern_counts`). With independent input spikes of probability ``p``
    the expected count is the polynomial ``E[c](p) = sum_k a_k p**k (1 - p)**(T - k)``
    (:func:`count_polynomial`). The forward pass draws Bernoulli input patterns and looks their
    counts up, as the core does with its LFSRs; the backward pass takes the derivative of
    ``E[c]`` plus a small constant slope (straight-through, ``SURROGATE_SLOPE``). Weights are
    fake-quantised to the core's format throughout, so the weights returned lie on its grid.
    """
    torch = _import_torch()
    from tqdm import tqdm

    if dataset.n_tags != config.layer_dims[0]:
        raise ValueError(
            f"the graphs of {dataset.name} have {dataset.n_tags} node tags but the "
            f"configuration's first layer takes {config.layer_dims[0]}; use a configuration "
            f"with layer_dims[0] = {dataset.n_tags}."
        )
    if dataset.n_classes > config.n_classes:
        raise ValueError(
            f"{dataset.name} has {dataset.n_classes} classes but the configuration's last "
            f"layer has {config.n_classes}; use layer_dims[-1] = {dataset.n_classes}."
        )
    for name, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("select_every", select_every),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, but it is {value!r}.")
    if len(dataset) == 0:
        raise ValueError(f"dataset {dataset.name!r} holds no graphs to train on.")

    torch.manual_seed(seed)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(seed)
        order_rng = np.random.default_rng(seed)
        network = _SpikeNetwork(torch, config, generator)
        # The readout's argmax ignores scale; the loss learns the logit scale of class sums.
        log_scale = torch.tensor(
            -math.log(config.timesteps), dtype=torch.float64, requires_grad=True
        )
        # The bias is learnt in units of BIAS_STEP spike counts, so that it moves as fast as
        # the class sums, and rounded to integers in the forward pass (straight-through).
        bias = torch.zeros(config.n_classes, dtype=torch.float64, requires_grad=readout_bias)
        parameters = [*network.weights, log_scale] + ([bias] if readout_bias else [])
        optimiser = torch.optim.Adam(parameters, lr=learning_rate)

        def class_bias():
            # Rounded and clipped to the weight format, as the core's bias registers hold it.
            counts = bias * BIAS_STEP
            stored = torch.clamp(torch.round(counts), config.weight_min, config.weight_max)
            return counts + (stored - counts).detach()

        def snapshot_bias():
            return class_bias().detach().numpy().astype(np.int64) if readout_bias else None

        adjacency, reciprocal, features, labels = _tensors(torch, dataset, config)

        def snapshot():
            return [network.quantised(w).detach().numpy().copy() for w in network.weights]

        best = (-1.0, 0, snapshot(), snapshot_bias())
        losses = []
        bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
        for epoch in bar:
            order = order_rng.permutation(len(dataset))
            total = 0.0
            for start in range(0, len(order), batch_size):
                chosen = torch.tensor(order[start : start + batch_size])
                sums, _ = network.forward(
                    adjacency[chosen], reciprocal[chosen], features[chosen], sample=sample_spikes
                )
                logits = (sums + class_bias()) * log_scale.exp()
                loss = torch.nn.functional.cross_entropy(logits, labels[chosen])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(chosen)
            losses.append(total / len(order))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if epoch % select_every == 0 or epoch == epochs:
                accuracy, _ = _fixed_accuracy(config, snapshot(), dataset, snapshot_bias())
                if accuracy >= best[0]:
                    best = (accuracy, epoch, snapshot(), snapshot_bias())
                logger.info(
                    "epoch %d: loss %.4f, fixed training accuracy %.4f", epoch, losses[-1], accuracy
                )
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)

    accuracy, epoch, weights, kept_bias = best
    _, rates = _fixed_accuracy(config, weights, dataset)
    for layer, rate in enumerate(rates):
        logger.info("layer %d firing rate %.3f spikes per neuron", layer, rate)
    return TrainResult(config, weights, losses, accuracy, epoch, rates, kept_bias)

"""The one configuration that the fixed-point golden model and the gateware generator both read.

Every number that decides a bit of the hardware's answer lives here: layer sizes, timesteps,
lanes, word widths and binary points, the LIF constants in fixed point, the LFSR polynomial and
seeds, and the graph limits. ``docs/fixed_point.md`` derives each width from these fields.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .validate import check_layer_dims, check_positive, check_timesteps, describe

__all__ = ["CoreConfig", "ConfigError", "lfsr_step", "lfsr_advance"]


class ConfigError(ValueError):
    """A configuration field holds a value the hardware cannot implement."""


def lfsr_step(state: int, taps: int, width: int) -> int:
    """Advance a Galois LFSR by one shift.

    The register shifts right; when the bit shifted out is 1 the tap mask is XORed in. With a
    primitive polynomial's mask the state visits every non-zero value of ``width`` bits.
    The gateware's :class:`hdl.encoder.LFSR` computes the same function.
    """
    out = state & 1
    state >>= 1
    if out:
        state ^= taps
    return state & ((1 << width) - 1)


def lfsr_advance(state: int, taps: int, width: int, shifts: int) -> int:
    """Apply :func:`lfsr_step` ``shifts`` times.

    One shift is linear over GF(2), so long jumps multiply the state by a power of the shift
    matrix (square and multiply) instead of stepping; the result is the same.
    """
    if shifts <= _STEP_LIMIT or not 0 <= state < 1 << width:
        for _ in range(shifts):
            state = lfsr_step(state, taps, width)
        return state
    return _gf2_apply(_lfsr_jump(taps, width, shifts), state)


# Up to this many shifts, stepping is as fast as building a jump matrix.
_STEP_LIMIT = 64


def _gf2_apply(columns: tuple[int, ...], state: int) -> int:
    """Multiply a GF(2) matrix, given as one bit-mask column per input bit, by ``state``."""
    out, bit = 0, 0
    while state:
        if state & 1:
            out ^= columns[bit]
        state >>= 1
        bit += 1
    return out


@lru_cache(maxsize=256)
def _lfsr_jump(taps: int, width: int, shifts: int) -> tuple[int, ...]:
    """Columns of the GF(2) matrix that advances a ``width``-bit register by ``shifts`` shifts.

    Column ``b`` is where the state with only bit ``b`` set lands.
    """
    result = tuple(1 << bit for bit in range(width))
    power = tuple(lfsr_step(1 << bit, taps, width) for bit in range(width))
    while shifts:
        if shifts & 1:
            result = tuple(_gf2_apply(power, column) for column in result)
        power = tuple(_gf2_apply(power, column) for column in power)
        shifts >>= 1
    return result


def _gf2_apply_array(columns: tuple[int, ...], states: np.ndarray) -> np.ndarray:
    """:func:`_gf2_apply` on every element of an ``int64`` array of states."""
    out = np.zeros_like(states)
    for bit, column in enumerate(columns):
        out ^= ((states >> bit) & 1) * column
    return out


def _int_field(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, not {describe(value)}.")
    if value < low or (high is not None and value > high):
        allowed = f"at least {low}" if high is None else f"from {low} to {high}"
        raise ConfigError(f"{name} must be {allowed}, but it is {value}.")
    return int(value)


@dataclass(frozen=True)
class CoreConfig:
    """Fixed-point formats, LIF constants, LFSRs and limits of one spike GNN core.

    Parameters
    ----------
    layer_dims : tuple of int
        ``(in, hidden, ..., out)``; ``out`` is the number of classes.
    timesteps : int
        LIF timesteps ``T`` per layer.
    lanes : int
        Parallel multiply-accumulate units, LFSRs and LIF neurons.
    threshold : float
        LIF firing threshold (membrane units: one input spike adds ``1 - alpha``).
    tau_mem : float
        Membrane time constant in timesteps; ``alpha = exp(-1 / tau_mem)``.
    max_nodes, max_edges : int
        Largest graph the core stores; edges count directed adjacency entries.
    feature_frac_bits : int
        Binary point of node features; 1.0 is ``2**feature_frac_bits``.
    weight_width, weight_frac_bits : int
        Signed two's-complement weights with this many bits, this many after the point.
    recip_frac_bits : int
        Binary point of the degree reciprocal ``1/d``.
    prob_bits : int
        Binary point of the spike probability and width of each LFSR draw.
    membrane_frac_bits : int
        Binary point of the LIF membrane.
    leak_frac_bits : int
        Binary point of the leak factor ``alpha``.
    lfsr_width, lfsr_taps : int
        Galois LFSR register width and tap mask (a primitive polynomial).
    lfsr_seed : int
        Starting state of lane 0; lane ``k`` starts ``k * lfsr_width * (2**lfsr_width - 1) //
        lanes`` shifts further along the same sequence so the lanes do not repeat each other.
    shifts_per_draw : int
        LFSR shifts between two draws of one lane; coprime with ``2**lfsr_width - 1`` so the
        draw sequence keeps the full period.

    Raises
    ------
    ConfigError
        When a field is out of range or the fields contradict each other.
    """

    layer_dims: tuple[int, ...] = (7, 32, 2)
    timesteps: int = 8
    lanes: int = 8
    threshold: float = 0.25
    tau_mem: float = 10.0
    max_nodes: int = 32
    max_edges: int = 128
    feature_frac_bits: int = 8
    weight_width: int = 8
    weight_frac_bits: int = 6
    recip_frac_bits: int = 12
    prob_bits: int = 10
    membrane_frac_bits: int = 12
    leak_frac_bits: int = 12
    lfsr_width: int = 16
    lfsr_taps: int = 0xB400
    lfsr_seed: int = 0xACE1
    shifts_per_draw: int = 16
    word_width: int = field(default=16, repr=False)

    def __post_init__(self):
        try:
            dims = check_layer_dims(list(self.layer_dims))
            check_timesteps(self.timesteps, "timesteps")
            check_positive("threshold", self.threshold)
            check_positive("tau_mem", self.tau_mem)
        except (TypeError, ValueError) as error:
            raise ConfigError(str(error)) from None
        object.__setattr__(self, "layer_dims", dims)
        _int_field("timesteps", self.timesteps, 1, 255)
        _int_field("lanes", self.lanes, 1, 64)
        _int_field("max_nodes", self.max_nodes, 1, 4096)
        _int_field("max_edges", self.max_edges, 1, 65536)
        _int_field("feature_frac_bits", self.feature_frac_bits, 1, 12)
        _int_field("weight_width", self.weight_width, 2, 16)
        _int_field("weight_frac_bits", self.weight_frac_bits, 0, self.weight_width - 1)
        _int_field("recip_frac_bits", self.recip_frac_bits, 1, 16)
        _int_field("prob_bits", self.prob_bits, 1, self.feature_frac_bits + self.weight_frac_bits)
        _int_field("membrane_frac_bits", self.membrane_frac_bits, 1, 20)
        _int_field("leak_frac_bits", self.leak_frac_bits, 1, 20)
        _int_field("lfsr_width", self.lfsr_width, self.prob_bits, 32)
        _int_field("lfsr_taps", self.lfsr_taps, 1, (1 << self.lfsr_width) - 1)
        _int_field("lfsr_seed", self.lfsr_seed, 1, (1 << self.lfsr_width) - 1)
        _int_field("shifts_per_draw", self.shifts_per_draw, 1, 64)
        _int_field("word_width", self.word_width, 16, 32)
        if self.lfsr_taps >> (self.lfsr_width - 1) != 1:
            raise ConfigError(
                f"lfsr_taps must have its top bit (bit {self.lfsr_width - 1}) set, "
                f"but it is {self.lfsr_taps:#x}."
            )
        if math.gcd(self.shifts_per_draw, (1 << self.lfsr_width) - 1) != 1:
            raise ConfigError(
                f"shifts_per_draw must be coprime with 2**lfsr_width - 1 = "
                f"{(1 << self.lfsr_width) - 1}, but it is {self.shifts_per_draw}."
            )
        if self.max_edges < 1 or self.max_nodes < 1:
            raise ConfigError("max_nodes and max_edges must be positive.")
        for name in ("max_nodes", "max_edges", "max_features"):
            if getattr(self, name) >= 1 << (self.word_width - 4):
                raise ConfigError(
                    f"{name} = {getattr(self, name)} does not fit the {self.word_width - 4}-bit "
                    f"argument of a {self.word_width}-bit command word."
                )
        if self.accumulator_width > 48:
            raise ConfigError(
                f"the accumulators would need {self.accumulator_width} bits; reduce the widths "
                "or max_features so they need at most 48."
            )
        if self.threshold_q < 1:
            raise ConfigError(
                f"threshold {self.threshold} rounds to 0 with membrane_frac_bits = "
                f"{self.membrane_frac_bits}; raise one of them."
            )

    # -- derived sizes ---------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """Number of graph convolution layers."""
        return len(self.layer_dims) - 1

    @property
    def n_classes(self) -> int:
        """Width of the last layer, one spike count per class."""
        return self.layer_dims[-1]

    @property
    def max_features(self) -> int:
        """Widest layer input or output."""
        return max(self.layer_dims)

    def groups(self, width: int) -> int:
        """Number of ``lanes``-wide groups that cover ``width`` features."""
        return -(-width // self.lanes)

    @property
    def max_groups(self) -> int:
        """Groups of the widest layer."""
        return self.groups(self.max_features)

    # -- fixed-point constants -------------------------------------------------------------

    @property
    def feature_one(self) -> int:
        """The integer that stands for feature value 1.0."""
        return 1 << self.feature_frac_bits

    @property
    def feature_width(self) -> int:
        """Bits of a stored node feature (0 to 1.0 inclusive)."""
        return self.feature_frac_bits + 1

    @property
    def count_width(self) -> int:
        """Bits of a spike count (0 to ``timesteps``)."""
        return max(1, self.timesteps.bit_length())

    @property
    def word_store_width(self) -> int:
        """Bits of one feature-memory element: a layer-0 feature or a spike count."""
        return max(self.feature_width, self.count_width)

    @property
    def weight_min(self) -> int:
        """Smallest quantised weight."""
        return -(1 << (self.weight_width - 1))

    @property
    def weight_max(self) -> int:
        """Largest quantised weight."""
        return (1 << (self.weight_width - 1)) - 1

    @property
    def alpha(self) -> float:
        """Leak factor per timestep, ``exp(-1 / tau_mem)``."""
        return math.exp(-1.0 / self.tau_mem)

    @property
    def leak_q(self) -> int:
        """``alpha`` with ``leak_frac_bits`` fractional bits, rounded to nearest."""
        return round(self.alpha * (1 << self.leak_frac_bits))

    @property
    def input_gain_q(self) -> int:
        """Membrane increment of one input spike, ``1 - alpha``, rounded to nearest."""
        return round((1.0 - self.alpha) * (1 << self.membrane_frac_bits))

    @property
    def threshold_q(self) -> int:
        """Firing threshold with ``membrane_frac_bits`` fractional bits, rounded to nearest."""
        return round(self.threshold * (1 << self.membrane_frac_bits))

    @property
    def probability_one(self) -> int:
        """The integer that stands for spike probability 1.0."""
        return 1 << self.prob_bits

    @property
    def probability_shift(self) -> int:
        """Right shift from the projection accumulator's binary point to ``prob_bits``."""
        return self.feature_frac_bits + self.weight_frac_bits - self.prob_bits

    @cached_property
    def degree_reciprocals(self) -> np.ndarray:
        """``round(2**recip_frac_bits / d)`` for degree ``d`` = 0 .. max_nodes (0 reads as 1)."""
        d = np.arange(self.max_nodes + 1, dtype=np.int64)
        d[0] = 1
        return ((1 << (self.recip_frac_bits + 1)) + d) // (2 * d)

    @property
    def recip_width(self) -> int:
        """Bits of a degree reciprocal (unsigned)."""
        return int(self.degree_reciprocals.max()).bit_length()

    @cached_property
    def normalisation_table(self) -> np.ndarray:
        """``table[cmax, c] = round(c * 2**feature_frac_bits / cmax)``, zero where ``cmax`` = 0.

        Entries with ``c > cmax`` never occur and read as 0.
        """
        top = self.timesteps
        cmax = np.arange(top + 1, dtype=np.int64)[:, None]
        count = np.arange(top + 1, dtype=np.int64)[None, :]
        table = (count * (2 * self.feature_one) + cmax) // np.maximum(2 * cmax, 1)
        return np.where((cmax > 0) & (count <= cmax), table, 0)

    @property
    def aggregate_max(self) -> int:
        """Largest degree-scaled neighbour mean over every allowed degree."""
        d = np.arange(1, self.max_nodes + 1, dtype=np.int64)
        return int(
            ((d * self.feature_one * self.degree_reciprocals[1:]) >> self.recip_frac_bits).max()
        )

    @property
    def aggregate_width(self) -> int:
        """Bits of an aggregated feature (unsigned)."""
        return self.aggregate_max.bit_length()

    @property
    def accumulator_width(self) -> int:
        """Signed bits of a lane accumulator; no sum of the configured maxima can overflow it.

        The aggregation phase sums at most ``max_nodes`` products ``feature * reciprocal``; the
        projection phase sums at most ``max_features`` products ``aggregate * weight``.
        """
        aggregation = self.max_nodes * self.feature_one * int(self.degree_reciprocals.max())
        projection = self.max_features * self.aggregate_max * (1 << (self.weight_width - 1))
        return max(aggregation, projection).bit_length() + 1

    @cached_property
    def membrane_bound(self) -> int:
        """Largest membrane value before the threshold comparison, for every input pattern.

        Iterates ``B' = (max(theta - 1, B - theta) * leak) >> L + gain`` from rest: the update
        is monotone in the previous bound, so ``B`` bounds every reachable membrane.
        """
        bound, worst = 0, 0
        for _ in range(self.timesteps):
            after_reset = max(self.threshold_q - 1, bound - self.threshold_q, 0)
            bound = ((after_reset * self.leak_q) >> self.leak_frac_bits) + self.input_gain_q
            worst = max(worst, bound)
        return worst

    @property
    def membrane_width(self) -> int:
        """Unsigned bits of the membrane register."""
        return max(self.membrane_bound, self.threshold_q).bit_length()

    @cached_property
    def membrane_reachable(self) -> int:
        """Highest membrane value reachable in ``timesteps`` steps without a spike."""
        v, top = 0, 0
        for _ in range(self.timesteps):
            v = ((v * self.leak_q) >> self.leak_frac_bits) + self.input_gain_q
            top = max(top, v)
        return top

    @property
    def threshold_reachable(self) -> bool:
        """Whether a neuron whose inputs all spike can reach the threshold within ``T`` steps."""
        return self.membrane_reachable >= self.threshold_q

    @cached_property
    def lane_seeds(self) -> tuple[int, ...]:
        """LFSR starting state of every lane."""
        period = (1 << self.lfsr_width) - 1
        stride = self.shifts_per_draw * (period // self.lanes)
        seeds, state = [], self.lfsr_seed
        for _ in range(self.lanes):
            seeds.append(state)
            state = lfsr_advance(state, self.lfsr_taps, self.lfsr_width, stride % period)
        return tuple(seeds)

    def draws(self, count: int) -> np.ndarray:
        """First ``count`` LFSR draws of every lane, shape ``(lanes, count)``.

        Draw ``i`` of lane ``k`` is the top ``prob_bits`` bits of the lane's state after
        ``i * shifts_per_draw`` shifts from its seed.
        """
        states = np.empty((self.lanes, count), dtype=np.int64)
        if count > 0:
            states[:, 0] = self.lane_seeds
        # Doubling: the states of draws filled .. 2 * filled are those of draws 0 .. filled
        # advanced by filled * shifts_per_draw shifts, one GF(2) matrix product for all.
        filled = 1
        while filled < count:
            more = min(filled, count - filled)
            jump = _lfsr_jump(self.lfsr_taps, self.lfsr_width, filled * self.shifts_per_draw)
            states[:, filled : filled + more] = _gf2_apply_array(jump, states[:, :more])
            filled += more
        return states >> (self.lfsr_width - self.prob_bits)

    @cached_property
    def layer_draws(self) -> np.ndarray:
        """Draw table for one layer: ``(lanes, max_nodes * max_groups * timesteps)``."""
        return self.draws(self.max_nodes * self.max_groups * self.timesteps)

    # -- files and identity ------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Return the fields as a JSON-ready dictionary."""
        data = dataclasses.asdict(self)
        data["layer_dims"] = list(self.layer_dims)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CoreConfig:
        """Build a configuration from a dictionary, rejecting unknown keys by name."""
        if not isinstance(data, dict):
            raise ConfigError(f"a configuration must be a JSON object, not {describe(data)}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown configuration key {unknown[0]!r}; allowed keys are {sorted(known)}."
            )
        values = dict(data)
        if "layer_dims" in values and isinstance(values["layer_dims"], list):
            values["layer_dims"] = tuple(values["layer_dims"])
        return cls(**values)

    @classmethod
    def from_json(cls, path: str | Path) -> CoreConfig:
        """Read a configuration written by :meth:`to_json` (missing keys take defaults)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist.") from None
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"configuration file {path} is not valid JSON (line {error.lineno}: {error.msg})."
            ) from None
        return cls.from_dict(data)

    def to_json(self, path: str | Path) -> None:
        """Write the configuration as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @property
    def config_hash(self) -> int:
        """16-bit identity of the configuration, built into the gateware's ID word."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:2], "big")

    def describe(self) -> str:
        """Return a multi-line summary of the derived formats, for reports and headers."""
        lines = [
            f"layer_dims {list(self.layer_dims)}, T {self.timesteps}, lanes {self.lanes}",
            f"graph limits: {self.max_nodes} nodes, {self.max_edges} edges",
            f"feature Q0.{self.feature_frac_bits} ({self.feature_width} bits), "
            f"weight Q{self.weight_width - self.weight_frac_bits}.{self.weight_frac_bits} "
            f"signed, reciprocal Q0.{self.recip_frac_bits} ({self.recip_width} bits)",
            f"aggregate <= {self.aggregate_max} ({self.aggregate_width} bits), "
            f"accumulator {self.accumulator_width} bits signed",
            f"probability Q0.{self.prob_bits}, LFSR {self.lfsr_width} bits taps "
            f"{self.lfsr_taps:#x} seed {self.lfsr_seed:#x}, {self.shifts_per_draw} shifts/draw",
            f"membrane Q.{self.membrane_frac_bits} ({self.membrane_width} bits, bound "
            f"{self.membrane_bound}), threshold {self.threshold_q}, leak {self.leak_q}/2^"
            f"{self.leak_frac_bits}, input gain {self.input_gain_q}",
            f"config hash {self.config_hash:#06x}",
        ]
        return "\n".join(lines)

"""Trained weights on disk: one ``.npz`` file holding a network's float weights, their quantised
form as the core loads it, the core configuration and how the weights were trained.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ConfigError, CoreConfig
from .fixed import FixedPointModel, check_class_bias, quantize_weights
from .validate import describe

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WeightsFile",
    "WeightsFormatError",
    "load_weights",
    "packaged_weights_path",
    "save_weights",
    "weights_summary",
]

logger = logging.getLogger(__name__)

#: Value of the ``format`` entry of every weights file.
FORMAT_NAME = "spikegnn-weights"
#: Version of the layout described in the module docstring.
FORMAT_VERSION = 1


class WeightsFormatError(ValueError):
    """A weights file is missing, is not a spikegnn weights file or contradicts itself."""


@dataclass(frozen=True, eq=False)
class WeightsFile:
    """The contents of a weights file.

    Attributes
    ----------
    config : CoreConfig
        The core configuration the weights were trained and quantised for.
    weights_float : list of ndarray
        Float weights, one ``(in, out)`` matrix a layer.
    weights_q : list of ndarray
        Quantised weights, one ``(out, in)`` int64 matrix a layer, as the core loads them.
    metadata : dict
        Training metadata (dataset, fold, seed, accuracy, ...), as saved.
    path : Path or None
        The file it was read from.
    class_bias : ndarray of shape (C,)
        Integer the core's readout adds to each class sum before the argmax (loaded with the
        weights, in the weight format's range); zeros unless trained with a readout bias.
    degree_features : int
        Number of one-hot degree columns the network's input has after the node tags (see
        :meth:`GraphDataset.with_degree_features`); 0 when it takes the tags only. The first
        layer takes ``n_tags + degree_features`` columns; :meth:`encode` appends them.

    Notes
    -----
    The format (version 1), every array stored without pickling:

    ==================  ===========================================================================
    key                 content
    ==================  ===========================================================================
    ``format``          the string ``"spikegnn-weights"``
    ``version``         format version, an integer (1)
    ``config``          the `CoreConfig` as JSON text (:meth:`CoreConfig.to_dict`)
    ``metadata``        training metadata as JSON text: dataset, fold, seed, accuracy and so on
    ``n_layers``        number of layers ``L``, an integer
    ``float_<l>``       float64 weights of layer ``l``, shape ``(in, out)``: ``x @ W`` projects
    ``quantised_<l>``   int16 weights of layer ``l``, shape ``(out, in)``, exactly what
                        `FixedPointModel` and the core's weight memory take:
                        ``quantize_weights(float_<l>.T, config)``
    ``class_bias``      optional int64 ``(C,)``: integers the core's readout adds to the class
                        sums before the argmax (absent: zeros)
    ``degree_features`` optional integer: one-hot degree columns appended to the node tags of
                        every graph before it is run (absent: 0, tags only)
    ==================  ===========================================================================
    """

    config: CoreConfig
    weights_float: list[np.ndarray]
    weights_q: list[np.ndarray]
    metadata: dict = field(default_factory=dict)
    path: Path | None = None
    class_bias: np.ndarray | None = None
    degree_features: int = 0

    def __post_init__(self):
        if self.class_bias is None:
            object.__setattr__(self, "class_bias", np.zeros(self.config.n_classes, np.int64))

    def encode(self, dataset):
        """Return ``dataset`` with the node features these weights take.

        Appends :attr:`degree_features` one-hot degree columns to every graph's node tags
        (nothing when it is 0) and checks the width against ``layer_dims[0]``.

        Raises
        ------
        ValueError
            If the dataset's tags plus the degree columns do not make ``layer_dims[0]``.
        """
        width = self.config.layer_dims[0]
        if dataset.n_tags + self.degree_features != width:
            with_degrees = (
                f" plus {self.degree_features} degree columns" if self.degree_features else ""
            )
            raise ValueError(
                f"the graphs of {dataset.name} have {dataset.n_tags} node tags{with_degrees}, "
                f"but these weights' first layer takes {width} columns (layer_dims[0]); they "
                f"need graphs with {width - self.degree_features} node tags."
            )
        return dataset.with_degree_features(self.degree_features)

    def classify(self, class_sums) -> np.ndarray:
        """Classes from class sums ``(..., C)``: argmax of ``class_sums + class_bias``.

        With a zero bias this is the core's own readout (ties go to the lowest class).
        """
        return np.argmax(np.asarray(class_sums) + self.class_bias, axis=-1)

    def fixed_model(self) -> FixedPointModel:
        """Return the bit-exact integer model loaded with :attr:`weights_q`."""
        return FixedPointModel(self.config, self.weights_q, self.class_bias)

    def reference_network(self):
        """Return the float reference model (`SpikeGNNLayer`) with :attr:`weights_float`."""
        from .reference import SpikeGNNLayer

        config = self.config
        network = SpikeGNNLayer(
            list(config.layer_dims),
            threshold=config.threshold,
            T=config.timesteps,
            tau_mem=config.tau_mem,
        )
        for conv, weight in zip(network.convs, self.weights_float, strict=True):
            conv.W = np.array(weight.T, dtype=np.float64)
        return network


def _check_float_weights(config: CoreConfig, weights_float) -> list[np.ndarray]:
    """Check one ``(in, out)`` finite float matrix a layer and return float64 copies."""
    if isinstance(weights_float, np.ndarray) or not hasattr(weights_float, "__len__"):
        raise TypeError(
            f"weights_float must be a list of {config.n_layers} matrices (one a layer), "
            f"not {describe(weights_float)}."
        )
    if len(weights_float) != config.n_layers:
        raise ValueError(
            f"weights_float must hold {config.n_layers} matrices (one a layer, layer_dims "
            f"{list(config.layer_dims)}), but it holds {len(weights_float)}."
        )
    checked = []
    for layer, matrix in enumerate(weights_float):
        array = np.asarray(matrix)
        want = (config.layer_dims[layer], config.layer_dims[layer + 1])
        if array.shape != want:
            raise ValueError(
                f"weights_float[{layer}] must have shape {want} (in, out) for layer_dims "
                f"{list(config.layer_dims)}, but it has {describe(array)}."
            )
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"weights_float[{layer}] must hold real numbers, not {array.dtype}.")
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"weights_float[{layer}] must hold finite numbers only.")
        checked.append(array)
    return checked


def save_weights(
    path,
    config: CoreConfig,
    weights_float,
    *,
    metadata: dict | None = None,
    overwrite=False,
    class_bias=None,
    degree_features: int = 0,
) -> Path:
    """Quantise float weights for ``config`` and write them, with the configuration, to ``path``.

    Parameters
    ----------
    path : str or Path
        File to write; written as given (no suffix is added), ``.npz`` by convention.
    config : CoreConfig
        Configuration of the core; its ``layer_dims`` fix the matrix shapes.
    weights_float : sequence of array_like
        One ``(in, out)`` float matrix a layer.
    metadata : dict, optional
        JSON-serialisable training metadata (dataset, fold, seed, accuracy, ...).
    overwrite : bool
        Replace an existing file; without it an existing file is an error.
    class_bias : sequence of int, optional
        One integer a class from ``weight_min`` to ``weight_max``, added to the class sums by
        the core's readout (default: none, zeros).
    degree_features : int
        One-hot degree columns the network takes after the node tags (default 0: tags only);
        at most ``layer_dims[0] - 1``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    TypeError, ValueError
        If a matrix has the wrong shape or non-finite values, or the metadata is not JSON.
    """
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {describe(config)}.")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"the weights path {path} is a folder; name a file such as model.npz.")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"the weights file {path} already exists; pass overwrite=True (--overwrite) to "
            "replace it."
        )
    floats = _check_float_weights(config, weights_float)
    metadata = dict(metadata or {})
    try:
        metadata_text = json.dumps(metadata, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise TypeError(f"metadata must be JSON-serialisable ({error}).") from None
    arrays = {
        "format": np.array(FORMAT_NAME),
        "version": np.array(FORMAT_VERSION, dtype=np.int64),
        "config": np.array(json.dumps(config.to_dict(), sort_keys=True)),
        "metadata": np.array(metadata_text),
        "n_layers": np.array(config.n_layers, dtype=np.int64),
    }
    if class_bias is not None:
        arrays["class_bias"] = check_class_bias(config, class_bias)
    if isinstance(degree_features, bool) or not isinstance(degree_features, (int, np.integer)):
        raise TypeError(f"degree_features must be an integer, not {describe(degree_features)}.")
    if not 0 <= degree_features < config.layer_dims[0]:
        raise ValueError(
            f"degree_features must be 0 to {config.layer_dims[0] - 1} (fewer than layer_dims[0] "
            f"= {config.layer_dims[0]} columns), but it is {degree_features}."
        )
    if degree_features:
        arrays["degree_features"] = np.array(degree_features, dtype=np.int64)
    for layer, weight in enumerate(floats):
        arrays[f"float_{layer}"] = weight
        arrays[f"quantised_{layer}"] = quantize_weights(weight.T, config).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    logger.info("wrote %d layers of weights to %s", config.n_layers, path)
    return path


def _entry(archive, path: Path, key: str) -> np.ndarray:
    if key not in archive.files:
        raise WeightsFormatError(f"the weights file {path} has no '{key}' entry.")
    return archive[key]


def _json_entry(archive, path: Path, key: str):
    value = _entry(archive, path, key)
    if value.shape != () or value.dtype.kind != "U":
        raise WeightsFormatError(f"the '{key}' entry of {path} must be JSON text.")
    try:
        return json.loads(str(value))
    except json.JSONDecodeError as error:
        raise WeightsFormatError(
            f"the '{key}' entry of {path} is not valid JSON ({error.msg})."
        ) from None


def load_weights(path) -> WeightsFile:
    """Read and check a weights file written by :func:`save_weights`.

    Raises
    ------
    WeightsFormatError
        If the file does not exist, is not a version-1 spikegnn weights file, holds matrices
        whose shapes do not follow the configuration's ``layer_dims``, or quantised weights that
        differ from its float weights quantised again.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFormatError(f"the weights file {path} does not exist.")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise WeightsFormatError(f"{path} is not a weights file (.npz archive): {error}.") from None
    if not hasattr(archive, "files"):
        raise WeightsFormatError(f"{path} is a single NumPy array, not a weights file (.npz).")
    with archive:
        name = _entry(archive, path, "format")
        if name.shape != () or str(name) != FORMAT_NAME:
            raise WeightsFormatError(
                f"{path} has format {str(name)!r}, not {FORMAT_NAME!r}; it is not a spikegnn "
                "weights file."
            )
        version = _entry(archive, path, "version")
        if version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION:
            raise WeightsFormatError(
                f"{path} has format version {version.tolist()}, but this spikegnn reads "
                f"version {FORMAT_VERSION} only."
            )
        try:
            config = CoreConfig.from_dict(_json_entry(archive, path, "config"))
        except (ConfigError, TypeError) as error:
            raise WeightsFormatError(f"the configuration in {path} is invalid: {error}") from None
        metadata = _json_entry(archive, path, "metadata")
        if not isinstance(metadata, dict):
            raise WeightsFormatError(f"the metadata of {path} must be a JSON object.")
        n_layers = int(_entry(archive, path, "n_layers"))
        if n_layers != config.n_layers:
            raise WeightsFormatError(
                f"{path} holds {n_layers} layers, but its configuration's layer_dims "
                f"{list(config.layer_dims)} have {config.n_layers}."
            )
        floats, quantised = [], []
        for layer in range(n_layers):
            weight = _entry(archive, path, f"float_{layer}")
            weight_q = _entry(archive, path, f"quantised_{layer}")
            want = (config.layer_dims[layer], config.layer_dims[layer + 1])
            if weight.shape != want or weight.dtype.kind != "f":
                raise WeightsFormatError(
                    f"float_{layer} of {path} must be a float {want} (in, out) matrix for "
                    f"layer_dims {list(config.layer_dims)}, but it is {describe(weight)}."
                )
            if weight_q.shape != want[::-1] or weight_q.dtype.kind not in "iu":
                raise WeightsFormatError(
                    f"quantised_{layer} of {path} must be an integer {want[::-1]} (out, in) "
                    f"matrix for layer_dims {list(config.layer_dims)}, but it is "
                    f"{describe(weight_q)}."
                )
            weight = weight.astype(np.float64)
            if not np.all(np.isfinite(weight)):
                raise WeightsFormatError(f"float_{layer} of {path} holds non-finite values.")
            expected = quantize_weights(weight.T, config)
            weight_q = weight_q.astype(np.int64)
            if not np.array_equal(weight_q, expected):
                wrong = int(np.count_nonzero(weight_q != expected))
                raise WeightsFormatError(
                    f"quantised_{layer} of {path} differs from float_{layer} quantised for its "
                    f"configuration in {wrong} of {weight_q.size} weights."
                )
            floats.append(weight)
            quantised.append(weight_q)
        bias = None
        if "class_bias" in archive.files:
            bias = archive["class_bias"]
            if bias.shape != (config.n_classes,) or bias.dtype.kind not in "iu":
                raise WeightsFormatError(
                    f"class_bias of {path} must be {config.n_classes} integers (one a class), "
                    f"but it is {describe(bias)}."
                )
            bias = bias.astype(np.int64)
            if bias.min() < config.weight_min or bias.max() > config.weight_max:
                raise WeightsFormatError(
                    f"class_bias of {path} holds {int(bias.min())} to {int(bias.max())}, "
                    f"outside the weight format's [{config.weight_min}, {config.weight_max}]."
                )
        degree_features = 0
        if "degree_features" in archive.files:
            entry = archive["degree_features"]
            if entry.shape != () or entry.dtype.kind not in "iu":
                raise WeightsFormatError(
                    f"degree_features of {path} must be one integer, but it is {describe(entry)}."
                )
            degree_features = int(entry)
            if not 0 <= degree_features < config.layer_dims[0]:
                raise WeightsFormatError(
                    f"degree_features of {path} is {degree_features}, but it must be 0 to "
                    f"{config.layer_dims[0] - 1} for layer_dims {list(config.layer_dims)}."
                )
    return WeightsFile(config, floats, quantised, metadata, path, bias, degree_features)


def packaged_weights_path(name: str) -> Path:
    """Path of weights shipped with spikegnn, ``golden/weights/<name>.npz`` (may not exist)."""
    return Path(__file__).resolve().parent / "weights" / f"{name}.npz"


def weights_summary(weights: WeightsFile) -> str:
    """Return a one-line description of a weights file for logs and reports."""
    meta = weights.metadata
    parts = [f"layer_dims {list(weights.config.layer_dims)}"]
    if weights.degree_features:
        parts.append(f"degree_features {weights.degree_features}")
    for key in ("dataset", "fold", "seed", "test_accuracy"):
        if key in meta:
            value = meta[key]
            if isinstance(value, float) and math.isfinite(value):
                value = round(value, 4)
            parts.append(f"{key} {value}")
    return ", ".join(parts)

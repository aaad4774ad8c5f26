"""Tests of golden/config.py: every derived fixed-point constant checked against values worked
out by hand, the LFSR and its draw sequence, the JSON round trip and every configuration error.
"""

import dataclasses
import json
import math

import numpy as np
import pytest

from golden.config import ConfigError, CoreConfig, lfsr_advance, lfsr_step

DEFAULT = CoreConfig()
PERIOD = (1 << 16) - 1  # 65535 = 3 * 5 * 17 * 257


def lfsr_orbit(seed: int, taps: int = 0xB400, width: int = 16) -> np.ndarray:
    """States after 0, 1, ..., 2**width - 2 shifts from ``seed``, one Python step at a time."""
    states = np.empty((1 << width) - 1, dtype=np.int64)
    state = seed
    for i in range(states.size):
        states[i] = state
        state = lfsr_step(state, taps, width)
    return states


# -- degree reciprocals and the normalisation table -------------------------------------------


def test_degree_reciprocals_round_to_nearest():
    # round(4096 / d): 4096, 2048, 1365.33 -> 1365, 1024, 819.2 -> 819, 682.67 -> 683.
    assert DEFAULT.degree_reciprocals[1:7].tolist() == [4096, 2048, 1365, 1024, 819, 683]
    # Degree 0 (an isolated node) reads as degree 1.
    assert DEFAULT.degree_reciprocals[0] == 4096
    # 4096 / 7 = 585.14 -> 585; 4096 / 32 = 128 exactly; one entry per degree 0 .. max_nodes.
    assert DEFAULT.degree_reciprocals[7] == 585
    assert DEFAULT.degree_reciprocals[32] == 128
    assert DEFAULT.degree_reciprocals.shape == (33,)
    # 4096 needs 13 bits.
    assert DEFAULT.recip_width == 13


def test_degree_reciprocal_ties_round_up():
    # recip_frac_bits = 1: 2 / 4 = 0.5 rounds up to 1 (half up), 2 / 3 = 0.67 -> 1, 2 / 5 -> 0.
    config = CoreConfig(recip_frac_bits=1)
    assert config.degree_reciprocals[1:6].tolist() == [2, 1, 1, 1, 0]


def test_normalisation_table_rows():
    table = DEFAULT.normalisation_table
    assert table.shape == (9, 9)
    # cmax = 0: a silent layer stays silent.
    assert table[0].tolist() == [0] * 9
    # cmax = 1: count 1 is the top count -> 256.
    assert table[1, :2].tolist() == [0, 256]
    # cmax = 3: 256/3 = 85.33 -> 85, 512/3 = 170.67 -> 171, 768/3 = 256.
    assert table[3, :4].tolist() == [0, 85, 171, 256]
    # cmax = 6: 42.67 -> 43, 85.33 -> 85, 128, 170.67 -> 171, 213.33 -> 213, 256.
    assert table[6, :7].tolist() == [0, 43, 85, 128, 171, 213, 256]
    # cmax = 8: exact multiples of 32.
    assert table[8].tolist() == [0, 32, 64, 96, 128, 160, 192, 224, 256]
    # Counts above cmax never occur and read as 0.
    assert table[3, 4:].tolist() == [0] * 5


def test_normalisation_table_half_rounds_up():
    # cmax = 8 with feature_frac_bits = 2 (1.0 = 4): c * 4 / 8 = 0.5, 1.0, 1.5 -> 1, 1, 2.
    config = CoreConfig(feature_frac_bits=2, prob_bits=8)
    assert config.normalisation_table[8, 1:4].tolist() == [1, 1, 2]


# -- LIF constants -----------------------------------------------------------------------------


def test_lif_constants_for_tau_10():
    # alpha = exp(-1/10) = 0.904837; alpha * 4096 = 3706.2 -> 3706.
    assert math.isclose(DEFAULT.alpha, 0.9048374180359595)
    assert DEFAULT.leak_q == 3706
    # 1 - alpha = 0.095163; * 4096 = 389.79 -> 390.
    assert DEFAULT.input_gain_q == 390
    # 0.25 * 4096 = 1024.
    assert DEFAULT.threshold_q == 1024
    assert DEFAULT.probability_one == 1024
    # 8 + 6 - 10 = 4 bits to drop from the projection accumulator.
    assert DEFAULT.probability_shift == 4


def test_lif_constants_for_tau_2():
    # alpha = exp(-0.5) = 0.606531; * 4096 = 2484.3 -> 2484; (1 - alpha) * 4096 = 1611.7 -> 1612.
    config = CoreConfig(tau_mem=2.0)
    assert config.leak_q == 2484
    assert config.input_gain_q == 1612


def test_membrane_bound_and_width():
    # From rest the bound is B1 = ((threshold - 1) * leak >> 12) + gain: the largest membrane
    # left below threshold is 1023, and 1023 * 3706 = 3791238, >> 12 = 925 (925.59), + 390 =
    # 1315. Then max(1023, 1315 - 1024 = 291) = 1023 again, so the bound is a fixed point.
    assert DEFAULT.membrane_bound == 1315
    # 1315 < 2048 = 2**11.
    assert DEFAULT.membrane_width == 11


def test_membrane_reachable_without_spike():
    # Input spike every step, no reset: 390, 742, 1061, 1350, 1611, 1847, 2061, 2253.
    # v2 = (390 * 3706 >> 12) + 390 = 352 + 390; v3 = (742 * 3706 >> 12) + 390 = 671 + 390; ...
    assert DEFAULT.membrane_reachable == 2253
    assert DEFAULT.threshold_reachable
    # threshold 0.6 -> 2458 > 2253: never reachable within 8 steps.
    assert not CoreConfig(threshold=0.6).threshold_reachable


def test_membrane_bound_for_large_input_gain():
    # tau_mem = 1: alpha = 0.367879 -> leak 1507, gain 0.632121 * 4096 = 2589.16 -> 2589.
    # threshold 0.25 -> 1024. Iterating B' = (max(1023, B - 1024) * 1507 >> 12) + 2589:
    # B1 = (1023 * 1507 >> 12) + 2589 = 376 + 2589 = 2965 (1541661 / 4096 = 376.4);
    # B2 = (1941 * 1507 >> 12) + 2589 = 714 + 2589 = 3303 (2925087 / 4096 = 714.1);
    # B3 = (2279 * 1507 >> 12) + 2589 = 838 + 2589 = 3427 (3434453 / 4096 = 838.5);
    # B4 = (2403 * 1507 >> 12) + 2589 = 884 + 2589 = 3473 (3621321 / 4096 = 884.1);
    # B5 = (2449 * 1507 >> 12) + 2589 = 901 + 2589 = 3490 (3690643 / 4096 = 901.0);
    # B6 = (2466 * 1507 >> 12) + 2589 = 907 + 2589 = 3496 (3716262 / 4096 = 907.3);
    # B7 = (2472 * 1507 >> 12) + 2589 = 909 + 2589 = 3498 (3725304 / 4096 = 909.5);
    # B8 = (2474 * 1507 >> 12) + 2589 = 910 + 2589 = 3499 (3728318 / 4096 = 910.2).
    config = CoreConfig(tau_mem=1.0)
    assert (config.leak_q, config.input_gain_q) == (1507, 2589)
    assert config.membrane_bound == 3499
    assert config.membrane_width == 12


def test_accumulator_width():
    # Aggregation: at most 32 neighbours * feature 256 * reciprocal 4096 = 2**25 (26 bits).
    # Projection: at most 32 inputs * aggregate 256 * |weight| 128 = 2**20 (21 bits).
    # The larger needs 26 bits, plus a sign bit: 27.
    assert DEFAULT.aggregate_max == 256
    assert DEFAULT.aggregate_width == 9
    assert DEFAULT.accumulator_width == 27


def test_aggregate_max_counts_reciprocal_rounding():
    # recip_frac_bits = 4: round(16 / 3) = 5 and 3 * 5 = 15 < 16 round down; round(16 / 5) = 3,
    # 5 * 3 = 15; round(16 / 6) = 3, 6 * 3 = 18 > 16 rounds up: 6 * 256 * 3 >> 4 = 288.
    config = CoreConfig(recip_frac_bits=4, max_nodes=6)
    assert config.degree_reciprocals[1:].tolist() == [16, 8, 5, 4, 3, 3]
    assert config.aggregate_max == 288


def test_sizes_and_groups():
    assert DEFAULT.n_layers == 2
    assert DEFAULT.n_classes == 2
    assert DEFAULT.max_features == 32
    # 7 features in one 8-lane group, 32 in four, 10 in two.
    assert [DEFAULT.groups(w) for w in (7, 8, 9, 10, 32)] == [1, 1, 2, 2, 4]
    assert DEFAULT.max_groups == 4
    # Weights Q2.6 in 8 bits: -128 .. 127.
    assert (DEFAULT.weight_min, DEFAULT.weight_max) == (-128, 127)
    # Features 0 .. 256 need 9 bits, counts 0 .. 8 need 4 bits.
    assert (DEFAULT.feature_one, DEFAULT.feature_width, DEFAULT.count_width) == (256, 9, 4)
    assert DEFAULT.word_store_width == 9


# -- LFSR ----------------------------------------------------------------------------------------


def test_lfsr_step_by_hand():
    # 0xACE1 = 1010 1100 1110 0001. Bit 0 is 1: 0x5670 ^ 0xB400 = 0xE270.
    # 0xE270, 0x7138, 0x389C, 0x1C4E end in 0: plain shifts to 0x7138, 0x389C, 0x1C4E, 0x0E27.
    # 0x0E27 ends in 1: 0x0713 ^ 0xB400 = 0xB313.
    expected = [0xE270, 0x7138, 0x389C, 0x1C4E, 0x0E27, 0xB313]
    state, seen = 0xACE1, []
    for _ in expected:
        state = lfsr_step(state, 0xB400, 16)
        seen.append(state)
    assert seen == expected
    assert lfsr_advance(0xACE1, 0xB400, 16, 6) == 0xB313
    assert lfsr_advance(0xACE1, 0xB400, 16, 0) == 0xACE1


def test_lfsr_step_masks_to_width():
    # 4-bit register, taps 0b1001 (x^4 + x^3 + 1): 0b0001 -> 0 ^ 0b1001 = 0b1001.
    assert lfsr_step(0b0001, 0b1001, 4) == 0b1001
    assert lfsr_step(0b1000, 0b1001, 4) == 0b0100


def test_lfsr_period_is_full():
    orbit = lfsr_orbit(1)
    # Every non-zero 16-bit state appears exactly once in 65535 shifts ...
    assert np.unique(orbit).size == PERIOD
    assert orbit.min() == 1
    # ... and shift 65535 is back at the start.
    assert lfsr_step(int(orbit[-1]), 0xB400, 16) == 1


def test_lfsr_advance_matches_single_steps():
    orbit = lfsr_orbit(0xACE1)
    for shifts in (0, 1, 16, 17, 1000, 131056, PERIOD - 1, PERIOD, 3 * PERIOD + 5):
        assert lfsr_advance(0xACE1, 0xB400, 16, shifts) == orbit[shifts % PERIOD], shifts


def test_draw_sequence_has_full_period():
    # 16 shifts per draw and gcd(16, 65535) = 1, so the states at draws 0 .. 65534 are all
    # distinct and draw 65535 is the seed again.
    orbit = lfsr_orbit(DEFAULT.lfsr_seed)
    states = orbit[(16 * np.arange(PERIOD + 1)) % PERIOD]
    assert np.unique(states[:-1]).size == PERIOD
    assert states[-1] == DEFAULT.lfsr_seed
    # Lane 0's draws are the top 10 bits of those states.
    draws = DEFAULT.draws(PERIOD + 1)
    assert draws.shape == (8, PERIOD + 1)
    np.testing.assert_array_equal(draws[0], states >> 6)
    # Over one period every 10-bit draw value appears 64 times, except 0 (state 0 is never
    # visited, so only 63 states have top bits 0).
    histogram = np.bincount(draws[0, :PERIOD], minlength=1024)
    assert histogram[0] == 63
    assert np.all(histogram[1:] == 64)


def test_lane_seeds_follow_the_stride():
    seeds = DEFAULT.lane_seeds
    assert len(seeds) == 8
    assert len(set(seeds)) == 8
    assert seeds[0] == 0xACE1
    # Lane k starts k * 16 * (65535 // 8) = k * 131056 shifts after the seed.
    orbit = lfsr_orbit(0xACE1)
    assert list(seeds) == [int(orbit[(k * 131056) % PERIOD]) for k in range(8)]


def test_draws_follow_the_lane_seeds():
    orbit = lfsr_orbit(0xACE1)
    draws = DEFAULT.draws(40)
    for lane in range(8):
        shifts = lane * 131056 + 16 * np.arange(40)
        np.testing.assert_array_equal(draws[lane], orbit[shifts % PERIOD] >> 6)
    # The first draw of lane 0 is the seed's top 10 bits: 0xACE1 >> 6 = 0x2B3 = 691.
    assert draws[0, 0] == 691
    np.testing.assert_array_equal(DEFAULT.layer_draws, DEFAULT.draws(32 * 4 * 8))


def test_draws_with_other_lanes_and_seed():
    config = CoreConfig(lanes=3, lfsr_seed=0x1234, shifts_per_draw=7)
    orbit = lfsr_orbit(0x1234)
    stride = 7 * (PERIOD // 3)
    assert config.lane_seeds == tuple(int(orbit[(k * stride) % PERIOD]) for k in range(3))
    draws = config.draws(50)
    for lane in range(3):
        np.testing.assert_array_equal(
            draws[lane], orbit[(lane * stride + 7 * np.arange(50)) % PERIOD] >> 6
        )


def test_draws_of_a_short_register():
    # 10-bit LFSR (x^10 + x^7 + 1, taps 0x240) with 10-bit draws: the draws are the states.
    config = CoreConfig(lfsr_width=10, lfsr_taps=0x240, lfsr_seed=1, lanes=2)
    period = 1023
    orbit = lfsr_orbit(1, 0x240, 10)
    assert np.unique(orbit).size == period
    stride = 16 * (period // 2)
    np.testing.assert_array_equal(config.draws(5)[1], orbit[(stride + 16 * np.arange(5)) % period])


# -- JSON --------------------------------------------------------------------------------------


def test_json_round_trip(tmp_path):
    config = CoreConfig(layer_dims=(5, 16, 16, 3), timesteps=12, lanes=4, threshold=0.3)
    path = tmp_path / "core.json"
    config.to_json(path)
    data = json.loads(path.read_text())
    assert data["layer_dims"] == [5, 16, 16, 3]
    again = CoreConfig.from_json(path)
    assert again == config
    assert again.config_hash == config.config_hash
    assert CoreConfig.from_dict(config.to_dict()) == config


def test_json_missing_keys_take_defaults(tmp_path):
    path = tmp_path / "partial.json"
    path.write_text('{"timesteps": 4}')
    assert CoreConfig.from_json(path) == dataclasses.replace(DEFAULT, timesteps=4)


def test_config_hash_changes_with_a_field():
    assert DEFAULT.config_hash != CoreConfig(lfsr_seed=0xACE2).config_hash
    assert 0 <= DEFAULT.config_hash < 1 << 16


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="unknown configuration key 'lane'"):
        CoreConfig.from_dict({"lane": 4})


def test_from_dict_rejects_non_object():
    with pytest.raises(ConfigError, match=r"must be a JSON object, not \[1, 2\]"):
        CoreConfig.from_dict([1, 2])


def test_from_json_missing_file(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match=f"configuration file {path} does not exist"):
        CoreConfig.from_json(path)


def test_from_json_bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"lanes": 4,\n oops}')
    with pytest.raises(ConfigError, match=f"configuration file {path} is not valid JSON .line 2"):
        CoreConfig.from_json(path)


def test_from_json_checks_values(tmp_path):
    path = tmp_path / "zero_lanes.json"
    path.write_text('{"lanes": 0}')
    with pytest.raises(ConfigError, match="lanes must be from 1 to 64, but it is 0"):
        CoreConfig.from_json(path)


def test_describe_mentions_the_constants():
    text = DEFAULT.describe()
    assert "threshold 1024" in text
    assert "leak 3706/2^12" in text
    assert "input gain 390" in text
    assert "taps 0xb400 seed 0xace1" in text


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lanes": 0}, "lanes must be from 1 to 64, but it is 0"),
        ({"lanes": 65}, "lanes must be from 1 to 64, but it is 65"),
        ({"lanes": 2.5}, "lanes must be an integer, not 2.5"),
        ({"lanes": True}, "lanes must be an integer, not True"),
        ({"timesteps": 256}, "timesteps must be from 1 to 255, but it is 256"),
        ({"threshold": -1}, "threshold must be a positive finite number, but it is -1"),
        ({"threshold": "high"}, "threshold must be a positive number, not 'high'"),
        ({"threshold": float("nan")}, "threshold must be a positive finite number, but it is nan"),
        ({"tau_mem": 0}, "tau_mem must be a positive finite number, but it is 0"),
        (
            {"shifts_per_draw": 5},
            r"shifts_per_draw must be coprime with 2\*\*lfsr_width - 1 = 65535, but it is 5",
        ),
        ({"shifts_per_draw": 0}, "shifts_per_draw must be from 1 to 64, but it is 0"),
        (
            {"lfsr_taps": 0x3400},
            r"lfsr_taps must have its top bit \(bit 15\) set, but it is 0x3400",
        ),
        ({"lfsr_taps": 0x1B400}, "lfsr_taps must be from 1 to 65535, but it is 111616"),
        ({"lfsr_seed": 0}, "lfsr_seed must be from 1 to 65535, but it is 0"),
        ({"lfsr_width": 8}, "lfsr_width must be from 10 to 32, but it is 8"),
        # prob_bits can be at most feature_frac_bits + weight_frac_bits = 8 + 6.
        ({"prob_bits": 15}, "prob_bits must be from 1 to 14, but it is 15"),
        ({"weight_frac_bits": 8}, "weight_frac_bits must be from 0 to 7, but it is 8"),
        # 0.0001 * 4096 = 0.41 rounds to 0.
        ({"threshold": 1e-4}, "threshold 0.0001 rounds to 0 with membrane_frac_bits = 12"),
        (
            {"layer_dims": (7,)},
            r"layer_dims must name at least two sizes \(input and output\), but it has 1: \[7\]",
        ),
        ({"layer_dims": (7, 0, 2)}, "layer_dims must hold positive integers, but it contains 0"),
        ({"max_nodes": 0}, "max_nodes must be from 1 to 4096, but it is 0"),
        # Command words carry a 12-bit argument: 4096 does not fit.
        ({"max_nodes": 4096}, "max_nodes = 4096 does not fit the 12-bit argument"),
        ({"max_edges": 5000}, "max_edges = 5000 does not fit the 12-bit argument"),
        ({"layer_dims": (7, 5000, 2)}, "max_features = 5000 does not fit the 12-bit argument"),
        ({"word_width": 8}, "word_width must be from 16 to 32, but it is 8"),
    ],
)
def test_config_errors_name_field_and_value(fields, message):
    with pytest.raises(ConfigError, match=message):
        CoreConfig(**fields)


def test_accumulator_wider_than_48_bits_is_rejected():
    # Projection bound: 2**20 inputs * aggregate 4096 * |weight| 2**15 = 2**47, 48 bits + sign.
    with pytest.raises(ConfigError, match="the accumulators would need 49 bits"):
        CoreConfig(
            layer_dims=(7, 1 << 20, 2),
            word_width=32,
            feature_frac_bits=12,
            weight_width=16,
            recip_frac_bits=16,
        )


def test_zero_timesteps_error_names_the_field():
    with pytest.raises(ConfigError, match="timesteps must be .*, but it is 0"):
        CoreConfig(timesteps=0)


def test_zero_timesteps_is_rejected():
    with pytest.raises(ConfigError, match="at least 1, but it is 0"):
        CoreConfig(timesteps=0)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT.lanes = 4  # type: ignore[misc]


def stepped(state: int, taps: int, width: int, shifts: int) -> int:
    """:func:`lfsr_advance` one :func:`lfsr_step` at a time, as the hardware shifts."""
    for _ in range(shifts):
        state = lfsr_step(state, taps, width)
    return state


@pytest.mark.parametrize(
    ("taps", "width"), [(0xB400, 16), (0x240, 10), (0x80200003, 32), (0xE10000, 24)]
)
def test_lfsr_jumps_equal_single_steps(taps, width):
    # Long advances use GF(2) matrix powers; they must land where stepping does.
    rng = np.random.default_rng(width)
    for _ in range(20):
        state = int(rng.integers(1, 1 << width))
        shifts = int(rng.integers(0, 3000))
        assert lfsr_advance(state, taps, width, shifts) == stepped(state, taps, width, shifts)


@pytest.mark.parametrize(
    "fields",
    [
        {"lfsr_width": 32, "lfsr_taps": 0x80200003, "lfsr_seed": 0x12345678, "lanes": 1},
        {"lfsr_width": 24, "lfsr_taps": 0xE10000, "lfsr_seed": 0xBEEF, "lanes": 1},
        {"lanes": 5, "shifts_per_draw": 1, "lfsr_seed": 0xFFFF},
        {"lanes": 1, "shifts_per_draw": 64},
    ],
)
def test_draws_equal_single_steps(fields):
    config = CoreConfig(**fields)
    drop = config.lfsr_width - config.prob_bits
    draws = config.draws(37)
    for lane, seed in enumerate(config.lane_seeds):
        state = seed
        for i in range(37):
            assert draws[lane, i] == state >> drop
            state = stepped(state, config.lfsr_taps, config.lfsr_width, config.shifts_per_draw)
    assert config.draws(0).shape == (config.lanes, 0)
    assert config.draws(1)[:, 0].tolist() == [s >> drop for s in config.lane_seeds]

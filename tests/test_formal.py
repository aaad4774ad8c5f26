"""Formal checks of the gateware (``hdl.formal``) with SymbiYosys: the quick set, each asserted
PASS, and deliberately broken harnesses that must FAIL so that a vacuous proof cannot pass.

``make formal`` runs every check, the deep ones included.
"""

import pytest

from hdl.formal import CHECKS, LFSRHarness, run_check

FAST = [check for check in CHECKS if check.fast]


def test_quick_set_holds_both_outcomes():
    assert {check.expect for check in FAST} == {"PASS", "FAIL"}
    assert {"lfsr_wrong_taps", "lif_wrong_gain"} <= {c.name for c in FAST if c.expect == "FAIL"}


@pytest.mark.parametrize("check", FAST, ids=[check.name for check in FAST])
def test_formal_check(check):
    result = run_check(check)
    print(result.describe())
    assert result.status == check.expect, (
        f"{check.name} ({check.mode}, depth {check.depth}) gave {result.status}, expected "
        f"{check.expect}; SymbiYosys log: {result.log}"
    )


def test_harness_rejects_a_lane_outside_the_configuration():
    from golden.config import CoreConfig

    with pytest.raises(ValueError, match="lane must be from 0 to 7, but it is 8"):
        LFSRHarness(CoreConfig(), 8)

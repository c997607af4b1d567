"""The synthesis estimate (`make synth`): the real Yosys flow on a small top and its
parsers."""

from __future__ import annotations

import pytest

from eftrain import boards, synth
from eftrain.rtl_sources import REPO


def test_yosys_maps_the_fp32_multiplier():
    # The 24 x 24 significand product goes to DSP slices, the rest to LUTs and flops:
    # 2 pipeline stages hold at least the 32-bit product and its valid flag.
    result = synth.synthesize("fp32_mul", {}, synth.BUILD / "test-fp32_mul", log=lambda _: None)
    assert result.dsp >= 1
    assert result.lut > 50
    assert result.ff >= 33
    assert result.bram36 == 0
    assert result.logic_levels > 1
    assert "fp32_mul" in synth.report(result, boards.ZCU102)


def test_parsers():
    stat = "   Number of cells: 9\n     3   LUT2\n     4   FDRE\n     2   DSP48E2\n"
    assert synth.parse_stat(stat) == {"LUT2": 3, "FDRE": 4, "DSP48E2": 2}
    ltp = "Longest topological path in a (length=7):\nLongest topological path in b (length=12):\n"
    assert synth.parse_ltp(ltp) == 12
    with pytest.raises(RuntimeError, match="longest path"):
        synth.parse_ltp("nothing")


def test_bad_options(capsys):
    with pytest.raises(SystemExit) as exc:
        synth.main(["--top", "nope"])
    assert exc.value.code == 2 and "unknown top" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        synth.main(["--tn", "6"])
    assert exc.value.code == 2 and "power of two" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown top"):
        synth.synthesize("nope", {}, REPO / "build" / "synth" / "nope")


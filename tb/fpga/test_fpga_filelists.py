"""The RTL file lists (rtl/<top>.f), the one source of what each top is made of for
simulation, lint, the synthesis estimate and the Vivado scripts: every listed file
exists, every SystemVerilog file of rtl/ is in some list, and the Vivado wrapper wraps
the top its scripts read (fpga/package_ip.tcl reads rtl/eftrain_top.f)."""

from __future__ import annotations

import re

from eftrain.rtl_sources import REPO, RTL, filelist, rtl_tops


def _raw_entries(listing):
    """(line number, entry) of a list file, comments and blank lines dropped."""
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        entry = line.split("//")[0].strip()
        if entry:
            yield number, entry


def test_every_listed_file_exists():
    problems = []
    for listing in sorted(RTL.glob("*.f")):
        for number, entry in _raw_entries(listing):
            path = REPO / (entry[3:].strip() if entry.startswith("-f ") else entry)
            if not path.is_file():
                problems.append(f"{listing.relative_to(REPO)}:{number}: {entry} does not exist")
    assert not problems, "\n".join(problems)


def test_every_rtl_file_is_in_a_list():
    listed = {path for top in rtl_tops() for path in filelist(top)}
    missing = sorted(p.name for p in RTL.glob("*.sv") if p not in listed)
    assert not missing, f"rtl/*.sv in no rtl/<top>.f (simulation, lint and Vivado would miss them): {missing}"


def test_each_list_ends_with_its_top_and_has_no_duplicate():
    for top in rtl_tops():
        paths = filelist(top)
        assert len(paths) == len(set(paths))
        assert paths[-1].name in (f"{top}.sv", f"{top}_tb.sv"), f"rtl/{top}.f must end with its top module"
        text = paths[-1].read_text()
        assert re.search(rf"^\s*module\s+{top}\b", text, re.M), f"{paths[-1].name} does not define module {top}"


def test_vivado_wrapper_wraps_the_listed_top():
    wrapper = (REPO / "fpga" / "eftrain_top_wrapper.v").read_text()
    assert re.search(r"^\s*eftrain_top\s+#\(", wrapper, re.M), "the wrapper must instantiate eftrain_top"
    assert "eftrain_top" in rtl_tops()
    package = (REPO / "fpga" / "package_ip.tcl").read_text() + (REPO / "fpga" / "common" / "util.tcl").read_text()
    assert "rtl eftrain_top.f" in package, "the packaging script must read rtl/eftrain_top.f, not a copy"

"""The generated software interface (sw/include/eftrain_regs.h, fpga/common/csr_map.tcl)
is up to date, and the C header agrees with eftrain.descriptor: a C program compiled with
gcc packs random descriptors to the same 64 bytes as Descriptor.pack(), refuses the same
out-of-range fields, and its constants equal the Python tables (expected values from
eftrain.descriptor, never from the header)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from eftrain import cheader, csr_tcl
from eftrain import descriptor as dsc
from eftrain.descriptor import Descriptor

N_RANDOM = 300


def test_generated_files_are_up_to_date():
    assert cheader.main(["--check"]) == 0, "sw/include/eftrain_regs.h is stale: python -m eftrain.cheader"
    assert csr_tcl.main(["--check"]) == 0, "fpga/common/csr_map.tcl is stale: python -m eftrain.csr_tcl"


def _expected_constants() -> dict[str, int]:
    """Every constant the header must define, from the Python definition."""
    c = {
        "MAGIC": dsc.MAGIC, "VERSION": dsc.VERSION, "DESC_BYTES": dsc.DESC_BYTES,
        "DESC_WORDS": dsc.DESC_WORDS, "ADDR_ALIGN": dsc.ADDR_ALIGN, "MAX_DIM": dsc.MAX_DIM,
        "POOL_MAX_WO": dsc.POOL_MAX_WO, "ID_VALUE": dsc.ID_VALUE, "CSR_CNT_BASE": dsc.CSR_CNT_BASE,
        "NUM_COUNTERS": dsc.NUM_COUNTERS, "CSR_BLOCK_BYTES": csr_tcl.CSR_BLOCK_BYTES,
    }
    c |= {f"OP_{op.name}": op.value for op in dsc.Opcode}
    c |= {f"FLAG_{f.name}": 1 << f.value for f in dsc.Flag}
    c |= {f"FLAG_{f.name}_BIT": f.value for f in dsc.Flag}
    c |= {f"ERR_{e.name}": e.value for e in dsc.ErrorCode}
    for f in dsc.DESC_FIELDS:
        if f.name in ("reserved1",):
            continue
        c[f"DESC_{f.name.upper()}_WORD"] = f.word
        if f.width < 64:
            c[f"DESC_{f.name.upper()}_SHIFT"] = f.lsb
            c[f"DESC_{f.name.upper()}_MASK"] = (1 << f.width) - 1
    for reg in dsc.CSR_REGISTERS:
        if reg.counter is None:
            c[f"CSR_{reg.name}"] = reg.offset
            if len(reg.fields) > 1 or reg.fields[0].width < 32:
                for f in reg.fields:
                    if f.width == 1:
                        c[f"{reg.name}_{f.name}"] = 1 << f.lsb
                    else:
                        c[f"{reg.name}_{f.name}_SHIFT"] = f.lsb
                        c[f"{reg.name}_{f.name}_MASK"] = f.mask
    for i, (name, _doc) in enumerate(dsc.COUNTERS):
        c[f"CNT_{name}"] = i
        c[f"CNT_{name}_LO"], c[f"CNT_{name}_HI"] = dsc.counter_offsets(name)
    return c


def _program(members: list[str], constants: list[str]) -> str:
    """A C program: prints every constant as NAME=value, then reads descriptors (one per
    line, the members in struct order, lr as its fp32 bits) and prints each packed image
    in hex, or ERR <field> when eftrain_desc_pack refuses it."""
    scan = []
    for i, name in enumerate(members):
        at_end = "0" if i == 0 else "1"  # the end of the input before a descriptor, or a short line
        if name == "lr":
            scan.append(f'        if (scanf("%llx", &v) != 1) return {at_end};\n'
                        "        { uint32_t bits = (uint32_t)v; memcpy(&d.lr, &bits, 4); }")
        else:
            scan.append(f'        if (scanf("%llu", &v) != 1) return {at_end};\n        d.{name} = v;')
    prints = "\n".join(
        f'    printf("%s=%llu\\n", "{name}", (unsigned long long)(EFTRAIN_{name}));' for name in constants
    )
    return f"""#include <stdio.h>
#include <string.h>
#include "eftrain_regs.h"

int main(void)
{{
{prints}
    for (;;) {{
        struct eftrain_desc d;
        uint8_t image[EFTRAIN_DESC_BYTES];
        unsigned long long v;
        int field, i;
        memset(&d, 0, sizeof d);
{chr(10).join(scan)}
        field = eftrain_desc_pack(&d, image);
        if (field) {{
            printf("ERR %s\\n", eftrain_desc_field_name(field));
            continue;
        }}
        for (i = 0; i < (int)EFTRAIN_DESC_BYTES; i++) printf("%02x", image[i]);
        printf("\\n");
    }}
}}
"""


def _random_descriptor(rng: np.random.Generator, widths: dict[str, int]) -> Descriptor:
    values = {}
    for name, width in widths.items():
        if name == "lr":
            choices = [float(rng.standard_normal()), 0.01, -0.0, np.inf, 3.4e38]
        else:
            # Zeros and field maxima two times in three: the edges of every field.
            choices = [0, (1 << width) - 1, int(rng.integers(0, 1 << width, dtype=np.uint64))]
        values[name] = choices[int(rng.integers(len(choices)))]
    return Descriptor(**values)


def test_header_packs_like_python(tmp_path, rng):
    members = [name for name, *_ in cheader.desc_members()]
    widths = {name: width for name, _w, _l, width in cheader.desc_members()}
    expected_constants = _expected_constants()
    src = tmp_path / "pack.c"
    src.write_text(_program(members, list(expected_constants)))
    exe = tmp_path / "pack"
    include = cheader.HEADER_PATH.parent
    for compiler in (["gcc", "-std=c99", "-pedantic"], ["gcc", "-x", "c++", "-std=c++11"]):
        subprocess.run([*compiler, "-Wall", "-Wextra", "-Werror", f"-I{include}", str(src), "-o", str(exe)],
                       check=True, capture_output=True, text=True)

    descriptors = [_random_descriptor(rng, widths) for _ in range(N_RANDOM)]
    descriptors.append(Descriptor(opcode=dsc.Opcode.CONV_WU, k=3, stride=1, pad=1, flags=1 << dsc.Flag.SGD,
                                  batch=2, tile_rows=4, n=16, m=32, h=12, w=12, lr=0.125, in_addr=0x1000,
                                  wgt_addr=0x8_0000_0000, out_addr=0x2000, aux_addr=0xFFFF_FFFF_FFFF_FFC0,
                                  next=0x40))
    # Out of range: each narrow field one past its maximum.
    too_wide = {name: (1 << width) for name, width in widths.items() if width not in (8, 16, 32, 64)}
    lines = []
    for d in descriptors:
        lines.append(" ".join(f"{d.lr_bits:x}" if n == "lr" else str(getattr(d, n)) for n in members))
    for name, value in too_wide.items():
        lines.append(" ".join("0" if n == "lr" else str(value if n == name else 0) for n in members))
    run = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    out = run.stdout.splitlines()

    constants = dict(line.split("=") for line in out[: len(expected_constants)])
    assert {k: int(v) for k, v in constants.items()} == expected_constants

    images = out[len(expected_constants):]
    assert len(images) == len(descriptors) + len(too_wide)
    for i, d in enumerate(descriptors):
        assert images[i] == d.pack().hex(), f"descriptor {i} ({d}) packs differently in C"
    for line, name in zip(images[len(descriptors):], too_wide):
        assert line == f"ERR {name}"
        with pytest.raises(ValueError, match=name):
            Descriptor(**{name: too_wide[name]}).pack()


def test_integration_page_c_code_compiles(tmp_path):
    """The C of docs/integration.md compiles against the generated header as it stands."""
    page = (cheader.HEADER_PATH.parents[2] / "docs" / "integration.md").read_text()
    blocks = [block.split("```", 1)[0] for block in page.split("```c\n")[1:]]
    assert blocks, "docs/integration.md has no C example"
    src = tmp_path / "integration_example.c"
    src.write_text("\n".join(blocks))
    run = subprocess.run(["gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                          f"-I{cheader.HEADER_PATH.parent}", str(src)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr

"""Run layers on the simulated IP: `eftrain_top` under Verilator, with cocotbext-axi's
AxiRam as the DRAM and AxiLiteMaster on the control registers.

    from eftrain import HwConfig, ipsim
    ip = ipsim.SimulatedIP(HwConfig(tm=8, tn=8))
    y = ip.conv_fp(x, w, stride=1, pad=1)        # float32, bit-exact with oracle.conv_fp
    print(ip.last_run.status, ip.last_run.counters["mac"])

Every call writes the tensors in their DRAM layouts (`eftrain.layout`), one descriptor
(`eftrain.descriptor`), rings the doorbell and reads the output back; ``run_chain`` runs
any memory image and descriptor chain. The Verilator model is built once per hardware
configuration under ``build/ipsim``; each run is one simulator process (a second or two
of start-up). Needs the repository checkout (RTL sources) and the project's virtual
environment (``make setup``).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eftrain import descriptor as dsc
from eftrain import layout
from eftrain.config import HwConfig
from eftrain.rtl_sources import REPO, filelist

AXI_DATA_WIDTH = 128
ADDR_ALIGN = dsc.ADDR_ALIGN
DRAM_BYTES = 1 << 26


@dataclass
class RunResult:
    """What one doorbell produced: the final STATUS, DESC_DONE, the counters' increase
    over the run, and the bytes read back."""

    status: dsc.Status
    desc_done: int
    counters: dict[str, int]
    regions: dict[int, bytes] = field(repr=False)


class SimulatedIP:
    """One hardware configuration of the core, simulated."""

    def __init__(self, hw: HwConfig | None = None, seed: int = 1):
        self.hw = hw or HwConfig()
        self.seed = seed
        self.last_run: RunResult | None = None
        tag = f"tn{self.hw.tn}_ib{self.hw.ib_depth}_ob{self.hw.ob_depth}_wb{self.hw.wb_depth}_k{self.hw.kmax}"
        self.build_dir = REPO / "build" / "ipsim" / tag

    # ---- low level: any memory image and chain ---------------------------------------
    def run_chain(self, memory: dict[int, bytes], chain_addr: int, read_back: list[tuple[int, int]],
                  timeout_cycles: int = 50_000_000) -> RunResult:
        """Write ``memory`` ({address: bytes}) to DRAM, run the chain at ``chain_addr``,
        and read back the ``(address, nbytes)`` regions."""
        from cocotb_tools.runner import get_runner

        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        hw = self.hw
        runner = get_runner("verilator")
        runner.build(
            sources=filelist("eftrain_top"), hdl_toplevel="eftrain_top", build_dir=self.build_dir,
            parameters={"TM": hw.tm, "TN": hw.tn, "KMAX": hw.kmax, "IB_DEPTH": hw.ib_depth,
                        "OB_DEPTH": hw.ob_depth, "WB_DEPTH": hw.wb_depth},
            build_args=["-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal"],
            timescale=("1ns", "1ps"), log_file=self.build_dir / "build.log",
        )
        with tempfile.TemporaryDirectory(prefix="eftrain-ipsim-") as tmp:
            job = Path(tmp) / "job.pkl"
            result_file = Path(tmp) / "result.pkl"
            job.write_bytes(pickle.dumps({"memory": memory, "chain_addr": chain_addr, "read_back": read_back,
                                          "timeout_cycles": timeout_cycles, "dram_bytes": DRAM_BYTES}))
            runner.test(
                test_module="eftrain.ipsim_job", hdl_toplevel="eftrain_top", build_dir=self.build_dir,
                test_dir=tmp, seed=self.seed, results_xml=str(Path(tmp) / "results.xml"),
                extra_env={"EFTRAIN_IPSIM_JOB": str(job), "EFTRAIN_IPSIM_RESULT": str(result_file),
                           "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING")},
            )
            if not result_file.exists():
                raise RuntimeError("the simulation wrote no result; its log is above")
            result = pickle.loads(result_file.read_bytes())
        self.last_run = RunResult(status=dsc.decode_status(result["status"]), desc_done=result["desc_done"],
                                  counters=result["counters"], regions=result["regions"])
        return self.last_run

    # ---- one conv layer per doorbell ----------------------------------------------------
    def _run_layer(self, opcode: dsc.Opcode, *, tensors: dict[str, np.ndarray], out_shape, out_is_weights: bool,
                   k: int, stride: int, pad: int, batch: int, n: int, m: int, h: int, w: int,
                   tile_rows: int | None) -> np.ndarray:
        g = self.hw.tn
        memory: dict[int, bytes] = {}
        addrs: dict[str, int] = {}
        cursor = 0x10000
        for name, (tensor, is_weights) in tensors.items():
            image = (layout.weights_to_dram if is_weights else layout.act_to_dram)(tensor, g).tobytes()
            addrs[name] = cursor
            memory[cursor] = image
            cursor += -(-len(image) // ADDR_ALIGN) * ADDR_ALIGN + ADDR_ALIGN
        out_bytes = (layout.weights_bytes if out_is_weights else layout.act_bytes)(out_shape, g)
        out_addr = cursor
        if tile_rows is None:
            tile_rows = dsc.largest_tile_rows(opcode, k, stride, pad, n, m, h, w, self.hw)
        desc = dsc.Descriptor(opcode=opcode, k=k, stride=stride, pad=pad, batch=batch, tile_rows=tile_rows,
                              n=n, m=m, h=h, w=w, out_addr=out_addr, in_addr=addrs.get("in", 0),
                              wgt_addr=addrs.get("wgt", 0), aux_addr=addrs.get("aux", 0))
        code = dsc.validate(desc, self.hw)
        if code != dsc.ErrorCode.NONE:
            raise ValueError(f"{opcode.name}: the core rejects this layer: {code.name} "
                             f"(tile_rows={tile_rows}; see eftrain.descriptor.tile_misfit)")
        if out_addr + out_bytes + ADDR_ALIGN > DRAM_BYTES:
            raise ValueError(f"{opcode.name}: the tensors need more than the simulated DRAM ({DRAM_BYTES} bytes)")
        desc_addr = ADDR_ALIGN
        memory[desc_addr] = desc.pack()
        run = self.run_chain(memory, desc_addr, [(out_addr, out_bytes)])
        if not run.status.done or run.status.error:
            raise RuntimeError(f"{opcode.name}: the core stopped with {run.status}")
        data = run.regions[out_addr]
        return (layout.weights_from_dram if out_is_weights else layout.act_from_dram)(data, out_shape, g)

    def conv_fp(self, x, w, stride: int = 1, pad: int = 0, tile_rows: int | None = None) -> np.ndarray:
        """y = conv(x [B,N,H,W], w [M,N,K,K]) on the IP."""
        x, w = np.asarray(x, np.float32), np.asarray(w, np.float32)
        b, n, h, wd = x.shape
        m, _, k, _ = w.shape
        ho, wo = dsc.out_hw(h, wd, k, stride, pad)
        return self._run_layer(dsc.Opcode.CONV_FP, tensors={"in": (x, False), "wgt": (w, True)},
                               out_shape=(b, m, ho, wo), out_is_weights=False, k=k, stride=stride, pad=pad,
                               batch=b, n=n, m=m, h=h, w=wd, tile_rows=tile_rows)

    def conv_bp(self, dy, w, in_hw, stride: int = 1, pad: int = 0, tile_rows: int | None = None) -> np.ndarray:
        """dx [B,N,H,W] from dy [B,M,Ho,Wo] and w [M,N,K,K] on the IP."""
        dy, w = np.asarray(dy, np.float32), np.asarray(w, np.float32)
        b, m = dy.shape[:2]
        _, n, k, _ = w.shape
        h, wd = in_hw
        return self._run_layer(dsc.Opcode.CONV_BP, tensors={"in": (dy, False), "wgt": (w, True)},
                               out_shape=(b, n, h, wd), out_is_weights=False, k=k, stride=stride, pad=pad,
                               batch=b, n=n, m=m, h=h, w=wd, tile_rows=tile_rows)

    def conv_wu(self, x, dy, k: int, stride: int = 1, pad: int = 0, tile_rows: int | None = None) -> np.ndarray:
        """dw [M,N,K,K] from x [B,N,H,W] and dy [B,M,Ho,Wo] on the IP."""
        x, dy = np.asarray(x, np.float32), np.asarray(dy, np.float32)
        b, n, h, wd = x.shape
        m = dy.shape[1]
        return self._run_layer(dsc.Opcode.CONV_WU, tensors={"in": (x, False), "aux": (dy, False)},
                               out_shape=(m, n, k, k), out_is_weights=True, k=k, stride=stride, pad=pad,
                               batch=b, n=n, m=m, h=h, w=wd, tile_rows=tile_rows)


def _main() -> int:
    """`python -m eftrain.ipsim`: one small FP layer on the simulated IP, checked."""
    from eftrain import fp32, oracle

    hw = HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 8, 8)).astype(np.float32)
    w = rng.standard_normal((6, 5, 3, 3)).astype(np.float32)
    ip = SimulatedIP(hw)
    y = ip.conv_fp(x, w, stride=1, pad=1)
    same = np.array_equal(fp32.bits(y), fp32.bits(oracle.conv_fp(x, w, 1, 1, hw)))
    print(json.dumps({"shape": list(y.shape), "bit_exact": same, "status": ip.last_run.status._asdict(),
                      "counters": ip.last_run.counters}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(_main())

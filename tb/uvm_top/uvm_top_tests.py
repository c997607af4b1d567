"""pyuvm tests of eftrain_top, the whole core from DRAM to DRAM (run by test_uvm_top.py).

Every test builds TopEnv (env.py): the AXI-Lite control agent, the DRAM (AxiRam) behind
the memory agent, the scoreboard that predicts every chain with the oracle and checks
STATUS, DESC_DONE, the irq, the whole DRAM and every AXI burst bit for bit, and the
coverage collector that prints its table at the end and checks the test's goals.

Tests:
* RandomLayersTest: UVM_ITEMS random layers of every kind (CONV_FP with and without
  RELU, CONV_BP with and without RELU_MASK, CONV_WU with and without SGD, POOL_FP,
  POOL_BP with and without RELU_MASK), in chains of 1..4, chosen to cover every
  variant, kernel size, stride and padding.
* TrainingStepTest: random small CNNs, two SGD steps each (forward chain, host loss,
  backward chain), also compared with the oracle's network-level step.
* ErrorInjectionTest: a bad descriptor for every validation rule after good ones, and
  bad descriptor addresses.

Env: UVM_ITEMS (default 24, at least 12): layers of RandomLayersTest; TrainingStepTest
runs UVM_ITEMS // 24 + 1 networks, ErrorInjectionTest UVM_ITEMS // 24 + 1 rounds of the
rules. UVM_NEW_OPS=0 restricts the layers to CONV_FP/BP/WU without flags (for an RTL
without the pools and flags; the training step needs them and ignores it). UVM_STRESS:
see sequences.py. The seed is cocotb's (SEED in the regression).
"""

from __future__ import annotations

import os
import time
import zlib

import cocotb
import numpy as np
import pyuvm
from pyuvm import ConfigDB, uvm_test

from control_agent import now_cycles
from coverage import CoverageGoals
from env import TopEnv
from sequences import VALIDATION_CODES, InvalidDescriptorSeq, RandomLayersSeq, TrainingStepSeq
from stimulus import Variant, variants
from eftrain.descriptor import Flag, Opcode
from top_tb import hw_config

DEFAULT_ITEMS = 24
MIN_ITEMS = 12


class TopTestBase(uvm_test):
    """Configuration, the env, reset, then :meth:`stimulus`; logs cycles and wall time."""

    def build_phase(self):
        self.cfg = hw_config()
        self.seed = int(cocotb.RANDOM_SEED)
        items = os.environ.get("UVM_ITEMS", "") or str(DEFAULT_ITEMS)
        if not items.isdigit():
            raise ValueError(f"UVM_ITEMS must be a number of layers, got {items!r}")
        self.items = int(items)
        if self.items < MIN_ITEMS:
            raise ValueError(f"UVM_ITEMS must be at least {MIN_ITEMS} (every variant, kernel, stride and "
                             f"padding needs a layer), got {self.items}")
        self.new_ops = os.environ.get("UVM_NEW_OPS", "1") != "0"
        self.allowed = variants(self.new_ops)
        rng = np.random.default_rng([self.seed, zlib.crc32(type(self).__name__.encode())])
        db = ConfigDB()
        db.set(None, "*", "DUT", cocotb.top)
        db.set(None, "*", "HW_CONFIG", self.cfg)
        db.set(None, "*", "SEED", self.seed)
        db.set(None, "*", "RNG", rng)
        db.set(None, "*", "COVERAGE_GOALS", self.goals())
        self.env = TopEnv("env", self)

    def goals(self) -> CoverageGoals:
        raise NotImplementedError

    async def stimulus(self) -> None:
        raise NotImplementedError

    async def run_phase(self):
        self.raise_objection()
        self.logger.info("seed %d, TN=%d, IB/OB/WB depth %d/%d/%d, UVM_ITEMS %d, variants: %s", self.seed,
                         self.cfg.tn, self.cfg.ib_depth, self.cfg.ob_depth, self.cfg.wb_depth, self.items,
                         ", ".join(v.name for v in self.allowed))
        await self.env.reset()
        t0, c0 = time.perf_counter(), now_cycles()
        await self.stimulus()
        self.logger.info("%s: %d cycles simulated in %.1f s", type(self).__name__, now_cycles() - c0,
                         time.perf_counter() - t0)
        self.drop_objection()


@pyuvm.test()
class RandomLayersTest(TopTestBase):
    def goals(self):
        kmax = self.cfg.kmax
        return CoverageGoals(variants=self.allowed, kernels=frozenset(range(1, kmax + 1)),
                             strides=frozenset({1, 2}), pads=frozenset(range(kmax)), min_cross=self.items)

    async def stimulus(self):
        await RandomLayersSeq("random_layers", self.env, self.items, self.allowed).start()


@pyuvm.test()
class TrainingStepTest(TopTestBase):
    def goals(self):
        # Every network ends in an FC without ReLU and updates every layer with SGD.
        return CoverageGoals(variants=(Variant(Opcode.CONV_FP), Variant(Opcode.CONV_WU, 1 << Flag.SGD)),
                             min_cross=3)

    async def stimulus(self):
        for n in range(self.items // DEFAULT_ITEMS + 1):
            await TrainingStepSeq(f"training_step{n}", self.env, steps=2).start()


@pyuvm.test()
class ErrorInjectionTest(TopTestBase):
    def goals(self):
        return CoverageGoals(errors=frozenset(VALIDATION_CODES))

    async def stimulus(self):
        await InvalidDescriptorSeq("invalid_descriptors", self.env, self.items // DEFAULT_ITEMS + 1,
                                   self.allowed, self.new_ops).start()


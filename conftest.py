"""Regression conventions shared by every test (pysrc/tests and tb/).

* ``seed`` fixture (and ``rng``, a numpy generator derived from it per test): ``SEED=<n>`` reproduces a run; without it a fixed default is used so
  the gate is deterministic, and ``SEED=random`` draws a fresh one. Every test prints
  its seed, records it in the JUnit XML, and a failing test prints the command that
  reproduces it.
"""

from __future__ import annotations

import os
import random
import zlib

import numpy as np

import pytest

DEFAULT_SEED = 1


def _session_seed() -> int:
    value = os.environ.get("SEED", "")
    if value == "":
        return DEFAULT_SEED
    if value == "random":
        return random.SystemRandom().randrange(1, 2**31)
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"SEED must be an integer or 'random', got {value!r}") from None


SEED = _session_seed()


@pytest.fixture
def seed(request, record_property) -> int:
    print(f"seed: {SEED}")
    record_property("seed", SEED)
    request.node.user_properties.append(("eftrain_seed", SEED))
    return SEED


@pytest.fixture
def rng(seed: int, request) -> np.random.Generator:
    """A numpy generator per test, from the session seed and the test's name (so adding a
    test does not change the stimulus of the others)."""
    return np.random.default_rng([seed, zlib.crc32(request.node.name.encode())])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and report.when == "call" and "seed" in item.fixturenames:
        report.sections.append(
            ("reproduce", f"SEED={SEED} make test TEST='{item.nodeid}'\n"
                          f"with waves: SEED={SEED} make waves TEST='{item.nodeid}'")
        )
    return report

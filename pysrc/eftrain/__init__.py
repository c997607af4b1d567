"""eftrain: the Python side of the EF-Train training-accelerator IP core.

Modules: ``fp32`` (bit-exact fp32 units), ``oracle`` (reference and exact training
maths), ``config`` (``HwConfig``), ``engine`` (engine command format), ``schedule`` (a
layer as engine commands), ``engine_model`` (command-level model), ``layout`` (DRAM
layouts and transfers), ``descriptor`` (descriptor format, error codes, CSR map),
``network`` (``Network``, ``Conv``, ``MaxPool``, ``FC`` and their lowering to the core's
ops), ``netcompile`` (memory map and descriptor chains), ``trainer`` (``Trainer``).
"""

from eftrain.config import HwConfig
from eftrain.network import FC, Conv, MaxPool, Network
from eftrain.trainer import Trainer

__all__ = ["HwConfig", "Network", "Conv", "MaxPool", "FC", "Trainer"]
__version__ = "0.1.0"

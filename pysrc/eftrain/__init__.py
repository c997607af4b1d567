"""eftrain: the Python side of the EF-Train training-accelerator IP core.

Modules: ``fp32`` (bit-exact fp32 units), ``oracle`` (reference and exact training
maths), ``config`` (``HwConfig``), ``engine`` (engine command format), ``schedule`` (a
layer as engine commands), ``engine_model`` (command-level model), ``layout`` (DRAM
layouts and transfers), ``descriptor`` (descriptor format, error codes, CSR map).
"""

from eftrain.config import HwConfig

__all__ = ["HwConfig"]
__version__ = "0.1.0"

"""eftrain: the Python side of the EF-Train training-accelerator IP core.

Modules: ``fp32`` (bit-exact fp32 units), ``oracle`` (reference and exact training
maths), ``config`` (``HwConfig``).
"""

from eftrain.config import HwConfig

__all__ = ["HwConfig"]
__version__ = "0.1.0"

"""Shared testbench helpers: RTL file lists and constants, the simulation runner, and
stimulus generators. Imported by the pytest wrappers and by the cocotb test modules."""

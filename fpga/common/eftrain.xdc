# Constraints of the EF-Train designs (every board). The core has no device pins: its
# clock is the PS's pl_clk0, which the zynq_ultra_ps_e IP constrains itself (create_clock
# in its generated XDC, at the frequency the block design sets), and its only reset comes
# from a Processor System Reset synchronous to that clock. So no clock, pin or I/O
# standard is constrained here.

# A compressed bitstream loads faster (JTAG, FPGA manager) and changes no logic.
set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]

# Build the ZCU102 project: synthesis, implementation, bitstream and XSA
# (fpga/common/build.tcl).
#   vivado -mode batch -source fpga/zcu102/build.tcl [-tclargs --steps synth,impl,bitstream]
set eftrain_board zcu102
source [file join [file dirname [file normalize [info script]]] .. common build.tcl]

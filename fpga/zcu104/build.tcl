# Build the ZCU104 project: synthesis, implementation, bitstream and XSA
# (fpga/common/build.tcl).
#   vivado -mode batch -source fpga/zcu104/build.tcl [-tclargs --steps synth,impl,bitstream]
set eftrain_board zcu104
source [file join [file dirname [file normalize [info script]]] .. common build.tcl]

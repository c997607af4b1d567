# Create the Vivado project of the ZCU104 design (fpga/common/create_project.tcl).
#   vivado -mode batch -source fpga/zcu104/create_project.tcl [-tclargs --pl-clk-mhz 100]
set eftrain_board zcu104
source [file join [file dirname [file normalize [info script]]] .. common create_project.tcl]

# Create the Vivado project of the ZCU102 design (fpga/common/create_project.tcl).
#   vivado -mode batch -source fpga/zcu102/create_project.tcl [-tclargs --pl-clk-mhz 100]
set eftrain_board zcu102
source [file join [file dirname [file normalize [info script]]] .. common create_project.tcl]

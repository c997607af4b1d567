# Create the Vivado project of one board: part and board part, the block design of
# fpga/common/block_design.tcl around the packaged core, its HDL wrapper, the constraints.
#
# Run through a board's entry script, which sets `eftrain_board`:
#   vivado -mode batch -source fpga/zcu102/create_project.tcl [-tclargs --pl-clk-mhz 100]
#   (or `make project BOARD=zcu102 [PL_CLK_MHZ=100]`)
# Options: --pl-clk-mhz (PL clock, default the core clock of integration.tcl, 100), --ip-repo (the packaged core's
# repository, default build/ip), --project-dir (default build/vivado/<board>).
# The project is build/vivado/<board>/eftrain_<board>.xpr; build with fpga/<board>/build.tcl.

set common_dir [file dirname [file normalize [info script]]]
source [file join $common_dir util.tcl]
source [file join $common_dir integration.tcl]
source [file join $common_dir block_design.tcl]

set board [eftrain::board_settings $eftrain_board]
set name [dict get $board name]
set options [eftrain::parse_options $argv [dict create \
  pl-clk-mhz  $eftrain::core_clock_mhz \
  ip-repo     [file join $eftrain::repo_dir build ip] \
  project-dir [eftrain::project_dir $name] \
]]
set pl_clk_mhz [eftrain::pl_clock_mhz [dict get $options pl-clk-mhz]]
set ip_repo [file normalize [dict get $options ip-repo]]
set project_dir [file normalize [dict get $options project-dir]]

puts "eftrain: Vivado [version -short], board [dict get $board display], PL clock $pl_clk_mhz MHz"

# The board files: Vivado 2022.1 and later install them from the Vivado Store (XHub).
set board_part [lindex [lsort -dictionary [get_board_parts -quiet -latest_file_version [dict get $board board_part]]] end]
if {$board_part eq ""} {
  error "eftrain: no board part matches [dict get $board board_part]: install the $name board files \
(Vivado: Tools > Vivado Store > Boards, or in Tcl: xhub::refresh_catalog \[xhub::get_xstores xilinx_board_store\]; \
xhub::install \[xhub::get_xitems *$name*\])"
}
if {![file exists [file join $ip_repo $eftrain::ip_name component.xml]]} {
  error "eftrain: no packaged core in $ip_repo: run `make ip` (vivado -mode batch -source fpga/package_ip.tcl) first"
}

create_project -force eftrain_$name $project_dir -part [dict get $board part]
set_property board_part $board_part [current_project]
set_property target_language Verilog [current_project]
set_property ip_repo_paths [list $ip_repo] [current_project]
update_ip_catalog -rebuild
if {[get_ipdefs -quiet [eftrain::ip_vlnv]] eq ""} {
  error "eftrain: the IP catalog of $ip_repo has no [eftrain::ip_vlnv]: repackage with `make ip`"
}

set design [eftrain::create_block_design eftrain_bd $pl_clk_mhz $name]
set bd_file [get_files eftrain_bd.bd]
generate_target all $bd_file
add_files -norecurse [make_wrapper -files $bd_file -top]
set_property top eftrain_bd_wrapper [get_filesets sources_1]
add_files -fileset constrs_1 -norecurse [file join $common_dir eftrain.xdc]
update_compile_order -fileset sources_1

puts "eftrain: project [file join $project_dir eftrain_$name.xpr] ready (board part $board_part)"
puts "eftrain: build it with: vivado -mode batch -source fpga/$name/build.tcl (or make bitstream BOARD=$name)"
close_project

# Package the EF-Train core as a Vivado IP (IP-XACT) core.
#
#   vivado -mode batch -source fpga/package_ip.tcl [-tclargs --out-dir <dir> --part <part>]
#   (or `make ip`)
#
# Reads the SystemVerilog sources from rtl/eftrain_top.f (the file list simulation and
# lint use) plus the Verilog-2001 wrapper fpga/eftrain_top_wrapper.v, and writes the IP
# repository to build/ip/eftrain/ (component.xml, the imported sources, the GUI). Its
# interfaces: s_axi (AXI4-Lite slave, the CSR memory map generated from
# eftrain.descriptor), m_axi (AXI4 master), aclk, aresetn (active low), irq (level).
# The part only serves the packaging project: the core supports every Zynq UltraScale+.

set script_dir [file dirname [file normalize [info script]]]
source [file join $script_dir common util.tcl]
source [file join $script_dir common csr_map.tcl]

set options [eftrain::parse_options $argv [dict create \
  out-dir [file join $eftrain::repo_dir build ip $eftrain::ip_name] \
  part    xczu9eg-ffvb1156-2-e \
]]
set out_dir [file normalize [dict get $options out-dir]]
set work_dir [file join $eftrain::repo_dir build vivado ip_package]

# ---- a throw-away project holding the sources -------------------------------------------
set sources [eftrain::read_filelist $eftrain::ip_filelist]
lappend sources $eftrain::ip_wrapper
puts "eftrain: packaging [llength $sources] sources from $eftrain::ip_filelist and the wrapper"

file delete -force $out_dir $work_dir
create_project -force eftrain_ip_package $work_dir -part [dict get $options part]
set_property target_language Verilog [current_project]
add_files -norecurse -fileset sources_1 $sources
set_property file_type SystemVerilog [get_files -of_objects [get_filesets sources_1] *.sv]
set_property top $eftrain::ip_top [get_filesets sources_1]
update_compile_order -fileset sources_1

# ---- the core ----------------------------------------------------------------------------
ipx::package_project -root_dir $out_dir -vendor $eftrain::ip_vendor \
  -library $eftrain::ip_library -taxonomy /EF-Train -import_files -set_current true -force
set core [ipx::current_core]
set_property name                 $eftrain::ip_name $core
set_property version              $eftrain::ip_version $core
set_property core_revision        1 $core
set_property display_name         "EF-Train fp32 CNN training accelerator" $core
set_property description [join {
  "TN x TN fp32 conv engine for forward, backward and weight-update passes, driven by a"
  "chain of layer descriptors in DRAM (AXI4 master), AXI4-Lite control registers, one interrupt."
}] $core
set_property vendor_display_name  "EF-Train project" $core
set_property supported_families   {zynquplus Production} $core

# ---- bus interfaces: declared explicitly rather than left to inference ------------------
ipx::remove_all_bus_interface $core
foreach map [ipx::get_memory_maps -quiet -of_objects $core] { ipx::remove_memory_map [get_property name $map] $core }
foreach space [ipx::get_address_spaces -quiet -of_objects $core] { ipx::remove_address_space [get_property name $space] $core }

# An AXI memory-mapped interface over every port `<prefix>_*`, the AMBA signal name
# being the port name's suffix in upper case (s_axi_awaddr -> AWADDR).
proc eftrain::add_aximm {core name mode} {
  set busif [ipx::add_bus_interface $name $core]
  set_property abstraction_type_vlnv xilinx.com:interface:aximm_rtl:1.0 $busif
  set_property bus_type_vlnv xilinx.com:interface:aximm:1.0 $busif
  set_property interface_mode $mode $busif
  foreach port [ipx::get_ports ${name}_* -of_objects $core] {
    set physical [get_property name $port]
    set map [ipx::add_port_map [string toupper [string range $physical [string length ${name}_] end]] $busif]
    set_property physical_name $physical $map
  }
  return $busif
}

# A single-signal interface (clock, reset, interrupt).
proc eftrain::add_signal_if {core name kind logical port mode} {
  set busif [ipx::add_bus_interface $name $core]
  set_property abstraction_type_vlnv xilinx.com:signal:${kind}_rtl:1.0 $busif
  set_property bus_type_vlnv xilinx.com:signal:${kind}:1.0 $busif
  set_property interface_mode $mode $busif
  set_property physical_name $port [ipx::add_port_map $logical $busif]
  return $busif
}

proc eftrain::bus_parameter {busif name value} {
  set_property value $value [ipx::add_bus_parameter $name $busif]
}

set s_axi [eftrain::add_aximm $core s_axi slave]
set m_axi [eftrain::add_aximm $core m_axi master]
# The DMA keeps up to 4 bursts in flight per direction, each at most 256 beats
# (docs/architecture.md): SmartConnect sizes its buffers from these.
eftrain::bus_parameter $m_axi NUM_READ_OUTSTANDING 4
eftrain::bus_parameter $m_axi NUM_WRITE_OUTSTANDING 4
eftrain::bus_parameter $m_axi MAX_BURST_LENGTH 256

set clock [eftrain::add_signal_if $core aclk clock CLK aclk slave]
eftrain::bus_parameter $clock ASSOCIATED_BUSIF s_axi:m_axi
eftrain::bus_parameter $clock ASSOCIATED_RESET aresetn
set reset [eftrain::add_signal_if $core aresetn reset RST aresetn slave]
eftrain::bus_parameter $reset POLARITY ACTIVE_LOW
set irq [eftrain::add_signal_if $core irq interrupt INTERRUPT irq master]
eftrain::bus_parameter $irq SENSITIVITY LEVEL_HIGH

# m_axi addresses all of 2**AXI_ADDR_WIDTH bytes.
set space [ipx::add_address_space m_axi $core]
set_property master_address_space_ref m_axi $m_axi
set_property range_resolve_type dependent $space
set_property range_dependency {pow(2,spirit:decode(id('MODELPARAM_VALUE.AXI_ADDR_WIDTH')))} $space
set_property width_resolve_type dependent $space
set_property width_dependency {spirit:decode(id('MODELPARAM_VALUE.AXI_DATA_WIDTH'))} $space

# ---- the CSR memory map (fpga/common/csr_map.tcl, generated from eftrain.descriptor) ----
# Vivado's address editor assigns at least 4 KB; the 256-byte map repeats inside it.
set memory_map [ipx::add_memory_map s_axi $core]
set_property slave_memory_map_ref s_axi $s_axi
set block [ipx::add_address_block reg0 $memory_map]
set_property range 4096 $block
set_property width 32 $block
set_property usage register $block
set_property description "Control and status registers; the $eftrain::csr_block_bytes-byte map repeats across the 4 KB block." $block
foreach entry $eftrain::csr_registers {
  lassign $entry name offset access description fields
  set reg [ipx::add_register $name $block]
  set_property address_offset $offset $reg
  set_property size 32 $reg
  set_property description $description $reg
  foreach field_entry $fields {
    lassign $field_entry field_name bit_offset bit_width field_access modified field_description
    set field [ipx::add_field $field_name $reg]
    set_property bit_offset $bit_offset $field
    set_property bit_width $bit_width $field
    set_property access $field_access $field
    set_property description $field_description $field
    if {$modified ne ""} { set_property modified_write_value $modified $field }
  }
}

# ---- user parameters: legal values, and the GUI --------------------------------------------
# {name display-name tooltip validation} with validation {list v...} or {range min max}.
set parameters {
  {TN "Array size TN (= TM)" "TN x TN multipliers and adders and TN channels per DRAM channel group; TN * 32 must be at least the AXI data width." {list 2 4 8 16 32}}
  {KMAX "Largest kernel" "Largest kernel size a descriptor may use." {range 3 7}}
  {IB_DEPTH "Input buffer depth" "Pixels per half of the input buffer (TN words each)." {range 2 65535}}
  {OB_DEPTH "Output buffer depth" "Pixels per half of the output buffer (TN words each)." {range 2 65535}}
  {WB_DEPTH "Weight buffer depth" "Kernel-position entries of the weight buffer (TN x TN words each)." {range 2 65535}}
  {BUFFER_URAM "Input and output buffers in UltraRAM" "1: the input and output buffers in UltraRAM (URAM288, ram_style ultra), for parts that have it (the ZCU104's xczu7ev; the ZCU102's xczu9eg has none); 0: block RAM. The same behaviour either way; the weight buffer stays in block RAM." {list 0 1}}
  {AXI_DATA_WIDTH "AXI data width" "m_axi data width in bits, at most TN * 32 (the core refuses to elaborate otherwise); a SmartConnect converts it to an HP port's 128 bits and clock (fpga/common/block_design.tcl)." {list 32 64 128 256 512}}
  {AXI_ADDR_WIDTH "AXI address width" "m_axi address width in bits (40 reaches every DDR aperture of the MPSoC)." {range 32 64}}
  {AXI_ID_WIDTH "AXI ID width" "m_axi ID width in bits." {range 1 16}}
}
set page_of {
  TN array KMAX array IB_DEPTH array OB_DEPTH array WB_DEPTH array BUFFER_URAM array
  AXI_DATA_WIDTH axi AXI_ADDR_WIDTH axi AXI_ID_WIDTH axi
}

set default_page [ipgui::get_pagespec -quiet -name "Page 0" -component $core]
if {$default_page ne ""} { ipgui::remove_page -component $core $default_page }
set pages [dict create \
  array [ipgui::add_page -name array -component $core -display_name "Array and buffers"] \
  axi   [ipgui::add_page -name axi -component $core -display_name "AXI master"] \
]
foreach entry $parameters {
  lassign $entry name display tooltip validation
  set param [ipx::get_user_parameters $name -of_objects $core]
  if {$param eq ""} { error "eftrain: the wrapper has no parameter $name" }
  set_property display_name $display $param
  switch -- [lindex $validation 0] {
    list {
      set_property value_validation_type list $param
      set_property value_validation_list [lrange $validation 1 end] $param
    }
    range {
      set_property value_validation_type range_long $param
      set_property value_validation_range_minimum [lindex $validation 1] $param
      set_property value_validation_range_maximum [lindex $validation 2] $param
    }
  }
  set spec [ipgui::get_guiparamspec -quiet -name $name -component $core]
  if {$spec eq ""} {
    set spec [ipgui::add_param -name $name -component $core -parent [dict get $pages [dict get $page_of $name]]]
  } else {
    ipgui::move_param -component $core -parent [dict get $pages [dict get $page_of $name]] $spec
  }
  set_property display_name $display $spec
  set_property tooltip $tooltip $spec
  if {[lindex $validation 0] eq "list"} { set_property widget comboBox $spec }
}

# ---- write the core ------------------------------------------------------------------------
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
close_project -delete

puts "eftrain: packaged [eftrain::ip_vlnv] in $out_dir"
puts "eftrain: add it to a project with: set_property ip_repo_paths [file dirname $out_dir] \[current_project\]; update_ip_catalog"

# The block design shared by every board: the Zynq UltraScale+ MPSoC and the EF-Train core.
#
#   PS M_AXI_HPM0_FPD --SmartConnect--> eftrain s_axi      (registers at 0xA000_0000, 4 KB)
#   eftrain m_axi     --SmartConnect--> PS S_AXI_HP0_FPD   (DDR, 128-bit, not cache-coherent)
#   eftrain irq       --> PS pl_ps_irq0[0]                  (GIC SPI 121, level high)
#   PS pl_clk0 (the --pl-clk-mhz option; default the core clock of integration.tcl)
#   clocks the core and both SmartConnects; a Processor System Reset synchronises
#   pl_resetn0 to it. PS pl_clk1 (the board's HP clock, 333 MHz) clocks S_AXI_HP0_FPD:
#   the memory SmartConnect converts the core's AXI width (TN * 32 up to 512 bits) to the
#   port's 128 and crosses to its clock, so the core sees the port's full bandwidth.
#   The core's TN, AXI width and BUFFER_URAM per board are in integration.tcl (python -m
#   eftrain.integration, from the resource model): the array that fits the board, with
#   its input and output buffers in UltraRAM where the part has it (the ZCU104).
#
# Sourced by fpga/common/create_project.tcl inside an open project whose IP catalog holds
# the packaged core (make ip).

# Base address of the core's registers in the PS address map (the HPM0 FPD aperture).
set eftrain::csr_base 0xA0000000

proc eftrain::create_block_design {design_name pl_clk_mhz board_name} {
  variable csr_base
  variable board_cores
  if {![dict exists $board_cores $board_name]} {
    error "eftrain: integration.tcl has no core for board $board_name (python -m eftrain.integration)"
  }
  set core_cfg [dict get $board_cores $board_name]
  set hp_clk_mhz [dict get $core_cfg hp_clock_mhz]
  create_bd_design $design_name

  # ---- cells --------------------------------------------------------------------------
  set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e zynq_ultra_ps_e_0]
  # The board preset configures DDR, MIO and the PS clocks for this board.
  apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset "1"} $ps
  set_property -dict [list \
    CONFIG.PSU__USE__M_AXI_GP0 {1} \
    CONFIG.PSU__MAXIGP0__DATA_WIDTH {32} \
    CONFIG.PSU__USE__M_AXI_GP1 {0} \
    CONFIG.PSU__USE__M_AXI_GP2 {0} \
    CONFIG.PSU__USE__S_AXI_GP2 {1} \
    CONFIG.PSU__SAXIGP2__DATA_WIDTH {128} \
    CONFIG.PSU__USE__IRQ0 {1} \
    CONFIG.PSU__FPGA_PL0_ENABLE {1} \
    CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $pl_clk_mhz \
    CONFIG.PSU__FPGA_PL1_ENABLE {1} \
    CONFIG.PSU__CRL_APB__PL1_REF_CTRL__FREQMHZ $hp_clk_mhz \
  ] $ps

  set core [create_bd_cell -type ip -vlnv [eftrain::ip_vlnv] eftrain_0]
  set_property -dict [list \
    CONFIG.TN [dict get $core_cfg tn] \
    CONFIG.AXI_DATA_WIDTH [dict get $core_cfg axi_data_width] \
    CONFIG.BUFFER_URAM [dict get $core_cfg buffer_uram] \
  ] $core
  set reset [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset proc_sys_reset_0]
  set smc_ctrl [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect axi_smc_ctrl]
  set smc_mem [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect axi_smc_mem]
  set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $smc_ctrl
  # Two clocks: the core's (aclk) and the HP port's (aclk1).
  set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1} CONFIG.NUM_CLKS {2}] $smc_mem

  # ---- clock and reset ------------------------------------------------------------------
  connect_bd_net [get_bd_pins zynq_ultra_ps_e_0/pl_clk0] \
    [get_bd_pins zynq_ultra_ps_e_0/maxihpm0_fpd_aclk] \
    [get_bd_pins eftrain_0/aclk] \
    [get_bd_pins axi_smc_ctrl/aclk] \
    [get_bd_pins axi_smc_mem/aclk] \
    [get_bd_pins proc_sys_reset_0/slowest_sync_clk]
  connect_bd_net [get_bd_pins zynq_ultra_ps_e_0/pl_clk1] \
    [get_bd_pins zynq_ultra_ps_e_0/saxihp0_fpd_aclk] \
    [get_bd_pins axi_smc_mem/aclk1]
  connect_bd_net [get_bd_pins zynq_ultra_ps_e_0/pl_resetn0] [get_bd_pins proc_sys_reset_0/ext_reset_in]
  connect_bd_net [get_bd_pins proc_sys_reset_0/interconnect_aresetn] \
    [get_bd_pins axi_smc_ctrl/aresetn] [get_bd_pins axi_smc_mem/aresetn]
  connect_bd_net [get_bd_pins proc_sys_reset_0/peripheral_aresetn] [get_bd_pins eftrain_0/aresetn]

  # ---- AXI ------------------------------------------------------------------------------
  connect_bd_intf_net [get_bd_intf_pins zynq_ultra_ps_e_0/M_AXI_HPM0_FPD] [get_bd_intf_pins axi_smc_ctrl/S00_AXI]
  connect_bd_intf_net [get_bd_intf_pins axi_smc_ctrl/M00_AXI] [get_bd_intf_pins eftrain_0/s_axi]
  connect_bd_intf_net [get_bd_intf_pins eftrain_0/m_axi] [get_bd_intf_pins axi_smc_mem/S00_AXI]
  connect_bd_intf_net [get_bd_intf_pins axi_smc_mem/M00_AXI] [get_bd_intf_pins zynq_ultra_ps_e_0/S_AXI_HP0_FPD]

  # ---- interrupt -------------------------------------------------------------------------
  connect_bd_net [get_bd_pins eftrain_0/irq] [get_bd_pins zynq_ultra_ps_e_0/pl_ps_irq0]

  # ---- addresses: the registers at csr_base; the core reaches all the DDR HP0 reaches ----
  assign_bd_address -target_address_space [get_bd_addr_spaces zynq_ultra_ps_e_0/Data] \
    -offset $csr_base -range 4K [get_bd_addr_segs eftrain_0/s_axi/reg0]
  assign_bd_address -target_address_space [get_bd_addr_spaces eftrain_0/m_axi] \
    [get_bd_addr_segs zynq_ultra_ps_e_0/SAXIGP2/*]

  set actual [get_property CONFIG.PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ $ps]
  puts "eftrain: PL clock requested $pl_clk_mhz MHz, the PS generates $actual MHz"
  set actual_hp [get_property CONFIG.PSU__CRL_APB__PL1_REF_CTRL__ACT_FREQMHZ $ps]
  puts "eftrain: HP0 clock requested $hp_clk_mhz MHz, the PS generates $actual_hp MHz"
  puts "eftrain: core TN [dict get $core_cfg tn], AXI [dict get $core_cfg axi_data_width] bits,\
    IB/OB in [expr {[dict get $core_cfg buffer_uram] ? {UltraRAM} : {block RAM}}]"

  validate_bd_design
  save_bd_design
  return [current_bd_design]
}

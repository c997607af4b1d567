// The EF-Train core as Vivado's IP packager wants its top: plain Verilog-2001, flat
// ports, no packages, structs or interfaces. It only renames and re-widths ports around
// the SystemVerilog top `eftrain_top` (rtl/eftrain_top.f lists its sources); all logic
// lives there.
//
// Port names follow Vivado's interface inference: `s_axi_*` (AXI4-Lite slave, the
// control and status registers), `m_axi_*` (AXI4 master to DRAM), `aclk` (clock of both
// interfaces), `aresetn` (synchronous active-low reset), `irq` (level-sensitive
// interrupt, active high). fpga/package_ip.tcl declares the same interfaces explicitly,
// so inference is a convenience, not a requirement.

module eftrain_top_wrapper #(
  // Array size: TN x TN multipliers and adders (TM = TN is required by the core), a
  // power of two in 2..32; TN * 32 must be at least AXI_DATA_WIDTH.
  parameter integer TN             = 8,
  // Largest kernel size, 3..7.
  parameter integer KMAX           = 5,
  // Pixels per half of the input and output buffers; kernel-position entries of the
  // weight buffer (each TN x TN words). 1..65535.
  parameter integer IB_DEPTH       = 2048,
  parameter integer OB_DEPTH       = 2048,
  parameter integer WB_DEPTH       = 1024,
  // 1: the input and output buffers in UltraRAM (parts that have it: the ZCU104's
  // xczu7ev; the ZCU102's xczu9eg has none); 0: block RAM. The same behaviour either way.
  parameter integer BUFFER_URAM    = 0,
  // AXI4 master: data width (the Zynq UltraScale+ HP ports take up to 128), address
  // width (40 reaches all of the MPSoC's DDR apertures) and ID width.
  parameter integer AXI_DATA_WIDTH = 128,
  parameter integer AXI_ADDR_WIDTH = 40,
  parameter integer AXI_ID_WIDTH   = 4
) (
  input  wire                          aclk,
  input  wire                          aresetn,

  // AXI4-Lite slave. 12 address bits give the 4 KB window that Vivado's address editor
  // assigns at least; the registers decode the low 8 bits and repeat every 256 bytes.
  input  wire [11:0]                   s_axi_awaddr,
  input  wire [2:0]                    s_axi_awprot,
  input  wire                          s_axi_awvalid,
  output wire                          s_axi_awready,
  input  wire [31:0]                   s_axi_wdata,
  input  wire [3:0]                    s_axi_wstrb,
  input  wire                          s_axi_wvalid,
  output wire                          s_axi_wready,
  output wire [1:0]                    s_axi_bresp,
  output wire                          s_axi_bvalid,
  input  wire                          s_axi_bready,
  input  wire [11:0]                   s_axi_araddr,
  input  wire [2:0]                    s_axi_arprot,
  input  wire                          s_axi_arvalid,
  output wire                          s_axi_arready,
  output wire [31:0]                   s_axi_rdata,
  output wire [1:0]                    s_axi_rresp,
  output wire                          s_axi_rvalid,
  input  wire                          s_axi_rready,

  // AXI4 master.
  output wire [AXI_ID_WIDTH-1:0]       m_axi_awid,
  output wire [AXI_ADDR_WIDTH-1:0]     m_axi_awaddr,
  output wire [7:0]                    m_axi_awlen,
  output wire [2:0]                    m_axi_awsize,
  output wire [1:0]                    m_axi_awburst,
  output wire                          m_axi_awlock,
  output wire [3:0]                    m_axi_awcache,
  output wire [2:0]                    m_axi_awprot,
  output wire                          m_axi_awvalid,
  input  wire                          m_axi_awready,
  output wire [AXI_DATA_WIDTH-1:0]     m_axi_wdata,
  output wire [AXI_DATA_WIDTH/8-1:0]   m_axi_wstrb,
  output wire                          m_axi_wlast,
  output wire                          m_axi_wvalid,
  input  wire                          m_axi_wready,
  input  wire [AXI_ID_WIDTH-1:0]       m_axi_bid,
  input  wire [1:0]                    m_axi_bresp,
  input  wire                          m_axi_bvalid,
  output wire                          m_axi_bready,
  output wire [AXI_ID_WIDTH-1:0]       m_axi_arid,
  output wire [AXI_ADDR_WIDTH-1:0]     m_axi_araddr,
  output wire [7:0]                    m_axi_arlen,
  output wire [2:0]                    m_axi_arsize,
  output wire [1:0]                    m_axi_arburst,
  output wire                          m_axi_arlock,
  output wire [3:0]                    m_axi_arcache,
  output wire [2:0]                    m_axi_arprot,
  output wire                          m_axi_arvalid,
  input  wire                          m_axi_arready,
  input  wire [AXI_ID_WIDTH-1:0]       m_axi_rid,
  input  wire [AXI_DATA_WIDTH-1:0]     m_axi_rdata,
  input  wire [1:0]                    m_axi_rresp,
  input  wire                          m_axi_rlast,
  input  wire                          m_axi_rvalid,
  output wire                          m_axi_rready,

  // The chain ended (CSR IRQ.PENDING) while CTRL.IRQ_ENABLE is set; cleared by writing
  // 1 to IRQ.PENDING.
  output wire                          irq
);

  // The upper address bits select nothing: the core's map is 256 bytes.
  wire [3:0] unused_awaddr = s_axi_awaddr[11:8];
  wire [3:0] unused_araddr = s_axi_araddr[11:8];

  eftrain_top #(
    .TM             (TN),
    .TN             (TN),
    .KMAX           (KMAX),
    .IB_DEPTH       (IB_DEPTH),
    .OB_DEPTH       (OB_DEPTH),
    .WB_DEPTH       (WB_DEPTH),
    .BUFFER_URAM    (BUFFER_URAM != 0),
    .AXI_DATA_WIDTH (AXI_DATA_WIDTH),
    .AXI_ADDR_WIDTH (AXI_ADDR_WIDTH),
    .AXI_ID_WIDTH   (AXI_ID_WIDTH)
  ) u_core (
    .clk            (aclk),
    .rst_n          (aresetn),
    .s_axil_awaddr  (s_axi_awaddr[7:0]),
    .s_axil_awprot  (s_axi_awprot),
    .s_axil_awvalid (s_axi_awvalid),
    .s_axil_awready (s_axi_awready),
    .s_axil_wdata   (s_axi_wdata),
    .s_axil_wstrb   (s_axi_wstrb),
    .s_axil_wvalid  (s_axi_wvalid),
    .s_axil_wready  (s_axi_wready),
    .s_axil_bresp   (s_axi_bresp),
    .s_axil_bvalid  (s_axi_bvalid),
    .s_axil_bready  (s_axi_bready),
    .s_axil_araddr  (s_axi_araddr[7:0]),
    .s_axil_arprot  (s_axi_arprot),
    .s_axil_arvalid (s_axi_arvalid),
    .s_axil_arready (s_axi_arready),
    .s_axil_rdata   (s_axi_rdata),
    .s_axil_rresp   (s_axi_rresp),
    .s_axil_rvalid  (s_axi_rvalid),
    .s_axil_rready  (s_axi_rready),
    .m_axi_awid     (m_axi_awid),
    .m_axi_awaddr   (m_axi_awaddr),
    .m_axi_awlen    (m_axi_awlen),
    .m_axi_awsize   (m_axi_awsize),
    .m_axi_awburst  (m_axi_awburst),
    .m_axi_awlock   (m_axi_awlock),
    .m_axi_awcache  (m_axi_awcache),
    .m_axi_awprot   (m_axi_awprot),
    .m_axi_awvalid  (m_axi_awvalid),
    .m_axi_awready  (m_axi_awready),
    .m_axi_wdata    (m_axi_wdata),
    .m_axi_wstrb    (m_axi_wstrb),
    .m_axi_wlast    (m_axi_wlast),
    .m_axi_wvalid   (m_axi_wvalid),
    .m_axi_wready   (m_axi_wready),
    .m_axi_bid      (m_axi_bid),
    .m_axi_bresp    (m_axi_bresp),
    .m_axi_bvalid   (m_axi_bvalid),
    .m_axi_bready   (m_axi_bready),
    .m_axi_arid     (m_axi_arid),
    .m_axi_araddr   (m_axi_araddr),
    .m_axi_arlen    (m_axi_arlen),
    .m_axi_arsize   (m_axi_arsize),
    .m_axi_arburst  (m_axi_arburst),
    .m_axi_arlock   (m_axi_arlock),
    .m_axi_arcache  (m_axi_arcache),
    .m_axi_arprot   (m_axi_arprot),
    .m_axi_arvalid  (m_axi_arvalid),
    .m_axi_arready  (m_axi_arready),
    .m_axi_rid      (m_axi_rid),
    .m_axi_rdata    (m_axi_rdata),
    .m_axi_rresp    (m_axi_rresp),
    .m_axi_rlast    (m_axi_rlast),
    .m_axi_rvalid   (m_axi_rvalid),
    .m_axi_rready   (m_axi_rready),
    .irq            (irq)
  );

endmodule

// Benchmark top (tb/bench, `make bench`): the core with the DRAM model on its AXI master
// (tb/bench/axi_dram_model.sv), so that no Python runs per cycle. The test bench drives
// the control registers through the real AXI4-Lite port and sets the model's latency and
// bandwidth on the `dram_*` ports.
module bench_top #(
  parameter int unsigned TN             = 16,
  parameter int unsigned KMAX           = 3,
  parameter int unsigned IB_DEPTH       = 2048,
  parameter int unsigned OB_DEPTH       = 2048,
  parameter int unsigned WB_DEPTH       = 1024,
  parameter int unsigned AXI_DATA_WIDTH = 512,
  parameter int unsigned DRAM_WORDS     = 1 << 20   // AXI_DATA_WIDTH-bit words
) (
  input  logic        clk,
  input  logic        rst_n,
  input  logic [15:0] dram_latency,
  input  logic [15:0] dram_bytes_per_cycle,  // 8.8 fixed point
  output logic        irq,
  input  logic [7:0]  s_axil_awaddr,
  input  logic [2:0]  s_axil_awprot,
  input  logic        s_axil_awvalid,
  output logic        s_axil_awready,
  input  logic [31:0] s_axil_wdata,
  input  logic [3:0]  s_axil_wstrb,
  input  logic        s_axil_wvalid,
  output logic        s_axil_wready,
  output logic [1:0]  s_axil_bresp,
  output logic        s_axil_bvalid,
  input  logic        s_axil_bready,
  input  logic [7:0]  s_axil_araddr,
  input  logic [2:0]  s_axil_arprot,
  input  logic        s_axil_arvalid,
  output logic        s_axil_arready,
  output logic [31:0] s_axil_rdata,
  output logic [1:0]  s_axil_rresp,
  output logic        s_axil_rvalid,
  input  logic        s_axil_rready
);

  localparam int unsigned DW  = AXI_DATA_WIDTH;
  localparam int unsigned AW  = 40;
  localparam int unsigned IDW = 4;

  logic [IDW-1:0] m_axi_awid;
  logic [AW-1:0] m_axi_awaddr;
  logic [8-1:0] m_axi_awlen;
  logic [3-1:0] m_axi_awsize;
  logic [2-1:0] m_axi_awburst;
  logic m_axi_awvalid;
  logic m_axi_awready;
  logic [DW-1:0] m_axi_wdata;
  logic [DW/8-1:0] m_axi_wstrb;
  logic m_axi_wlast;
  logic m_axi_wvalid;
  logic m_axi_wready;
  logic [IDW-1:0] m_axi_bid;
  logic [2-1:0] m_axi_bresp;
  logic m_axi_bvalid;
  logic m_axi_bready;
  logic [IDW-1:0] m_axi_arid;
  logic [AW-1:0] m_axi_araddr;
  logic [8-1:0] m_axi_arlen;
  logic [3-1:0] m_axi_arsize;
  logic [2-1:0] m_axi_arburst;
  logic m_axi_arvalid;
  logic m_axi_arready;
  logic [IDW-1:0] m_axi_rid;
  logic [DW-1:0] m_axi_rdata;
  logic [2-1:0] m_axi_rresp;
  logic m_axi_rlast;
  logic m_axi_rvalid;
  logic m_axi_rready;

  eftrain_top #(
    .TM(TN), .TN(TN), .KMAX(KMAX), .IB_DEPTH(IB_DEPTH), .OB_DEPTH(OB_DEPTH), .WB_DEPTH(WB_DEPTH),
    .AXI_DATA_WIDTH(DW), .AXI_ADDR_WIDTH(AW), .AXI_ID_WIDTH(IDW)
  ) u_core (
    .clk,
    .rst_n,
    .s_axil_awaddr (s_axil_awaddr),
    .s_axil_awprot (s_axil_awprot),
    .s_axil_awvalid(s_axil_awvalid),
    .s_axil_awready(s_axil_awready),
    .s_axil_wdata  (s_axil_wdata),
    .s_axil_wstrb  (s_axil_wstrb),
    .s_axil_wvalid (s_axil_wvalid),
    .s_axil_wready (s_axil_wready),
    .s_axil_bresp  (s_axil_bresp),
    .s_axil_bvalid (s_axil_bvalid),
    .s_axil_bready (s_axil_bready),
    .s_axil_araddr (s_axil_araddr),
    .s_axil_arprot (s_axil_arprot),
    .s_axil_arvalid(s_axil_arvalid),
    .s_axil_arready(s_axil_arready),
    .s_axil_rdata  (s_axil_rdata),
    .s_axil_rresp  (s_axil_rresp),
    .s_axil_rvalid (s_axil_rvalid),
    .s_axil_rready (s_axil_rready),
    .m_axi_awid    (m_axi_awid),
    .m_axi_awaddr  (m_axi_awaddr),
    .m_axi_awlen   (m_axi_awlen),
    .m_axi_awsize  (m_axi_awsize),
    .m_axi_awburst (m_axi_awburst),
    .m_axi_awvalid (m_axi_awvalid),
    .m_axi_awready (m_axi_awready),
    .m_axi_wdata   (m_axi_wdata),
    .m_axi_wstrb   (m_axi_wstrb),
    .m_axi_wlast   (m_axi_wlast),
    .m_axi_wvalid  (m_axi_wvalid),
    .m_axi_wready  (m_axi_wready),
    .m_axi_bid     (m_axi_bid),
    .m_axi_bresp   (m_axi_bresp),
    .m_axi_bvalid  (m_axi_bvalid),
    .m_axi_bready  (m_axi_bready),
    .m_axi_arid    (m_axi_arid),
    .m_axi_araddr  (m_axi_araddr),
    .m_axi_arlen   (m_axi_arlen),
    .m_axi_arsize  (m_axi_arsize),
    .m_axi_arburst (m_axi_arburst),
    .m_axi_arvalid (m_axi_arvalid),
    .m_axi_arready (m_axi_arready),
    .m_axi_rid     (m_axi_rid),
    .m_axi_rdata   (m_axi_rdata),
    .m_axi_rresp   (m_axi_rresp),
    .m_axi_rlast   (m_axi_rlast),
    .m_axi_rvalid  (m_axi_rvalid),
    .m_axi_rready  (m_axi_rready),
    .m_axi_awlock (),
    .m_axi_awcache(),
    .m_axi_awprot (),
    .m_axi_arlock (),
    .m_axi_arcache(),
    .m_axi_arprot (),
    .irq
  );

  axi_dram_model #(.DW(DW), .AW(AW), .IDW(IDW), .WORDS(DRAM_WORDS)) u_dram (
    .clk,
    .rst_n,
    .cfg_latency_i        (dram_latency),
    .cfg_bytes_per_cycle_i(dram_bytes_per_cycle),
    .awid    (m_axi_awid),
    .awaddr  (m_axi_awaddr),
    .awlen   (m_axi_awlen),
    .awsize  (m_axi_awsize),
    .awburst (m_axi_awburst),
    .awvalid (m_axi_awvalid),
    .awready (m_axi_awready),
    .wdata   (m_axi_wdata),
    .wstrb   (m_axi_wstrb),
    .wlast   (m_axi_wlast),
    .wvalid  (m_axi_wvalid),
    .wready  (m_axi_wready),
    .bid     (m_axi_bid),
    .bresp   (m_axi_bresp),
    .bvalid  (m_axi_bvalid),
    .bready  (m_axi_bready),
    .arid    (m_axi_arid),
    .araddr  (m_axi_araddr),
    .arlen   (m_axi_arlen),
    .arsize  (m_axi_arsize),
    .arburst (m_axi_arburst),
    .arvalid (m_axi_arvalid),
    .arready (m_axi_arready),
    .rid     (m_axi_rid),
    .rdata   (m_axi_rdata),
    .rresp   (m_axi_rresp),
    .rlast   (m_axi_rlast),
    .rvalid  (m_axi_rvalid),
    .rready  (m_axi_rready)
  );

endmodule

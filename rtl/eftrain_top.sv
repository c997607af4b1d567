/// The EF-Train training-accelerator core: the conv engine, its layer controller, an
/// AXI4 master DMA to DRAM and AXI4-Lite control registers (docs/architecture.md, "The IP
/// top level"). Software writes tensors and a chain of layer descriptors to DRAM, writes
/// the chain's address to CHAIN_LO/HI, sets CTRL.START, and gets `irq` when the chain is
/// done or has stopped on an error.
module eftrain_top #(
  /// Output lanes of the array; must equal TN.
  parameter int unsigned TM             = 8,
  /// Reduction width of the array (channels per DRAM channel group), a power of two;
  /// TN * 32 must be at least AXI_DATA_WIDTH.
  parameter int unsigned TN             = 8,
  /// Largest kernel size.
  parameter int unsigned KMAX           = 5,
  /// Pixels per half of the input and output buffers.
  parameter int unsigned IB_DEPTH       = 2048,
  parameter int unsigned OB_DEPTH       = 2048,
  /// Kernel-position entries of the weight buffer.
  parameter int unsigned WB_DEPTH       = 1024,
  /// 1: the input and output buffers in UltraRAM (Zynq UltraScale+ EV parts such as the
  /// ZCU104's xczu7ev); 0: block RAM. The same behaviour either way.
  parameter bit          BUFFER_URAM    = 1'b0,
  /// AXI4 master data width (the ZCU102 HP ports are 128 bits).
  parameter int unsigned AXI_DATA_WIDTH = 128,
  /// AXI4 master address width.
  parameter int unsigned AXI_ADDR_WIDTH = 40,
  /// AXI4 master ID width.
  parameter int unsigned AXI_ID_WIDTH   = 4
) (
  input  logic                        clk,
  /// Active-low reset.
  input  logic                        rst_n,
  // AXI4-Lite slave: control and status registers.
  input  logic [7:0]                  s_axil_awaddr,
  input  logic [2:0]                  s_axil_awprot,
  input  logic                        s_axil_awvalid,
  output logic                        s_axil_awready,
  input  logic [31:0]                 s_axil_wdata,
  input  logic [3:0]                  s_axil_wstrb,
  input  logic                        s_axil_wvalid,
  output logic                        s_axil_wready,
  output logic [1:0]                  s_axil_bresp,
  output logic                        s_axil_bvalid,
  input  logic                        s_axil_bready,
  input  logic [7:0]                  s_axil_araddr,
  input  logic [2:0]                  s_axil_arprot,
  input  logic                        s_axil_arvalid,
  output logic                        s_axil_arready,
  output logic [31:0]                 s_axil_rdata,
  output logic [1:0]                  s_axil_rresp,
  output logic                        s_axil_rvalid,
  input  logic                        s_axil_rready,
  // AXI4 master: DRAM.
  output logic [AXI_ID_WIDTH-1:0]     m_axi_awid,
  output logic [AXI_ADDR_WIDTH-1:0]   m_axi_awaddr,
  output logic [7:0]                  m_axi_awlen,
  output logic [2:0]                  m_axi_awsize,
  output logic [1:0]                  m_axi_awburst,
  output logic                        m_axi_awlock,
  output logic [3:0]                  m_axi_awcache,
  output logic [2:0]                  m_axi_awprot,
  output logic                        m_axi_awvalid,
  input  logic                        m_axi_awready,
  output logic [AXI_DATA_WIDTH-1:0]   m_axi_wdata,
  output logic [AXI_DATA_WIDTH/8-1:0] m_axi_wstrb,
  output logic                        m_axi_wlast,
  output logic                        m_axi_wvalid,
  input  logic                        m_axi_wready,
  input  logic [AXI_ID_WIDTH-1:0]     m_axi_bid,
  input  logic [1:0]                  m_axi_bresp,
  input  logic                        m_axi_bvalid,
  output logic                        m_axi_bready,
  output logic [AXI_ID_WIDTH-1:0]     m_axi_arid,
  output logic [AXI_ADDR_WIDTH-1:0]   m_axi_araddr,
  output logic [7:0]                  m_axi_arlen,
  output logic [2:0]                  m_axi_arsize,
  output logic [1:0]                  m_axi_arburst,
  output logic                        m_axi_arlock,
  output logic [3:0]                  m_axi_arcache,
  output logic [2:0]                  m_axi_arprot,
  output logic                        m_axi_arvalid,
  input  logic                        m_axi_arready,
  input  logic [AXI_ID_WIDTH-1:0]     m_axi_rid,
  input  logic [AXI_DATA_WIDTH-1:0]   m_axi_rdata,
  input  logic [1:0]                  m_axi_rresp,
  input  logic                        m_axi_rlast,
  input  logic                        m_axi_rvalid,
  output logic                        m_axi_rready,
  /// Interrupt: the chain ended (IRQ.pending) and CTRL.IRQ_ENABLE is set.
  output logic                        irq
);

  import eftrain_desc_pkg::*;
  import engine_cmd_pkg::*;

  localparam int unsigned ENGINE_W = TN * 32;
  localparam int unsigned RATIO    = ENGINE_W / AXI_DATA_WIDTH;

  if (ENGINE_W < AXI_DATA_WIDTH) begin : g_bad_width
    $fatal(1, "eftrain_top: TN * 32 (%0d) must be at least AXI_DATA_WIDTH (%0d): every pixel transfer is whole beats", ENGINE_W, AXI_DATA_WIDTH);
  end

  // ---- resets: the port, and the datapath reset after a stop or a soft reset ---------
  // The datapath reset comes from a flop: it fans out to every pipeline of the array, so
  // no gate sits between a flop and those loads (Vivado replicates the flop as the
  // fanout needs). The port reset reaches it one cycle later, the controller's datapath
  // reset one cycle after its pulse; both are held for several cycles (the PS reset block
  // holds the port reset for at least 16).
  logic dp_reset, dp_rst_n;
  always_ff @(posedge clk) begin
    dp_rst_n <= rst_n && !dp_reset;
  end

  // ---- registers ----------------------------------------------------------------------
  logic        start, abort, soft_reset;
  logic [63:0] chain_addr;
  logic        busy, done, error, irq_set;
  logic [7:0]  code;
  logic [15:0] index;
  logic [31:0] desc_done;
  logic [NUM_COUNTERS-1:0][63:0] counters;

  eftrain_csr #(
    .TM (TM), .TN (TN), .KMAX (KMAX), .IB_DEPTH (IB_DEPTH), .OB_DEPTH (OB_DEPTH),
    .WB_DEPTH (WB_DEPTH), .AXI_DATA_WIDTH (AXI_DATA_WIDTH), .AXI_ADDR_WIDTH (AXI_ADDR_WIDTH)
  ) u_csr (
    .clk_i          (clk),
    .rst_ni         (rst_n),
    .s_axil_awaddr  (s_axil_awaddr),
    .s_axil_awprot  (s_axil_awprot),
    .s_axil_awvalid (s_axil_awvalid),
    .s_axil_awready (s_axil_awready),
    .s_axil_wdata   (s_axil_wdata),
    .s_axil_wstrb   (s_axil_wstrb),
    .s_axil_wvalid  (s_axil_wvalid),
    .s_axil_wready  (s_axil_wready),
    .s_axil_bresp   (s_axil_bresp),
    .s_axil_bvalid  (s_axil_bvalid),
    .s_axil_bready  (s_axil_bready),
    .s_axil_araddr  (s_axil_araddr),
    .s_axil_arprot  (s_axil_arprot),
    .s_axil_arvalid (s_axil_arvalid),
    .s_axil_arready (s_axil_arready),
    .s_axil_rdata   (s_axil_rdata),
    .s_axil_rresp   (s_axil_rresp),
    .s_axil_rvalid  (s_axil_rvalid),
    .s_axil_rready  (s_axil_rready),
    .start_o        (start),
    .abort_o        (abort),
    .soft_reset_o   (soft_reset),
    .chain_addr_o   (chain_addr),
    .busy_i         (busy),
    .done_i         (done),
    .error_i        (error),
    .code_i         (code),
    .index_i        (index),
    .desc_done_i    (desc_done),
    .irq_set_i      (irq_set),
    .counters_i     (counters),
    .irq_o          (irq)
  );

  // ---- layer controller -----------------------------------------------------------------
  logic                      cmd_valid, cmd_ready, engine_idle, ctrl_engine_idle;
  engine_cmd_t               cmd;
  logic                      rd_req_valid, rd_req_ready, wr_req_valid, wr_req_ready;
  logic [AXI_ADDR_WIDTH-1:0] rd_req_addr, wr_req_addr;
  logic [31:0]               rd_req_beats, wr_req_beats;
  logic [1:0]                rd_req_dest;
  logic                      ctrl_rd_req_valid, ctrl_rd_req_ready;
  logic                      pool, pool_bp, pool_mask;
  logic [15:0]               pool_h, pool_w;
  logic [1:0]                store_op;
  logic [31:0]               lr;
  logic                      fetch, ctrl_rd_ready;
  logic                      rd_valid, rd_ready, rd_error, rd_idle, wr_error, wr_idle;
  logic [AXI_DATA_WIDTH-1:0] rd_data;
  logic                      dma_drop, dma_clear;

  layer_ctrl #(
    .TN (TN), .KMAX (KMAX), .IB_DEPTH (IB_DEPTH), .OB_DEPTH (OB_DEPTH), .WB_DEPTH (WB_DEPTH),
    .AXI_DATA_WIDTH (AXI_DATA_WIDTH), .AXI_ADDR_WIDTH (AXI_ADDR_WIDTH)
  ) u_ctrl (
    .clk_i           (clk),
    .rst_ni          (rst_n),
    .start_i         (start),
    .abort_i         (abort),
    .soft_reset_i    (soft_reset),
    .chain_addr_i    (chain_addr),
    .cmd_valid_o     (cmd_valid),
    .cmd_ready_i     (cmd_ready),
    .cmd_o           (cmd),
    .engine_idle_i   (ctrl_engine_idle),
    .rd_req_valid_o  (ctrl_rd_req_valid),
    .rd_req_ready_i  (ctrl_rd_req_ready),
    .rd_req_addr_o   (rd_req_addr),
    .rd_req_beats_o  (rd_req_beats),
    .rd_req_dest_o   (rd_req_dest),
    .fetch_o         (fetch),
    .rd_data_valid_i (rd_valid),
    .rd_data_ready_o (ctrl_rd_ready),
    .rd_data_i       (rd_data),
    .rd_error_i      (rd_error),
    .rd_idle_i       (rd_idle),
    .wr_req_valid_o  (wr_req_valid),
    .wr_req_ready_i  (wr_req_ready),
    .wr_req_addr_o   (wr_req_addr),
    .wr_req_beats_o  (wr_req_beats),
    .wr_error_i      (wr_error),
    .wr_idle_i       (wr_idle),
    .pool_o          (pool),
    .pool_bp_o       (pool_bp),
    .pool_mask_o     (pool_mask),
    .pool_h_o        (pool_h),
    .pool_w_o        (pool_w),
    .store_op_o      (store_op),
    .lr_o            (lr),
    .dma_drop_o      (dma_drop),
    .dma_clear_o     (dma_clear),
    .dp_reset_o      (dp_reset),
    .busy_o          (busy),
    .done_o          (done),
    .error_o         (error),
    .code_o          (code),
    .index_o         (index),
    .desc_done_o     (desc_done),
    .irq_set_o       (irq_set)
  );

  // ---- read routing: each request's beats go where the controller said ------------------
  // The descriptor fetch runs alone (everything else idle) and is routed by `fetch`; the
  // other requests queue their destination and length here, in request order.
  logic        route_push, route_ready, route_valid, route_merge, head_last;
  logic [32:0] route_head;
  logic [31:0] head_beat_q;
  logic        route_pop, rd_fire, unused_route_count;
  logic [3:0]  route_count;

  assign route_push        = ctrl_rd_req_valid && rd_req_dest != 2'd0 && rd_req_ready;
  assign rd_req_valid      = ctrl_rd_req_valid && (rd_req_dest == 2'd0 || route_ready);
  assign ctrl_rd_req_ready = rd_req_ready && (rd_req_dest == 2'd0 || route_ready);

  stream_fifo #(.WIDTH (33), .DEPTH (8)) u_route (
    .clk_i       (clk),
    .rst_ni      (dp_rst_n),
    .in_valid_i  (route_push),
    .in_ready_o  (route_ready),
    .in_data_i   ({rd_req_dest == 2'd2, rd_req_beats}),
    .out_valid_o (route_valid),
    .out_ready_i (route_pop),
    .out_data_o  (route_head),
    .count_o     (route_count)
  );

  assign route_merge = route_head[32];
  assign head_last   = head_beat_q == route_head[31:0] - 32'd1;
  assign rd_fire     = rd_valid && rd_ready && !fetch;
  assign route_pop   = rd_fire && head_last;

  always_ff @(posedge clk) begin
    if (!dp_rst_n)     head_beat_q <= '0;
    else if (rd_fire)  head_beat_q <= head_last ? '0 : head_beat_q + 32'd1;
  end

  assign unused_route_count = ^route_count;

  // ---- DMA -------------------------------------------------------------------------------
  logic rd_beat, rd_burst, wr_beat, wr_burst;
  logic st_axi_valid, st_axi_ready, wr_valid, wr_ready;
  logic [AXI_DATA_WIDTH-1:0] st_axi_data, wr_data;

  axi_dma_rd #(
    .DW (AXI_DATA_WIDTH), .AW (AXI_ADDR_WIDTH), .IDW (AXI_ID_WIDTH), .MAX_OUTSTANDING (4)
  ) u_dma_rd (
    .clk_i         (clk),
    .rst_ni        (dp_rst_n),
    .req_valid_i   (rd_req_valid),
    .req_ready_o   (rd_req_ready),
    .req_addr_i    (rd_req_addr),
    .req_beats_i   (rd_req_beats),
    .data_valid_o  (rd_valid),
    .data_ready_i  (rd_ready),
    .data_o        (rd_data),
    .drop_i        (dma_drop),
    .clear_i       (dma_clear),
    .error_o       (rd_error),
    .idle_o        (rd_idle),
    .beat_o        (rd_beat),
    .burst_o       (rd_burst),
    .m_axi_arid    (m_axi_arid),
    .m_axi_araddr  (m_axi_araddr),
    .m_axi_arlen   (m_axi_arlen),
    .m_axi_arsize  (m_axi_arsize),
    .m_axi_arburst (m_axi_arburst),
    .m_axi_arcache (m_axi_arcache),
    .m_axi_arprot  (m_axi_arprot),
    .m_axi_arvalid (m_axi_arvalid),
    .m_axi_arready (m_axi_arready),
    .m_axi_rid     (m_axi_rid),
    .m_axi_rdata   (m_axi_rdata),
    .m_axi_rresp   (m_axi_rresp),
    .m_axi_rlast   (m_axi_rlast),
    .m_axi_rvalid  (m_axi_rvalid),
    .m_axi_rready  (m_axi_rready)
  );

  axi_dma_wr #(
    .DW (AXI_DATA_WIDTH), .AW (AXI_ADDR_WIDTH), .IDW (AXI_ID_WIDTH), .MAX_OUTSTANDING (4)
  ) u_dma_wr (
    .clk_i         (clk),
    .rst_ni        (dp_rst_n),
    .req_valid_i   (wr_req_valid),
    .req_ready_o   (wr_req_ready),
    .req_addr_i    (wr_req_addr),
    .req_bytes_i   (wr_req_beats << $clog2(AXI_DATA_WIDTH / 8)),
    .data_valid_i  (wr_valid),
    .data_ready_o  (wr_ready),
    .data_i        (wr_data),
    .drop_i        (dma_drop),
    .clear_i       (dma_clear),
    .error_o       (wr_error),
    .idle_o        (wr_idle),
    .beat_o        (wr_beat),
    .burst_o       (wr_burst),
    .m_axi_awid    (m_axi_awid),
    .m_axi_awaddr  (m_axi_awaddr),
    .m_axi_awlen   (m_axi_awlen),
    .m_axi_awsize  (m_axi_awsize),
    .m_axi_awburst (m_axi_awburst),
    .m_axi_awcache (m_axi_awcache),
    .m_axi_awprot  (m_axi_awprot),
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
    .m_axi_bready  (m_axi_bready)
  );

  assign m_axi_awlock = 1'b0;
  assign m_axi_arlock = 1'b0;

  // ---- engine, with the width converters between AXI beats and pixel beats ----------
  logic                ld_up_valid, ld_valid, ld_ready;
  logic [ENGINE_W-1:0] ld_data;
  logic                st_valid, st_ready;
  logic [ENGINE_W-1:0] st_data;
  logic                up_ready;

  // Read data goes to the controller while it fetches a descriptor, else to the engine
  // (conv) or the pool unit (pool), or to the store merge's second operand.
  logic pool_in_valid, pool_in_ready, merge_b_valid, merge_b_ready;
  logic to_main;
  assign to_main       = route_valid && !route_merge;
  assign ld_up_valid   = rd_valid && !fetch && to_main && !pool;
  assign pool_in_valid = rd_valid && !fetch && to_main && pool;
  assign merge_b_valid = rd_valid && !fetch && route_valid && route_merge;
  assign rd_ready      = fetch ? ctrl_rd_ready
                       : !route_valid ? 1'b0
                       : route_merge ? merge_b_ready
                       : pool ? pool_in_ready : up_ready;

  stream_upsize #(.IN_W (AXI_DATA_WIDTH), .RATIO (RATIO)) u_upsize (
    .clk_i       (clk),
    .rst_ni      (dp_rst_n),
    .in_valid_i  (ld_up_valid),
    .in_ready_o  (up_ready),
    .in_data_i   (rd_data),
    .out_valid_o (ld_valid),
    .out_ready_i (ld_ready),
    .out_data_o  (ld_data)
  );

  logic mac, stall_load, stall_store, stall_hazard, stall_drain, stat_valid;
  logic [31:0] stat_start, stat_end, stat_macs;

  // The commands reach the engine through a two-entry queue: its ready is a register, so
  // no path runs from the controller's emission through the dispatcher's hazard checks
  // and back into the controller's next state. The controller counts the engine idle
  // only when the queue is empty too.
  logic        engine_cmd_valid, engine_cmd_ready;
  engine_cmd_t engine_cmd;
  logic [1:0]  cmd_queued;

  stream_fifo #(.WIDTH ($bits(engine_cmd_t)), .DEPTH (2)) u_cmd_queue (
    .clk_i       (clk),
    .rst_ni      (dp_rst_n),
    .in_valid_i  (cmd_valid),
    .in_ready_o  (cmd_ready),
    .in_data_i   (cmd),
    .out_valid_o (engine_cmd_valid),
    .out_ready_i (engine_cmd_ready),
    .out_data_o  (engine_cmd),
    .count_o     (cmd_queued)
  );

  assign ctrl_engine_idle = engine_idle && cmd_queued == '0;

  conv_engine #(
    .TM (TM), .TN (TN), .KMAX (KMAX), .IB_DEPTH (IB_DEPTH), .OB_DEPTH (OB_DEPTH), .WB_DEPTH (WB_DEPTH),
    .BUFFER_URAM (BUFFER_URAM)
  ) u_engine (
    .clk_i              (clk),
    .rst_ni             (dp_rst_n),
    .cmd_valid_i        (engine_cmd_valid),
    .cmd_ready_o        (engine_cmd_ready),
    .cmd_i              (engine_cmd),
    .ld_valid_i         (ld_valid),
    .ld_ready_o         (ld_ready),
    .ld_data_i          (ld_data),
    .st_valid_o         (st_valid),
    .st_ready_i         (st_ready),
    .st_data_o          (st_data),
    .idle_o             (engine_idle),
    .mac_o              (mac),
    .stall_load_o       (stall_load),
    .stall_store_o      (stall_store),
    .stall_hazard_o     (stall_hazard),
    .stall_drain_o      (stall_drain),
    .stat_valid_o       (stat_valid),
    .stat_start_cycle_o (stat_start),
    .stat_end_cycle_o   (stat_end),
    .stat_mac_cycles_o  (stat_macs)
  );

  stream_downsize #(.OUT_W (AXI_DATA_WIDTH), .RATIO (RATIO)) u_downsize (
    .clk_i       (clk),
    .rst_ni      (dp_rst_n),
    .in_valid_i  (st_valid),
    .in_ready_o  (st_ready),
    .in_data_i   (st_data),
    .out_valid_o (st_axi_valid),
    .out_ready_i (st_axi_ready),
    .out_data_o  (st_axi_data)
  );

  // ---- pool unit, and the store merge in front of the write DMA -----------------------
  logic                      pool_out_valid, pool_out_ready, merge_a_valid, merge_a_ready;
  logic [AXI_DATA_WIDTH-1:0] pool_out_data;

  pool_unit #(.DW (AXI_DATA_WIDTH), .R (RATIO), .MAX_WO (POOL_MAX_WO)) u_pool (
    .clk_i       (clk),
    .rst_ni      (dp_rst_n),
    .bp_i        (pool_bp),
    .mask_i      (pool_mask),
    .h_i         (pool_h),
    .w_i         (pool_w),
    .in_valid_i  (pool_in_valid),
    .in_ready_o  (pool_in_ready),
    .in_data_i   (rd_data),
    .out_valid_o (pool_out_valid),
    .out_ready_i (pool_out_ready),
    .out_data_o  (pool_out_data)
  );

  assign merge_a_valid  = pool ? pool_out_valid : st_axi_valid;
  assign pool_out_ready = pool && merge_a_ready;
  assign st_axi_ready   = !pool && merge_a_ready;

  store_merge #(.DW (AXI_DATA_WIDTH)) u_merge (
    .clk_i       (clk),
    .rst_ni      (dp_rst_n),
    .op_i        (store_op),
    .lr_i        (lr),
    .a_valid_i   (merge_a_valid),
    .a_ready_o   (merge_a_ready),
    .a_data_i    (pool ? pool_out_data : st_axi_data),
    .b_valid_i   (merge_b_valid),
    .b_ready_o   (merge_b_ready),
    .b_data_i    (rd_data),
    .out_valid_o (wr_valid),
    .out_ready_i (wr_ready),
    .out_data_o  (wr_data)
  );

  logic unused_stats;
  assign unused_stats = ^{stall_drain, stat_valid, stat_start, stat_end, stat_macs};

  // ---- performance counters (cleared by reset and by CTRL.SOFT_RESET) ----------------
  logic [NUM_COUNTERS-1:0] tick;

  always_comb begin
    tick                    = '0;
    tick[CNT_CYCLES]        = 1'b1;
    tick[CNT_BUSY]          = busy;
    tick[CNT_MAC]           = mac;
    tick[CNT_STALL_LOAD]    = stall_load;
    tick[CNT_STALL_STORE]   = stall_store;
    tick[CNT_STALL_HAZARD]  = stall_hazard;
    tick[CNT_AXI_RD_BEATS]  = rd_beat;
    tick[CNT_AXI_RD_BURSTS] = rd_burst;
    tick[CNT_AXI_WR_BEATS]  = wr_beat;
    tick[CNT_AXI_WR_BURSTS] = wr_burst;
  end

  // The events are registered before they count: the counters' 64-bit carry chains then
  // start at a flop instead of extending the engine's issue logic (a counter lags its
  // event by one cycle, long before software can read it after the interrupt).
  logic [NUM_COUNTERS-1:0] tick_q;

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      tick_q   <= '0;
      counters <= '0;
    end else begin
      tick_q <= tick;
      for (int c = 0; c < NUM_COUNTERS; c++) counters[c] <= counters[c] + 64'(tick_q[c]);
    end
  end

  // ---- assertions (simulation; every build runs them with --assert) -----------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i(clk), .rst_ni(rst_n), .armed_o(armed));
  // The 64-bit performance counters never wrap.
  for (genvar c = 0; c < NUM_COUNTERS; c++) begin : g_counter_check
    a_counter_no_wrap: assert property (@(posedge clk) disable iff (!armed) tick_q[c] |-> counters[c] != '1)
      else $error("eftrain_top: counter %0d wrapped", c);
  end
  // Every read beat belongs to a request whose destination is queued.
  a_route: assert property (@(posedge clk) disable iff (!armed || !dp_rst_n) rd_valid && !fetch |-> route_valid)
    else $error("eftrain_top: read data with no routed request");
`endif

endmodule

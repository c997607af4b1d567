/// AXI4 write DMA: writes the beats of its data stream to contiguous, beat-aligned DRAM
/// ranges, in request order. Up to MAX_OUTSTANDING bursts in flight; every burst at most
/// 256 beats, never across a 4 KB boundary. A request's length is in bytes from a
/// beat-aligned address: when it is not a whole number of beats, the last beat carries
/// only the remaining bytes' strobes (`eftrain_top`'s transfers are whole beats, since
/// TN * 32 >= AXI_DATA_WIDTH; the DMA does not rely on it).
///
/// A SLVERR or DECERR response sets `error_o` (sticky until `clear_i`). With `drop_i`
/// set, a request starts no AXI burst and its data beats are consumed and discarded, so
/// a producer already sending them finishes (used after an error or an abort).
module axi_dma_wr #(
  parameter int unsigned DW              = 128,
  parameter int unsigned AW              = 40,
  parameter int unsigned IDW             = 4,
  parameter int unsigned MAX_OUTSTANDING = 4
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  /// Request: beat-aligned byte address, length in bytes.
  input  logic            req_valid_i,
  output logic            req_ready_o,
  input  logic [AW-1:0]   req_addr_i,
  input  logic [31:0]     req_bytes_i,
  /// Data in, in request order.
  input  logic            data_valid_i,
  output logic            data_ready_o,
  input  logic [DW-1:0]   data_i,
  /// Control and status.
  input  logic            drop_i,
  input  logic            clear_i,
  output logic            error_o,
  output logic            idle_o,
  /// One pulse per AXI beat / burst, for the performance counters.
  output logic            beat_o,
  output logic            burst_o,
  // AXI4 write address, data and response channels.
  output logic [IDW-1:0]  m_axi_awid,
  output logic [AW-1:0]   m_axi_awaddr,
  output logic [7:0]      m_axi_awlen,
  output logic [2:0]      m_axi_awsize,
  output logic [1:0]      m_axi_awburst,
  output logic [3:0]      m_axi_awcache,
  output logic [2:0]      m_axi_awprot,
  output logic            m_axi_awvalid,
  input  logic            m_axi_awready,
  output logic [DW-1:0]   m_axi_wdata,
  output logic [DW/8-1:0] m_axi_wstrb,
  output logic            m_axi_wlast,
  output logic            m_axi_wvalid,
  input  logic            m_axi_wready,
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [IDW-1:0]  m_axi_bid,  // one ID: responses come in order
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [1:0]      m_axi_bresp,
  input  logic            m_axi_bvalid,
  output logic            m_axi_bready
);

  localparam int unsigned BEAT_BYTES = DW / 8;
  localparam int unsigned CW = $clog2(MAX_OUTSTANDING + 1);
  localparam int unsigned BEAT_SHIFT = $clog2(BEAT_BYTES);
  localparam int unsigned SW = DW / 8;

  // Beats of the request, and the strobes of its last beat (all ones when whole).
  logic [31:0]   req_beats;
  logic [SW-1:0] req_tail_strb, tail_strb_q;
  logic [BEAT_SHIFT-1:0] req_tail;

  assign req_tail      = req_bytes_i[BEAT_SHIFT-1:0];
  assign req_beats     = (req_bytes_i >> BEAT_SHIFT) + 32'(req_tail != '0);
  assign req_tail_strb = req_tail == '0 ? '1 : SW'((1 << req_tail) - 1);

  // ---- requests ----------------------------------------------------------------------
  logic          split_req_valid, split_req_ready, drop_active_q;
  logic [31:0]   drop_left_q;
  logic          burst_valid, burst_ready, burst_last;
  logic [AW-1:0] burst_addr;
  logic [7:0]    burst_len;

  assign split_req_valid = req_valid_i && !drop_i && !drop_active_q;
  assign req_ready_o     = !drop_active_q && split_req_ready;

  axi_burst_split #(
    .AW         (AW),
    .BEAT_BYTES (BEAT_BYTES)
  ) u_split (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .req_valid_i   (split_req_valid),
    .req_ready_o   (split_req_ready),
    .req_addr_i    (req_addr_i),
    .req_beats_i   (req_beats),
    .burst_valid_o (burst_valid),
    .burst_ready_i (burst_ready),
    .burst_addr_o  (burst_addr),
    .burst_len_o   (burst_len),
    .burst_last_o  (burst_last)
  );

  logic unused_okay_bit;
  assign unused_okay_bit   = m_axi_bresp[0];  // bit 1 set: SLVERR or DECERR

  // ---- AW channel; each issued burst's length queues for the W channel -------------
  logic [CW-1:0] outstanding_q;  // bursts issued whose response has not come back
  logic          len_fifo_ready, len_valid, len_pop;
  logic [7:0]    len_head;
  logic          last_burst_head;
  logic [SW-1:0] strb_head;

  // The splitter works on one request at a time: keep its tail strobes for its last burst.
  always_ff @(posedge clk_i) begin
    if (split_req_valid && split_req_ready) tail_strb_q <= req_tail_strb;
  end
  logic [CW-1:0] len_count;

  assign burst_ready = outstanding_q < CW'(MAX_OUTSTANDING) && len_fifo_ready
                       && (!m_axi_awvalid || m_axi_awready);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      m_axi_awvalid <= 1'b0;
    end else if (burst_valid && burst_ready) begin
      m_axi_awvalid <= 1'b1;
    end else if (m_axi_awready) begin
      m_axi_awvalid <= 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (burst_valid && burst_ready) begin
      m_axi_awaddr <= burst_addr;
      m_axi_awlen  <= burst_len;
    end
  end

  assign m_axi_awid    = '0;
  assign m_axi_awsize  = 3'($clog2(BEAT_BYTES));
  assign m_axi_awburst = 2'b01;  // INCR
  assign m_axi_awcache = 4'b0011;
  assign m_axi_awprot  = 3'b000;

  stream_fifo #(
    .WIDTH (8 + 1 + SW),
    .DEPTH (MAX_OUTSTANDING)
  ) u_len_fifo (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (burst_valid && burst_ready),
    .in_ready_o  (len_fifo_ready),
    .in_data_i   ({burst_len, burst_last, tail_strb_q}),
    .out_valid_o (len_valid),
    .out_ready_i (len_pop),
    .out_data_o  ({len_head, last_burst_head, strb_head}),
    .count_o     (len_count)
  );

  // ---- W channel: beats of the head burst, from the data stream -----------------------
  logic [7:0] beat_q;
  logic       w_take, drop_beat;

  assign drop_beat     = drop_active_q && !len_valid;  // real bursts before it drain first
  assign m_axi_wvalid  = len_valid && data_valid_i;
  assign m_axi_wdata   = data_i;
  assign m_axi_wstrb   = (m_axi_wlast && last_burst_head) ? strb_head : '1;
  assign m_axi_wlast   = beat_q == len_head;
  assign w_take        = m_axi_wvalid && m_axi_wready;
  assign len_pop       = w_take && m_axi_wlast;
  assign data_ready_o  = (len_valid && m_axi_wready) || drop_beat;

  always_ff @(posedge clk_i) begin
    if (!rst_ni)      beat_q <= '0;
    else if (len_pop) beat_q <= '0;
    else if (w_take)  beat_q <= beat_q + 8'd1;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      drop_active_q <= 1'b0;
      drop_left_q   <= '0;
    end else if (!drop_active_q) begin
      if (req_valid_i && drop_i && req_ready_o) begin
        drop_active_q <= req_beats != 32'd0;
        drop_left_q   <= req_beats;
      end
    end else if (drop_beat && data_valid_i) begin
      drop_left_q <= drop_left_q - 32'd1;
      if (drop_left_q == 32'd1) drop_active_q <= 1'b0;
    end
  end

  // ---- B channel ---------------------------------------------------------------------
  logic b_take;

  assign m_axi_bready = 1'b1;
  assign b_take       = m_axi_bvalid && m_axi_bready;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) outstanding_q <= '0;
    else         outstanding_q <= outstanding_q + CW'(burst_valid && burst_ready) - CW'(b_take);
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni)                         error_o <= 1'b0;
    else if (clear_i)                    error_o <= 1'b0;
    else if (b_take && m_axi_bresp[1])   error_o <= 1'b1;
  end

  logic unused_len_count;
  assign unused_len_count = ^len_count;

  assign idle_o  = !burst_valid && !m_axi_awvalid && outstanding_q == '0 && !drop_active_q && !len_valid;
  assign beat_o  = w_take;
  assign burst_o = m_axi_awvalid && m_axi_awready;

  // ---- assertions (simulation; every build runs them with --assert) -----------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  // AXI4: address and data hold, unchanged, until accepted.
  a_aw_stable: assert property (@(posedge clk_i) disable iff (!armed)
    m_axi_awvalid && !m_axi_awready |=> m_axi_awvalid
      && $stable({m_axi_awid, m_axi_awaddr, m_axi_awlen, m_axi_awsize, m_axi_awburst, m_axi_awcache, m_axi_awprot}))
    else $error("axi_dma_wr: AW changed or dropped before awready");
  a_w_stable: assert property (@(posedge clk_i) disable iff (!armed)
    m_axi_wvalid && !m_axi_wready |=> m_axi_wvalid && $stable({m_axi_wdata, m_axi_wstrb, m_axi_wlast}))
    else $error("axi_dma_wr: W changed or dropped before wready");
  a_aw_4k: assert property (@(posedge clk_i) disable iff (!armed)
    m_axi_awvalid |-> 32'(m_axi_awaddr[11:0]) + (32'(m_axi_awlen) + 1) * (DW / 8) <= 4096)
    else $error("axi_dma_wr: burst at %h of %0d beats crosses 4 KB", m_axi_awaddr, m_axi_awlen + 1);
  a_wr_outstanding: assert property (@(posedge clk_i) disable iff (!armed)
    32'(outstanding_q) <= MAX_OUTSTANDING)
    else $error("axi_dma_wr: %0d bursts outstanding", outstanding_q);

  // Ordering: a response only for a burst whose address and last beat were sent (AXI
  // lets a master send data before its address, and this one does).
  logic [31:0] aw_count_q, wlast_count_q, b_count_q;
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      aw_count_q    <= '0;
      wlast_count_q <= '0;
      b_count_q     <= '0;
    end else begin
      aw_count_q    <= aw_count_q + 32'(m_axi_awvalid && m_axi_awready);
      wlast_count_q <= wlast_count_q + 32'(m_axi_wvalid && m_axi_wready && m_axi_wlast);
      b_count_q     <= b_count_q + 32'(m_axi_bvalid && m_axi_bready);
    end
  end
  a_b_after_burst: assert property (@(posedge clk_i) disable iff (!armed)
    m_axi_bvalid |-> wlast_count_q > b_count_q && aw_count_q > b_count_q)
    else $error("axi_dma_wr: B response before the burst's address and last beat");
`endif

endmodule

/// AXI4 read DMA: reads contiguous, beat-aligned DRAM ranges and streams their beats in
/// request order. Up to MAX_OUTSTANDING bursts in flight; every burst at most 256 beats,
/// never across a 4 KB boundary.
///
/// A SLVERR or DECERR response sets `error_o` (sticky until `clear_i`); the data still
/// streams. With `drop_i` set, a request starts no AXI burst and streams zero beats
/// instead, so a consumer already waiting for them finishes (used after an error or an
/// abort, to stop cleanly).
module axi_dma_rd #(
  parameter int unsigned DW              = 128,
  parameter int unsigned AW              = 40,
  parameter int unsigned IDW             = 4,
  parameter int unsigned MAX_OUTSTANDING = 4
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  /// Request: beat-aligned byte address, length in beats.
  input  logic            req_valid_i,
  output logic            req_ready_o,
  input  logic [AW-1:0]   req_addr_i,
  input  logic [31:0]     req_beats_i,
  /// Data out, in request order.
  output logic            data_valid_o,
  input  logic            data_ready_i,
  output logic [DW-1:0]   data_o,
  /// Control and status.
  input  logic            drop_i,
  input  logic            clear_i,
  output logic            error_o,
  output logic            idle_o,
  /// One pulse per AXI beat / burst, for the performance counters.
  output logic            beat_o,
  output logic            burst_o,
  // AXI4 read address and data channels.
  output logic [IDW-1:0]  m_axi_arid,
  output logic [AW-1:0]   m_axi_araddr,
  output logic [7:0]      m_axi_arlen,
  output logic [2:0]      m_axi_arsize,
  output logic [1:0]      m_axi_arburst,
  output logic [3:0]      m_axi_arcache,
  output logic [2:0]      m_axi_arprot,
  output logic            m_axi_arvalid,
  input  logic            m_axi_arready,
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [IDW-1:0]  m_axi_rid,    // one ID: responses come in order
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [DW-1:0]   m_axi_rdata,
  input  logic [1:0]      m_axi_rresp,
  input  logic            m_axi_rlast,
  input  logic            m_axi_rvalid,
  output logic            m_axi_rready
);

  localparam int unsigned BEAT_BYTES = DW / 8;

  // ---- requests: real ones go to the burst splitter, dropped ones become zero beats ----
  logic        split_req_valid, split_req_ready, drop_active_q;
  logic [31:0] drop_left_q;
  logic        burst_valid, burst_ready, burst_last;
  logic [AW-1:0] burst_addr;
  logic [7:0]  burst_len;
  logic [$clog2(MAX_OUTSTANDING + 1)-1:0] outstanding_q;

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
    .req_beats_i   (req_beats_i),
    .burst_valid_o (burst_valid),
    .burst_ready_i (burst_ready),
    .burst_addr_o  (burst_addr),
    .burst_len_o   (burst_len),
    .burst_last_o  (burst_last)
  );

  logic unused_burst_last, unused_okay_bit;
  assign unused_burst_last = burst_last;
  assign unused_okay_bit   = m_axi_rresp[0];  // bit 1 set: SLVERR or DECERR

  // ---- AR channel: registered, held until accepted ---------------------------------
  logic can_issue;

  assign can_issue   = outstanding_q < ($bits(outstanding_q))'(MAX_OUTSTANDING);
  assign burst_ready = can_issue && (!m_axi_arvalid || m_axi_arready);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      m_axi_arvalid <= 1'b0;
    end else if (burst_valid && burst_ready) begin
      m_axi_arvalid <= 1'b1;
    end else if (m_axi_arready) begin
      m_axi_arvalid <= 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (burst_valid && burst_ready) begin
      m_axi_araddr <= burst_addr;
      m_axi_arlen  <= burst_len;
    end
  end

  assign m_axi_arid    = '0;
  assign m_axi_arsize  = 3'($clog2(BEAT_BYTES));
  assign m_axi_arburst = 2'b01;  // INCR
  assign m_axi_arcache = 4'b0011;  // normal, bufferable
  assign m_axi_arprot  = 3'b000;

  // ---- R channel -----------------------------------------------------------------------
  logic r_take, ar_take, r_done;

  assign ar_take = m_axi_arvalid && m_axi_arready;
  assign r_take  = m_axi_rvalid && m_axi_rready;
  assign r_done  = r_take && m_axi_rlast;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) outstanding_q <= '0;
    else         outstanding_q <= outstanding_q + ($bits(outstanding_q))'(burst_valid && burst_ready)
                                                - ($bits(outstanding_q))'(r_done);
  end

  // Dropped requests stream zeros only when no real data is pending before them. That is
  // registered, so the zero beats' valid and the data multiplexer's select come straight
  // from flops: while a dropped request streams, no burst can start (requests wait), so
  // once nothing is pending nothing becomes pending, and the register is merely a cycle
  // late when the last real beat leaves.
  logic drop_beat, nothing_pending_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) nothing_pending_q <= 1'b0;
    else         nothing_pending_q <= outstanding_q == '0 && !m_axi_arvalid && !burst_valid;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      drop_active_q <= 1'b0;
      drop_left_q   <= '0;
    end else if (!drop_active_q) begin
      if (req_valid_i && drop_i && req_ready_o) begin
        drop_active_q <= req_beats_i != 32'd0;
        drop_left_q   <= req_beats_i;
      end
    end else if (drop_beat && data_ready_i) begin
      drop_left_q <= drop_left_q - 32'd1;
      if (drop_left_q == 32'd1) drop_active_q <= 1'b0;
    end
  end

  assign drop_beat     = drop_active_q && nothing_pending_q;
  assign m_axi_rready  = data_ready_i && !drop_beat;
  assign data_valid_o  = m_axi_rvalid || drop_beat;
  assign data_o        = drop_beat ? '0 : m_axi_rdata;

  always_ff @(posedge clk_i) begin
    if (!rst_ni)                           error_o <= 1'b0;
    else if (clear_i)                      error_o <= 1'b0;
    else if (r_take && m_axi_rresp[1])     error_o <= 1'b1;
  end

  assign idle_o  = !burst_valid && !m_axi_arvalid && outstanding_q == '0 && !drop_active_q;
  assign beat_o  = r_take;
  assign burst_o = ar_take;

  // ---- assertions (simulation; every build runs them with --assert) -----------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  // AXI4: a read address holds, unchanged, until it is accepted.
  a_ar_stable: assert property (@(posedge clk_i) disable iff (!armed)
    m_axi_arvalid && !m_axi_arready |=> m_axi_arvalid
      && $stable({m_axi_arid, m_axi_araddr, m_axi_arlen, m_axi_arsize, m_axi_arburst, m_axi_arcache, m_axi_arprot}))
    else $error("axi_dma_rd: AR changed or dropped before arready");
  // No burst crosses a 4 KB boundary.
  a_ar_4k: assert property (@(posedge clk_i) disable iff (!armed)
    m_axi_arvalid |-> 32'(m_axi_araddr[11:0]) + (32'(m_axi_arlen) + 1) * (DW / 8) <= 4096)
    else $error("axi_dma_rd: burst at %h of %0d beats crosses 4 KB", m_axi_araddr, m_axi_arlen + 1);
  // Outstanding bursts stay within MAX_OUTSTANDING (the counter never wraps).
  a_rd_outstanding: assert property (@(posedge clk_i) disable iff (!armed)
    32'(outstanding_q) <= MAX_OUTSTANDING)
    else $error("axi_dma_rd: %0d bursts outstanding", outstanding_q);
  // Read data only for a burst that was asked for.
  a_r_expected: assert property (@(posedge clk_i) disable iff (!armed)
    m_axi_rvalid |-> outstanding_q != '0)
    else $error("axi_dma_rd: R beat with no burst outstanding");
`endif

endmodule

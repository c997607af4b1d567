/// Control and status registers of the EF-Train core, an AXI4-Lite slave (32-bit data,
/// 8-bit byte addresses). The register map is defined once, in `eftrain.descriptor`
/// (`eftrain_desc_pkg`); docs/architecture.md lists it.
///
/// Address map: 0x00 ID, 0x04 PARAMS, 0x08 DEPTHS, 0x0C WB_DEPTH, 0x10 CTRL,
/// 0x14 STATUS, 0x18 IRQ, 0x1C DESC_DONE, 0x20/0x24 CHAIN_LO/HI, 0x40.. the 64-bit
/// performance counters (lo, hi). Other addresses read 0 and ignore writes (OKAY).
module eftrain_csr #(
  parameter int unsigned TM             = 8,
  parameter int unsigned TN             = 8,
  parameter int unsigned KMAX           = 5,
  parameter int unsigned IB_DEPTH       = 2048,
  parameter int unsigned OB_DEPTH       = 2048,
  parameter int unsigned WB_DEPTH       = 1024,
  parameter int unsigned AXI_DATA_WIDTH = 128,
  parameter int unsigned AXI_ADDR_WIDTH = 40
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  // AXI4-Lite slave.
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
  input  logic        s_axil_rready,
  /// CTRL pulses (self-clearing bits) and the chain address.
  output logic        start_o,
  output logic        abort_o,
  output logic        soft_reset_o,
  output logic [63:0] chain_addr_o,
  /// STATUS from the layer controller.
  input  logic        busy_i,
  input  logic        done_i,
  input  logic        error_i,
  input  logic [7:0]  code_i,
  input  logic [15:0] index_i,
  input  logic [31:0] desc_done_i,
  /// The chain ended (done or error): set IRQ.pending.
  input  logic        irq_set_i,
  /// Performance counters.
  input  logic [eftrain_desc_pkg::NUM_COUNTERS-1:0][63:0] counters_i,
  /// Interrupt: IRQ.pending and CTRL.IRQ_ENABLE.
  output logic        irq_o
);

  import eftrain_desc_pkg::*;

  logic        irq_enable_q, irq_pending_q;
  logic [63:0] chain_q;

  // ---- writes: take AW and W in any order, then answer on B -----------------------
  logic       aw_held_q, w_held_q;
  logic [7:0] waddr_q;
  logic [31:0] wdata_q;
  logic [3:0] wstrb_q;
  logic       do_write;

  assign s_axil_awready = !aw_held_q && !s_axil_bvalid;
  assign s_axil_wready  = !w_held_q && !s_axil_bvalid;
  assign do_write       = aw_held_q && w_held_q && !s_axil_bvalid;
  assign s_axil_bresp   = 2'b00;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      aw_held_q     <= 1'b0;
      w_held_q      <= 1'b0;
      s_axil_bvalid <= 1'b0;
    end else begin
      if (s_axil_awvalid && s_axil_awready) aw_held_q <= 1'b1;
      if (s_axil_wvalid && s_axil_wready)   w_held_q  <= 1'b1;
      if (do_write) begin
        aw_held_q     <= 1'b0;
        w_held_q      <= 1'b0;
        s_axil_bvalid <= 1'b1;
      end else if (s_axil_bready) begin
        s_axil_bvalid <= 1'b0;
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (s_axil_awvalid && s_axil_awready) waddr_q <= s_axil_awaddr;
    if (s_axil_wvalid && s_axil_wready) begin
      wdata_q <= s_axil_wdata;
      wstrb_q <= s_axil_wstrb;
    end
  end

  function automatic logic [31:0] merge(logic [31:0] old, logic [31:0] data, logic [3:0] strb);
    for (int b = 0; b < 4; b++) if (strb[b]) old[8*b +: 8] = data[8*b +: 8];
    return old;
  endfunction

  logic [31:0] ctrl_written;
  assign ctrl_written = merge(32'd0, wdata_q, wstrb_q);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      irq_enable_q  <= 1'b0;
      irq_pending_q <= 1'b0;
      chain_q       <= '0;
      start_o       <= 1'b0;
      abort_o       <= 1'b0;
      soft_reset_o  <= 1'b0;
    end else begin
      start_o      <= 1'b0;
      abort_o      <= 1'b0;
      soft_reset_o <= 1'b0;
      if (irq_set_i) irq_pending_q <= 1'b1;
      if (do_write) begin
        unique case (waddr_q & 8'hFC)
          CSR_CTRL: begin
            start_o      <= ctrl_written[CTRL_START];
            abort_o      <= ctrl_written[CTRL_ABORT];
            soft_reset_o <= ctrl_written[CTRL_SOFT_RESET];
            if (wstrb_q[0]) irq_enable_q <= wdata_q[CTRL_IRQ_ENABLE];
          end
          CSR_IRQ:      if (wstrb_q[0] && wdata_q[IRQ_PENDING]) irq_pending_q <= 1'b0;
          CSR_CHAIN_LO: chain_q[31:0]  <= merge(chain_q[31:0], wdata_q, wstrb_q);
          CSR_CHAIN_HI: chain_q[63:32] <= merge(chain_q[63:32], wdata_q, wstrb_q);
          default: ;
        endcase
      end
    end
  end

  assign chain_addr_o = chain_q;
  assign irq_o        = irq_pending_q && irq_enable_q;

  // ---- reads ----------------------------------------------------------------------------
  logic [31:0] rvalue;
  logic [7:0]  raddr;

  always_comb begin
    raddr  = s_axil_araddr & 8'hFC;
    rvalue = 32'd0;
    unique case (raddr)
      CSR_ID:        rvalue = ID_VALUE;
      CSR_PARAMS:    rvalue = {8'(AXI_DATA_WIDTH / 8), 8'(KMAX), 8'(TN), 8'(TM)};
      CSR_DEPTHS:    rvalue = {16'(OB_DEPTH), 16'(IB_DEPTH)};
      CSR_WB_DEPTH:  rvalue = {8'd0, 8'(AXI_ADDR_WIDTH), 16'(WB_DEPTH)};
      CSR_CTRL:      rvalue = 32'(irq_enable_q) << CTRL_IRQ_ENABLE;
      CSR_STATUS:    rvalue = {index_i, code_i, 5'd0, error_i, done_i, busy_i};
      CSR_IRQ:       rvalue = 32'(irq_pending_q);
      CSR_DESC_DONE: rvalue = desc_done_i;
      CSR_CHAIN_LO:  rvalue = chain_q[31:0];
      CSR_CHAIN_HI:  rvalue = chain_q[63:32];
      default: begin
        if (raddr >= CSR_CNT_BASE && raddr < CSR_CNT_BASE + 8'(8 * NUM_COUNTERS)) begin
          rvalue = raddr[2] ? counters_i[(raddr - CSR_CNT_BASE) >> 3][63:32]
                            : counters_i[(raddr - CSR_CNT_BASE) >> 3][31:0];
        end
      end
    endcase
  end

  assign s_axil_arready = !s_axil_rvalid;
  assign s_axil_rresp   = 2'b00;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      s_axil_rvalid <= 1'b0;
    end else if (s_axil_arvalid && s_axil_arready) begin
      s_axil_rvalid <= 1'b1;
    end else if (s_axil_rready) begin
      s_axil_rvalid <= 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (s_axil_arvalid && s_axil_arready) s_axil_rdata <= rvalue;
  end

  logic unused_prot;
  assign unused_prot = ^{s_axil_awprot, s_axil_arprot};

  // ---- assertions (simulation; every build runs them with --assert) -----------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  // AXI4-Lite: responses hold, unchanged, until accepted.
  a_b_stable: assert property (@(posedge clk_i) disable iff (!armed)
    s_axil_bvalid && !s_axil_bready |=> s_axil_bvalid && $stable(s_axil_bresp))
    else $error("eftrain_csr: B changed or dropped before bready");
  a_r_stable: assert property (@(posedge clk_i) disable iff (!armed)
    s_axil_rvalid && !s_axil_rready |=> s_axil_rvalid && $stable({s_axil_rdata, s_axil_rresp}))
    else $error("eftrain_csr: R changed or dropped before rready");
`endif

endmodule

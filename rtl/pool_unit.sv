/// Max-pool unit: 2x2 windows, stride 2, for POOL_FP and POOL_BP (docs/numerics.md,
/// section 6; docs/architecture.md, "Fused layers"). It works on the DMA's AXI beats:
/// a pixel of one channel group is R beats of LANES fp32 words, and the unit follows the
/// activation layout, so it needs no addresses, only the image size.
///
/// POOL_FP, per (image, channel group) plane: the x rows 0 .. 2*Ho-1 come in; the y rows
/// go out, a y beat as soon as its window's last beat arrives. An odd last row or column
/// of x is never part of a window (the controller does not read that row; the column's
/// beats are consumed and ignored).
///
/// POOL_BP, per output row oy of a plane: the two x rows 2*oy, 2*oy+1 come in (the
/// argmax of every window is recomputed from them, exactly as POOL_FP chose it), then
/// the dy row oy; then the dx rows 2*oy, 2*oy+1 go out: dy at each window's argmax, +0
/// elsewhere (and +0 where the window's maximum is not > 0 when `mask_i`: the ReLU mask of
/// the layer below). After the plane's last output row an odd x height gets a row of +0.
///
/// Comparison: a candidate replaces the current maximum only if it is strictly greater,
/// scanning (0,0), (0,1), (1,0), (1,1); subnormals read as zero, -0 ties +0, NaN never
/// wins unless it comes first.
///
/// For the clock, the read beats enter through a register slice (a cycle of latency), so
/// the comparisons start from flops rather than from the read DMA's output multiplexer;
/// the output FIFO's free space is a registered credit count and the row and plane ends
/// are registered, so the input's ready is a gate or two from flops.
module pool_unit #(
  /// Bits of one beat (AXI_DATA_WIDTH).
  parameter int unsigned DW     = 128,
  /// Beats per pixel (TN * 32 / DW).
  parameter int unsigned R      = 2,
  /// Widest output row (eftrain_desc_pkg::POOL_MAX_WO).
  parameter int unsigned MAX_WO = 512
) (
  input  logic          clk_i,
  input  logic          rst_ni,
  /// The descriptor (constant while it runs): backward, ReLU mask, x height and width.
  input  logic          bp_i,
  input  logic          mask_i,
  input  logic [15:0]   h_i,
  input  logic [15:0]   w_i,
  /// Read data.
  input  logic          in_valid_i,
  output logic          in_ready_o,
  input  logic [DW-1:0] in_data_i,
  /// To the store merge.
  output logic          out_valid_o,
  input  logic          out_ready_i,
  output logic [DW-1:0] out_data_o
);

  import eftrain_pkg::*;

  localparam int unsigned LANES = DW / 32;
  localparam int unsigned DEPTH = MAX_WO * R;
  localparam int unsigned AW    = $clog2(DEPTH);
  localparam int unsigned QW    = R > 1 ? $clog2(R) : 1;
  localparam int unsigned FIFO_DEPTH = 4;

  /// Candidate c replaces the current maximum m.
  function automatic logic wins(logic [31:0] c, logic [31:0] m);
    // c > m with zeros and subnormals read as +0: the signs first, then a comparison
    // of the magnitudes (31-bit patterns order them), reversed when both are negative.
    // Both directions are compared straight from the operands and the sign picks one,
    // so no sign logic sits in front of the comparators' carry chains.
    logic cz, mz, cs, ms, c_above, m_above;
    cz = c[30:23] == 8'd0;  mz = m[30:23] == 8'd0;
    cs = c[31] && !cz;      ms = m[31] && !mz;
    c_above = c[30:0] > m[30:0];
    m_above = m[30:0] > c[30:0];
    return !fp32_is_nan(c[30:0]) && !fp32_is_nan(m[30:0]) && !(cz && mz)
           && (cs != ms ? ms : (cs ? m_above : c_above));
  endfunction


  // ---- where the stream is --------------------------------------------------------------
  typedef enum logic [1:0] {
    TakeX,   // x rows of a window row pair
    TakeDy,  // BP: the dy row
    Emit     // BP: the dx rows
  } state_e;

  state_e      state_q;
  logic [15:0] wo, ho, px_q, oy_q;
  logic [QW-1:0] q_q;
  logic        par_q;                 // row of the pair: 0 top, 1 bottom
  logic        last_q, last_px, last_oy;

  // The descriptor's sizes minus one, registered: they change only between descriptors,
  // many cycles before the first beat of the next one reaches the unit.
  logic [15:0] w_last_q, wo_last_q, ho_last_q;
  always_ff @(posedge clk_i) begin
    w_last_q  <= w_i - 16'd1;
    wo_last_q <= wo - 16'd1;
    ho_last_q <= ho - 16'd1;
  end

  assign wo      = w_i >> 1;
  assign ho      = h_i >> 1;
  assign last_q  = 32'(q_q) == R - 1;
  assign last_px = px_q == (state_q == TakeDy ? wo_last_q : w_last_q);
  assign last_oy = oy_q == ho_last_q;

  logic [15:0] ox;
  logic        in_window, even_px;
  logic [AW-1:0] addr;
  assign ox        = state_q == TakeDy ? px_q : px_q >> 1;
  assign in_window = px_q < (wo << 1);
  assign even_px   = !px_q[0];
  assign addr      = AW'(32'(ox) * R + 32'(q_q));

  // ---- output FIFO with credits ---------------------------------------------------------
  logic                          fifo_valid, fifo_ready;
  logic [DW-1:0]                 fifo_data;
  logic [$clog2(FIFO_DEPTH):0]   fifo_count;
  logic                          emit_pending_q, room;

  logic                          bottom_pending_q;  // a window result in its second stage

  // Credits: the FIFO's entries plus the results on their way to it (emit_pending_q,
  // bottom_pending_q), counted in a register instead of summed on the input's ready path.
  // A beat enters only if one more result would still fit.
  logic [$clog2(FIFO_DEPTH):0]   used_q;
  assign room = used_q < ($bits(used_q))'(FIFO_DEPTH - 1);

  stream_fifo #(.WIDTH (DW), .DEPTH (FIFO_DEPTH)) u_out (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (fifo_valid),
    .in_ready_o  (fifo_ready),
    .in_data_i   (fifo_data),
    .out_valid_o (out_valid_o),
    .out_ready_i (out_ready_i),
    .out_data_o  (out_data_o),
    .count_o     (fifo_count)
  );

  // ---- input beats, through a register slice ----------------------------------------------
  logic          beat_valid, beat_ready, in_fire;
  logic [DW-1:0] beat_data;

  stream_register #(.WIDTH (DW)) u_in (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (in_valid_i),
    .in_ready_o  (in_ready_o),
    .in_data_i   (in_data_i),
    .out_valid_o (beat_valid),
    .out_ready_i (beat_ready),
    .out_data_o  (beat_data)
  );

  assign beat_ready = (state_q == TakeX || state_q == TakeDy) && room;
  assign in_fire    = beat_valid && beat_ready;

  // Buffer A: the top row's best value and its column (0/1) per lane (TakeX, top row),
  // then in BP the dy row. Buffer B (BP): each window's argmax and "maximum > 0".
  logic          a_we, a_re, b_we, b_re;
  logic [AW-1:0] a_waddr, a_raddr, b_raddr;
  logic [DW+LANES-1:0]    a_wdata, a_rdata;
  logic [3*LANES-1:0]     b_wdata, b_rdata;
  logic [AW-1:0]          bottom_addr_q;   // buffer B's write address, a cycle late (see below)

  sdp_ram #(.WIDTH (DW + LANES), .DEPTH (DEPTH)) u_buf_a (
    .clk_i (clk_i), .we_i (a_we), .waddr_i (a_waddr), .wdata_i (a_wdata),
    .re_i (a_re), .raddr_i (a_raddr), .rdata_o (a_rdata)
  );
  sdp_ram #(.WIDTH (3 * LANES), .DEPTH (DEPTH)) u_buf_b (
    .clk_i (clk_i), .we_i (b_we), .waddr_i (bottom_addr_q), .wdata_i (b_wdata),
    .re_i (b_re), .raddr_i (b_raddr), .rdata_o (b_rdata)
  );

  // The even pixel's beats of the current row, and the top row's best read back for them.
  logic [R-1:0][DW-1:0]       even_q;
  logic [R-1:0][DW+LANES-1:0] top_q;
  logic                       top_pending_q;
  logic [QW-1:0]              top_q_q;
  logic [DW+LANES-1:0]        top;

  assign top = (top_pending_q && top_q_q == q_q) ? a_rdata : top_q[q_q];

  // The window's result, in two registered stages so that no path holds two comparisons:
  // when the bottom row's odd beat arrives, the top row's best against (1,0); one cycle
  // later, that against (1,1).
  logic [LANES-1:0][31:0] best0, best1, best2, cur;
  logic [LANES-1:0][1:0]  idx0, idx1, idx2;
  logic [LANES-1:0]       top_idx;
  logic [LANES-1:0][31:0] best1_q, cur_q;
  logic [LANES-1:0][1:0]  idx1_q;

  always_comb begin
    for (int l = 0; l < LANES; l++) begin
      cur[l]     = beat_data[32*l +: 32];
      // Top row: (0,0) then (0,1).
      top_idx[l] = wins(cur[l], even_q[q_q][32*l +: 32]);
      best0[l]   = top[32*l +: 32];
      idx0[l]    = {1'b0, top[DW + l]};
      // Bottom row: (1,0), then (1,1).
      best1[l]   = wins(even_q[q_q][32*l +: 32], best0[l]) ? even_q[q_q][32*l +: 32] : best0[l];
      idx1[l]    = wins(even_q[q_q][32*l +: 32], best0[l]) ? 2'd2 : idx0[l];
      best2[l]   = wins(cur_q[l], best1_q[l]) ? cur_q[l] : best1_q[l];
      idx2[l]    = wins(cur_q[l], best1_q[l]) ? 2'd3 : idx1_q[l];
    end
  end

  logic x_beat, top_write, bottom_read, bottom_done;
  assign x_beat      = in_fire && state_q == TakeX && in_window;
  assign top_write   = x_beat && !par_q && !even_px;
  assign bottom_read = x_beat && par_q && even_px;
  assign bottom_done = x_beat && par_q && !even_px;

  always_comb begin
    a_we    = 1'b0;
    a_waddr = addr;
    a_wdata = '0;
    if (top_write) begin
      a_we = 1'b1;
      for (int l = 0; l < LANES; l++) begin
        a_wdata[32*l +: 32] = top_idx[l] ? cur[l] : even_q[q_q][32*l +: 32];
        a_wdata[DW + l]     = top_idx[l];
      end
    end else if (in_fire && state_q == TakeDy) begin
      a_we    = 1'b1;
      a_wdata = {{LANES{1'b0}}, beat_data};
    end
    b_we = bp_i && bottom_pending_q;
    for (int l = 0; l < LANES; l++) b_wdata[3*l +: 3] = {fp32_positive(best2[l]), idx2[l]};
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) bottom_pending_q <= 1'b0;
    else         bottom_pending_q <= bottom_done;
    if (bottom_done) begin
      best1_q       <= best1;
      idx1_q        <= idx1;
      cur_q         <= cur;
      bottom_addr_q <= addr;
    end
  end

  // ---- BP emission: two dx rows (three with the zero row of an odd height) ------------------
  logic [15:0]   e_px_q, e_row_q, e_rows;
  logic [QW-1:0] e_q_q;
  logic          e_issue, e_last;
  logic [15:0]   e_ox;
  logic [AW-1:0] e_addr;
  assign e_rows  = (last_oy && h_i[0]) ? 16'd3 : 16'd2;
  assign e_issue = state_q == Emit && room;
  assign e_last  = 32'(e_q_q) == R - 1 && e_px_q == w_last_q && e_row_q == e_rows - 16'd1;
  assign e_ox    = e_px_q >> 1;
  assign e_addr  = AW'(32'(e_ox) * R + 32'(e_q_q));

  assign a_re    = bottom_read || e_issue;
  assign a_raddr = e_issue ? e_addr : addr;
  assign b_re    = e_issue;
  assign b_raddr = e_addr;

  // What the emitted beat selects, one cycle later with the buffers' data.
  logic       e_zero_q;      // odd trailing column or the zero row
  logic [1:0] e_sel_q;       // the scan position of this dx pixel in its window
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      emit_pending_q <= 1'b0;
    end else begin
      emit_pending_q <= e_issue;
    end
    e_zero_q <= e_row_q == 16'd2 || e_px_q >= (wo << 1);
    e_sel_q  <= {e_row_q[0], e_px_q[0]};
  end

  // The credits: a result starts on its way to the FIFO (e_issue, bottom_done), one
  // leaves it, and a BP window result goes to buffer B instead. The FIFO's pop depends
  // on the store side's ready, the latest input, so it only selects between two counts.
  logic [$clog2(FIFO_DEPTH):0] used_kept;
  assign used_kept = used_q + ($bits(used_q))'(e_issue) + ($bits(used_q))'(bottom_done)
                            - ($bits(used_q))'(bp_i && bottom_pending_q);
  always_ff @(posedge clk_i) begin
    if (!rst_ni)                        used_q <= '0;
    else if (out_valid_o && out_ready_i) used_q <= used_kept - 1'b1;
    else                                used_q <= used_kept;
  end

  logic [DW-1:0] dx_beat;
  always_comb begin
    for (int l = 0; l < LANES; l++) begin
      dx_beat[32*l +: 32] = (!e_zero_q && b_rdata[3*l +: 2] == e_sel_q && (!mask_i || b_rdata[3*l + 2]))
                            ? a_rdata[32*l +: 32] : 32'd0;
    end
  end

  always_comb begin
    fifo_valid = 1'b0;
    fifo_data  = '0;
    if (emit_pending_q) begin
      fifo_valid = 1'b1;
      fifo_data  = dx_beat;
    end else if (!bp_i && bottom_pending_q) begin
      fifo_valid = 1'b1;
      fifo_data  = best2;
    end
  end

  // ---- counters -------------------------------------------------------------------------------
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q       <= TakeX;
      q_q           <= '0;
      px_q          <= '0;
      par_q         <= 1'b0;
      oy_q          <= '0;
      top_pending_q <= 1'b0;
      e_q_q         <= '0;
      e_px_q        <= '0;
      e_row_q       <= '0;
    end else begin
      top_pending_q <= bottom_read;
      if (top_pending_q) top_q[top_q_q] <= a_rdata;
      if (bottom_read) top_q_q <= q_q;
      if (x_beat && even_px) even_q[q_q] <= beat_data;

      if (in_fire) begin
        q_q <= last_q ? '0 : q_q + 1'b1;
        if (last_q) begin
          px_q <= last_px ? '0 : px_q + 16'd1;
          if (last_px) begin
            if (state_q == TakeX) begin
              par_q <= !par_q;
              if (par_q) begin
                if (bp_i) begin
                  state_q <= TakeDy;
                end else begin
                  oy_q <= last_oy ? '0 : oy_q + 16'd1;
                end
              end
            end else begin
              state_q <= Emit;
            end
          end
        end
      end

      if (e_issue) begin
        e_q_q <= 32'(e_q_q) == R - 1 ? '0 : e_q_q + 1'b1;
        if (32'(e_q_q) == R - 1) begin
          e_px_q <= e_px_q == w_last_q ? '0 : e_px_q + 16'd1;
          if (e_px_q == w_last_q) e_row_q <= e_row_q + 16'd1;
        end
        if (e_last) begin
          e_row_q <= '0;
          state_q <= TakeX;
          oy_q    <= last_oy ? '0 : oy_q + 16'd1;
        end
      end
    end
  end

  logic unused;
  assign unused = fifo_ready;   // checked below

`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  always_ff @(posedge clk_i) begin
    if (armed && fifo_valid && !fifo_ready) $fatal(1, "pool_unit: output FIFO overflow");
  end
  a_credits: assert property (@(posedge clk_i) disable iff (!armed)
    32'(used_q) == 32'(fifo_count) + 32'(emit_pending_q) + 32'(bottom_pending_q))
    else $error("pool_unit: %0d credits used, %0d entries and %0d results pending", used_q, fifo_count,
                32'(emit_pending_q) + 32'(bottom_pending_q));
`endif

endmodule

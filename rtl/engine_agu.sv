/// Buffer-side address generator of the conv engine: walks one COMPUTE command and
/// produces one issue per cycle (docs/architecture.md, "Loop order inside one COMPUTE").
///
/// * FP: kernel positions (i, j) ascending, then the tile's output pixels row-major.
/// * BP: the same with (i, j) descending (the 180-degree flip). With stride 2 the
///   output pixels go phase by phase (y % 2, x % 2) and each phase visits only the
///   positions of matching parity; a phase with none issues +0 writes (`zero_o`).
/// * WU: output pixels row-major, then kernel positions ascending.
///
/// Every issue names the IB pixel to read (or `pad_o`: a zero operand made on chip),
/// the OB pixel and the WB entry. `done_o` pulses for one cycle, without an issue,
/// after the last issue of the command.
module engine_agu #(
  parameter int unsigned IB_AW = 11,
  parameter int unsigned OB_AW = 11,
  parameter int unsigned WB_AW = 10
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// Start walking `cmd_i` (a COMPUTE command); ignored while busy.
  input  logic                        start_i,
  input  engine_cmd_pkg::engine_cmd_t cmd_i,
  /// A command is being walked.
  output logic                        busy_o,
  /// One issue per cycle: valid/ready.
  output logic                        issue_valid_o,
  input  logic                        issue_ready_i,
  /// IB pixel address, or a padding position (`pad_o`) whose operand is +0.
  output logic [IB_AW-1:0]            ib_addr_o,
  output logic                        pad_o,
  /// OB pixel address: the output word (FP/BP) or the dy pixel (WU).
  output logic [OB_AW-1:0]            ob_addr_o,
  /// WB entry: the weights (FP/BP) or dW words (WU) of this kernel position.
  output logic [WB_AW-1:0]            wb_entry_o,
  /// First term of its words: add to +0 instead of the stored value.
  output logic                        first_o,
  /// No kernel position reaches these pixels: write +0.
  output logic                        zero_o,
  /// The walk of the command is complete (one cycle, no issue).
  output logic                        done_o
);

  import engine_cmd_pkg::*;

  // Each unit reads only the fields of the shared command format that concern it.
  /* verilator lint_off UNUSEDSIGNAL */
  engine_cmd_t       cmd_q;
  /* verilator lint_on UNUSEDSIGNAL */
  logic              running_q;
  logic [1:0]        ph_q;        // stride-2 BP phase {y % 2, x % 2}
  logic [2:0]        ti_q, tj_q;  // kernel-position counters
  logic [11:0]       qy_q, qx_q;  // pixel counters within the phase

  // ---- per-command and per-phase quantities ----------------------------------------
  logic              is_bp, is_wu, bp2;
  logic              py, px;
  logic [11:0]       rows_ph, cols_ph;
  logic signed [4:0] i_start, j_start;
  logic [2:0]        n_i, n_j;
  logic              zero_phase, empty_phase, last_phase;
  logic [2:0]        n_i_walk, n_j_walk;

  always_comb begin
    is_bp   = cmd_q.mode == MODE_BP;
    is_wu   = cmd_q.mode == MODE_WU;
    bp2     = is_bp && (cmd_q.stride == 2'd2);
    py      = bp2 ? ph_q[1] : 1'b0;
    px      = bp2 ? ph_q[0] : 1'b0;
    // ceil((rows - phase) / 2), in 13 bits so that 4095 rows do not wrap
    rows_ph = bp2 ? 12'(({1'b0, cmd_q.out_rows} - 13'(py) + 13'd1) >> 1) : cmd_q.out_rows;
    cols_ph = bp2 ? 12'(({1'b0, cmd_q.out_w}    - 13'(px) + 13'd1) >> 1) : cmd_q.out_w;
    // BP walks i from the largest position whose parity matches the phase:
    // (y + pad - i) must be even, and the tile's first row is even.
    i_start = 5'(cmd_q.k) - 5'sd1 - (bp2 ? 5'(({4'd0, py} + 5'(cmd_q.pad) + 5'(cmd_q.k) - 5'd1) & 5'd1) : 5'sd0);
    j_start = 5'(cmd_q.k) - 5'sd1 - (bp2 ? 5'(({4'd0, px} + 5'(cmd_q.pad) + 5'(cmd_q.k) - 5'd1) & 5'd1) : 5'sd0);
    n_i     = !bp2 ? cmd_q.k : (i_start < 0 ? 3'd0 : 3'(i_start >>> 1) + 3'd1);
    n_j     = !bp2 ? cmd_q.k : (j_start < 0 ? 3'd0 : 3'(j_start >>> 1) + 3'd1);
    zero_phase  = (n_i == 3'd0) || (n_j == 3'd0);
    empty_phase = (rows_ph == 12'd0) || (cols_ph == 12'd0);
    last_phase  = !bp2 || (ph_q == 2'd3);
    n_i_walk    = zero_phase ? 3'd1 : n_i;
    n_j_walk    = zero_phase ? 3'd1 : n_j;
  end

  // ---- coordinates of the current issue ----------------------------------------------
  logic signed [15:0] ki, kj;           // kernel position
  logic signed [15:0] out_row, out_col; // global output row, column
  logic signed [15:0] in_row, in_col;   // global row, column of the IB image
  logic signed [15:0] stride_s, pad_s;

  always_comb begin
    stride_s = 16'(cmd_q.stride);
    pad_s    = 16'(cmd_q.pad);
    if (is_bp) begin
      ki = bp2 ? 16'(i_start) - 16'sd2 * 16'(ti_q) : 16'(cmd_q.k) - 16'sd1 - 16'(ti_q);
      kj = bp2 ? 16'(j_start) - 16'sd2 * 16'(tj_q) : 16'(cmd_q.k) - 16'sd1 - 16'(tj_q);
    end else begin
      ki = 16'(ti_q);
      kj = 16'(tj_q);
    end
    out_row = 16'(cmd_q.out_row0) + (bp2 ? 16'sd2 * 16'(qy_q) + 16'(py) : 16'(qy_q));
    out_col = bp2 ? 16'sd2 * 16'(qx_q) + 16'(px) : 16'(qx_q);
    if (is_bp) begin
      // dx(y, x) reads dy((y + pad - i) / s, (x + pad - j) / s); the phase makes it exact.
      in_row = (out_row + pad_s - ki) >>> (bp2 ? 1 : 0);
      in_col = (out_col + pad_s - kj) >>> (bp2 ? 1 : 0);
    end else begin
      in_row = stride_s * out_row + ki - pad_s;
      in_col = stride_s * out_col + kj - pad_s;
    end
  end

  always_comb begin
    pad_o      = zero_phase || in_row < 0 || in_row >= $signed({4'd0, cmd_q.in_h})
                 || in_col < 0 || in_col >= $signed({4'd0, cmd_q.in_w});
    ib_addr_o  = IB_AW'((in_row - 16'(cmd_q.ib_row0)) * 16'(cmd_q.in_w) + in_col);
    ob_addr_o  = OB_AW'((out_row - 16'(cmd_q.out_row0)) * 16'(cmd_q.out_w) + out_col);
    wb_entry_o = WB_AW'(16'(cmd_q.wb_base) + ki * 16'(cmd_q.k) + kj);
    zero_o     = zero_phase;
    first_o    = cmd_q.acc_init && (is_wu ? (qy_q == 12'd0 && qx_q == 12'd0)
                                          : (ti_q == 3'd0 && tj_q == 3'd0));
  end

  // ---- walk ----------------------------------------------------------------------------
  logic advance, wrap_qx, wrap_qy, wrap_tj, wrap_ti, finished;

  assign busy_o        = running_q;
  assign issue_valid_o = running_q && !(!is_wu && empty_phase);
  assign advance       = running_q && (issue_valid_o ? issue_ready_i : 1'b1);

  always_comb begin
    if (is_wu) begin
      wrap_tj  = tj_q + 3'd1 == cmd_q.k;
      wrap_ti  = ti_q + 3'd1 == cmd_q.k;
      wrap_qx  = qx_q + 12'd1 == cmd_q.out_w;
      wrap_qy  = qy_q + 12'd1 == cmd_q.out_rows;
      finished = wrap_tj && wrap_ti && wrap_qx && wrap_qy;
    end else begin
      wrap_qx  = empty_phase || qx_q + 12'd1 == cols_ph;
      wrap_qy  = empty_phase || qy_q + 12'd1 == rows_ph;
      wrap_tj  = empty_phase || tj_q + 3'd1 == n_j_walk;
      wrap_ti  = empty_phase || ti_q + 3'd1 == n_i_walk;
      finished = wrap_qx && wrap_qy && wrap_tj && wrap_ti && last_phase;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      running_q <= 1'b0;
      done_o    <= 1'b0;
      ph_q      <= '0;
      ti_q      <= '0;
      tj_q      <= '0;
      qy_q      <= '0;
      qx_q      <= '0;
    end else begin
      done_o <= 1'b0;
      if (!running_q) begin
        if (start_i) begin
          running_q <= 1'b1;
          ph_q      <= '0;
          ti_q      <= '0;
          tj_q      <= '0;
          qy_q      <= '0;
          qx_q      <= '0;
        end
      end else if (advance) begin
        if (finished) begin
          running_q <= 1'b0;
          done_o    <= 1'b1;
        end else if (is_wu) begin
          // pixels row-major outside, kernel positions inside
          tj_q <= wrap_tj ? 3'd0 : tj_q + 3'd1;
          if (wrap_tj) ti_q <= wrap_ti ? 3'd0 : ti_q + 3'd1;
          if (wrap_tj && wrap_ti) qx_q <= wrap_qx ? 12'd0 : qx_q + 12'd1;
          if (wrap_tj && wrap_ti && wrap_qx) qy_q <= qy_q + 12'd1;
        end else begin
          // phases outside, kernel positions, then pixels row-major inside
          qx_q <= wrap_qx ? 12'd0 : qx_q + 12'd1;
          if (wrap_qx) qy_q <= wrap_qy ? 12'd0 : qy_q + 12'd1;
          if (wrap_qx && wrap_qy) tj_q <= wrap_tj ? 3'd0 : tj_q + 3'd1;
          if (wrap_qx && wrap_qy && wrap_tj) ti_q <= wrap_ti ? 3'd0 : ti_q + 3'd1;
          if (wrap_qx && wrap_qy && wrap_tj && wrap_ti) ph_q <= ph_q + 2'd1;
        end
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (!running_q && start_i) cmd_q <= cmd_i;
  end

  // A read of an image row that IB does not hold would silently return another row.
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  always_ff @(posedge clk_i) begin
    if (armed && issue_valid_o && issue_ready_i && !pad_o) begin
      assert (in_row >= $signed({4'd0, cmd_q.ib_row0})
              && in_row < $signed({4'd0, cmd_q.ib_row0}) + $signed({4'd0, cmd_q.ib_rows}))
        else $error("engine_agu: reads image row %0d, IB holds rows %0d..%0d", in_row,
                    cmd_q.ib_row0, cmd_q.ib_row0 + cmd_q.ib_rows - 1);
    end
  end
`endif

endmodule

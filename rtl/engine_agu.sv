/// Buffer-side address generator of the conv engine: walks one COMPUTE command and
/// produces one issue per cycle (docs/architecture.md, "Loop order inside one COMPUTE").
///
/// * FP: kernel positions (i, j) ascending, then the tile's output pixels row-major.
/// * BP: the same with (i, j) descending (the 180-degree flip). With stride 2 the
///   output pixels go phase by phase (y % 2, x % 2) and each phase visits only the
///   positions of matching parity; a phase with none issues +0 writes (`zero_o`).
/// * WU: output pixels row-major, then kernel positions ascending, then the command's
///   dW blocks (`blocks`: channel tile b at IB pixel b * ib_rows * in_w, its words from
///   WB entry wb_base + b * k * k), so that a pixel offers blocks * k * k independent
///   words to the accumulate pipeline.
///
/// Every issue names the IB pixel to read (or `pad_o`: a zero operand made on chip),
/// the OB pixel and the WB entry, with the fields of its command the issue side needs.
/// After a command's last issue comes one entry without an issue, marked `last_o`.
///
/// Pipelined for the 200 MHz target: a walker steps the loop counters (its per-phase
/// bounds registered), `eftrain_pkg::ENGINE_AGU_LATENCY` register stages turn each
/// position into its addresses (each multiply registered on both sides, for a DSP
/// slice), and a FIFO holds the entries. The issue side reads registered entries, so no
/// loop counter, adder chain or multiplier sits on its path. The walker runs ahead by at
/// most `ENGINE_AGU_DEPTH` entries (credits, so the FIFO never overflows), and it takes
/// the next command while the last entries of the previous one are still on their way,
/// so consecutive commands issue back to back as before.
module engine_agu #(
  parameter int unsigned IB_AW = 11,
  parameter int unsigned OB_AW = 11,
  parameter int unsigned WB_AW = 10
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// The head of the command queue: `cmd_i` holds a COMPUTE command.
  input  logic                        cmd_valid_i,
  input  engine_cmd_pkg::engine_cmd_t cmd_i,
  /// Start walking `cmd_i`; taken only while `start_ready_o` is high.
  input  logic                        start_i,
  /// Not walking, and the head's first phase bounds are registered.
  output logic                        start_ready_o,
  /// A command is being walked (or its `last` entry waits for a credit).
  output logic                        walking_o,
  /// No entry in the pipeline or the FIFO.
  output logic                        empty_o,
  /// Entries, in walk order: valid/ready.
  output logic                        out_valid_o,
  input  logic                        out_ready_i,
  /// The command's closing entry: no issue; the fields below except the command's are
  /// not meaningful.
  output logic                        last_o,
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
  /// Fields of the entry's command: the IB and OB halves, WU, the flags that release
  /// its buffers when it ends.
  output logic                        ib_half_o,
  output logic                        ob_half_o,
  output logic                        wu_o,
  output logic                        ob_done_o,
  output logic                        ib_release_o
);

  import engine_cmd_pkg::*;
  import eftrain_pkg::ENGINE_AGU_DEPTH;

  localparam int unsigned CW = $clog2(ENGINE_AGU_DEPTH) + 1;   // credit counter width

  // ---- per-phase bounds --------------------------------------------------------------
  typedef struct packed {
    logic              py, px;             // stride-2 BP phase {y % 2, x % 2}
    logic signed [4:0] i_start, j_start;   // BP: first kernel position of the phase
    logic [11:0]       rows_last, cols_last;
    logic [2:0]        i_last, j_last;     // kernel positions walked in the phase, minus one
    logic [3:0]        b_last;             // WU: dW blocks walked, minus one; else 0
    logic [5:0]        kk;                 // WB entries of one block: k * k
    logic              zero, empty, last;  // no kernel position; no pixel; the last phase
  } phase_t;

  // The bounds of phase `ph` of command `c`. Registered when the walk enters the phase,
  // so the walker compares its counters with flops.
  /* verilator lint_off UNUSEDSIGNAL */
  function automatic phase_t phase_of(engine_cmd_t c, logic [1:0] ph);
    phase_t      p;
    logic        bp2;
    logic [11:0] rows, cols;
    logic [2:0]  n_i, n_j;
    bp2  = c.mode == MODE_BP && c.stride == 2'd2;
    p.py = bp2 && ph[1];
    p.px = bp2 && ph[0];
    // ceil((rows - phase) / 2), in 13 bits so that 4095 rows do not wrap
    rows = bp2 ? 12'(({1'b0, c.out_rows} - 13'(p.py) + 13'd1) >> 1) : c.out_rows;
    cols = bp2 ? 12'(({1'b0, c.out_w}    - 13'(p.px) + 13'd1) >> 1) : c.out_w;
    // BP walks i from the largest position whose parity matches the phase:
    // (y + pad - i) must be even, and the tile's first row is even.
    p.i_start = 5'(c.k) - 5'sd1 - (bp2 ? 5'(({4'd0, p.py} + 5'(c.pad) + 5'(c.k) - 5'd1) & 5'd1) : 5'sd0);
    p.j_start = 5'(c.k) - 5'sd1 - (bp2 ? 5'(({4'd0, p.px} + 5'(c.pad) + 5'(c.k) - 5'd1) & 5'd1) : 5'sd0);
    n_i       = !bp2 ? c.k : (p.i_start < 0 ? 3'd0 : 3'(p.i_start >>> 1) + 3'd1);
    n_j       = !bp2 ? c.k : (p.j_start < 0 ? 3'd0 : 3'(p.j_start >>> 1) + 3'd1);
    p.zero    = (n_i == 3'd0) || (n_j == 3'd0);
    p.empty   = (rows == 12'd0) || (cols == 12'd0);
    p.last    = !bp2 || (ph == 2'd3);
    p.rows_last = rows - 12'd1;
    p.cols_last = cols - 12'd1;
    // A phase without kernel positions still walks its pixels once, to write +0.
    p.i_last  = p.zero ? 3'd0 : n_i - 3'd1;
    p.j_last  = p.zero ? 3'd0 : n_j - 3'd1;
    p.b_last  = (c.mode == MODE_WU && c.blocks != '0) ? c.blocks - 4'd1 : 4'd0;
    p.kk      = 6'(c.k) * 6'(c.k);
    return p;
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  // ---- walker ------------------------------------------------------------------------
  // Each unit reads only the fields of the shared command format that concern it.
  /* verilator lint_off UNUSEDSIGNAL */
  engine_cmd_t cmd_q;
  /* verilator lint_on UNUSEDSIGNAL */
  logic        walking_q, closing_q;     // walking; the closing entry waits for a credit
  logic        bp_q, bp2_q, wu_q;
  logic [1:0]  ph_q;
  logic [2:0]  ti_q, tj_q;               // kernel-position counters
  logic [11:0] qy_q, qx_q;               // pixel counters within the phase
  logic [3:0]  tb_q;                     // WU: the dW block
  logic [15:0] blk_row_q, blk_wb_q;      // WU: its first IB row (tb * ib_rows), WB offset (tb * k*k)
  phase_t      phase_q;
  logic [CW-1:0] inflight_q;             // entries emitted and not yet taken
  logic        credit, step, close, pop;
  logic        wrap_qx, wrap_qy, wrap_tj, wrap_ti, wrap_tb, phase_done, finished;

  always_comb begin
    credit     = inflight_q != CW'(ENGINE_AGU_DEPTH);
    step       = walking_q && credit;
    close      = closing_q && credit;
    wrap_qx    = phase_q.empty || qx_q == phase_q.cols_last;
    wrap_qy    = phase_q.empty || qy_q == phase_q.rows_last;
    wrap_tj    = phase_q.empty || tj_q == phase_q.j_last;
    wrap_ti    = phase_q.empty || ti_q == phase_q.i_last;
    wrap_tb    = phase_q.empty || tb_q == phase_q.b_last;
    phase_done = wrap_qx && wrap_qy && wrap_tj && wrap_ti && wrap_tb;
    finished   = phase_done && phase_q.last;
  end

  assign walking_o = walking_q || (closing_q && !credit);
  assign empty_o   = inflight_q == '0;

  // The first phase's bounds of the queue's head, registered while it waits, so that a
  // start loads flops instead of computing them from the queue's output (its adders and
  // comparisons would follow the queue's read on the start path). The head stays the
  // same until it starts, so the copy is current one cycle after the head appears: a
  // command that reaches an empty queue starts a cycle later; one that was queued behind
  // another loses nothing, since the walk of the other takes at least that cycle.
  phase_t head_phase_q;
  logic   head_phase_current_q;
  logic   take;

  assign start_ready_o = !walking_o && head_phase_current_q;
  assign take          = start_i && start_ready_o;

  always_ff @(posedge clk_i) begin
    head_phase_q <= phase_of(cmd_i, 2'd0);
    if (!rst_ni) head_phase_current_q <= 1'b0;
    else         head_phase_current_q <= cmd_valid_i && !take;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      walking_q <= 1'b0;
      closing_q <= 1'b0;
    end else begin
      if (close) closing_q <= 1'b0;
      if (take) begin
        walking_q <= 1'b1;
      end else if (step && finished) begin
        walking_q <= 1'b0;
        closing_q <= 1'b1;
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (take) begin
      cmd_q   <= cmd_i;
      bp_q    <= cmd_i.mode == MODE_BP;
      bp2_q   <= cmd_i.mode == MODE_BP && cmd_i.stride == 2'd2;
      wu_q    <= cmd_i.mode == MODE_WU;
      ph_q    <= '0;
      phase_q <= head_phase_q;
      ti_q    <= '0;
      tj_q    <= '0;
      qy_q    <= '0;
      qx_q    <= '0;
      tb_q      <= '0;
      blk_row_q <= '0;
      blk_wb_q  <= '0;
    end else if (step && !finished) begin
      if (wu_q) begin
        // pixels row-major outside, kernel positions, then blocks inside; the blocks'
        // offsets step by addition (no multiplier)
        tb_q      <= wrap_tb ? 4'd0 : tb_q + 4'd1;
        blk_row_q <= wrap_tb ? 16'd0 : blk_row_q + 16'(cmd_q.ib_rows);
        blk_wb_q  <= wrap_tb ? 16'd0 : blk_wb_q + 16'(phase_q.kk);
        if (wrap_tb) tj_q <= wrap_tj ? 3'd0 : tj_q + 3'd1;
        if (wrap_tb && wrap_tj) ti_q <= wrap_ti ? 3'd0 : ti_q + 3'd1;
        if (wrap_tb && wrap_tj && wrap_ti) qx_q <= wrap_qx ? 12'd0 : qx_q + 12'd1;
        if (wrap_tb && wrap_tj && wrap_ti && wrap_qx) qy_q <= qy_q + 12'd1;
      end else begin
        // phases outside, kernel positions, then pixels row-major inside
        qx_q <= wrap_qx ? 12'd0 : qx_q + 12'd1;
        if (wrap_qx) qy_q <= wrap_qy ? 12'd0 : qy_q + 12'd1;
        if (wrap_qx && wrap_qy) tj_q <= wrap_tj ? 3'd0 : tj_q + 3'd1;
        if (wrap_qx && wrap_qy && wrap_tj) ti_q <= wrap_ti ? 3'd0 : ti_q + 3'd1;
        if (phase_done) begin
          ph_q    <= ph_q + 2'd1;
          phase_q <= phase_of(cmd_q, ph_q + 2'd1);
        end
      end
    end
  end

  // ---- stage 1 (the step): the position's coordinates ------------------------------
  typedef struct packed {
    logic last, first, zero;
    logic ib_half, ob_half, wu, ob_done, ib_release;
  } tag_t;

  logic               emit;
  tag_t               tag1;
  logic signed [15:0] ki, kj;            // kernel position
  logic [12:0]        ob_row, ob_col;    // output pixel within the tile
  logic signed [15:0] out_row;           // global output row

  always_comb begin
    // An empty stride-2 phase steps through without an issue.
    emit            = (step && !phase_q.empty) || close;
    tag1.last       = close;
    tag1.first      = cmd_q.acc_init && (wu_q ? (qy_q == 12'd0 && qx_q == 12'd0) : (ti_q == 3'd0 && tj_q == 3'd0));
    tag1.zero       = phase_q.zero;
    tag1.ib_half    = cmd_q.ib_half;
    tag1.ob_half    = cmd_q.ob_half;
    tag1.wu         = wu_q;
    tag1.ob_done    = cmd_q.ob_done;
    tag1.ib_release = cmd_q.ib_release;
    if (bp_q) begin
      ki = bp2_q ? 16'(phase_q.i_start) - 16'sd2 * 16'(ti_q) : 16'(cmd_q.k) - 16'sd1 - 16'(ti_q);
      kj = bp2_q ? 16'(phase_q.j_start) - 16'sd2 * 16'(tj_q) : 16'(cmd_q.k) - 16'sd1 - 16'(tj_q);
    end else begin
      ki = 16'(ti_q);
      kj = 16'(tj_q);
    end
    // 2q + phase is the phase's pixel q.
    ob_row  = bp2_q ? {qy_q, phase_q.py} : 13'(qy_q);
    ob_col  = bp2_q ? {qx_q, phase_q.px} : 13'(qx_q);
    out_row = 16'(cmd_q.out_row0) + 16'(ob_row);
  end

  // ---- stage 2: input pixel, WB offset; the OB row times its width -----------------
  logic               valid2_q;
  tag_t               tag2_q;
  logic               stage2_bp_q;       // the entry's command is BP
  /* verilator lint_off UNUSEDSIGNAL */
  engine_cmd_t        cmd2_q, cmd3_q, cmd4_q;   // the entry's command, for its geometry
  /* verilator lint_on UNUSEDSIGNAL */
  logic signed [15:0] ki2_q, kj2_q, out_row2_q, out_col2_q;
  logic [12:0]        ob_row2_q;
  logic [15:0]        blk_row2_q, blk_wb2_q;
  logic signed [15:0] in_row, in_col, stride_s, pad_s;

  always_ff @(posedge clk_i) begin
    cmd2_q     <= cmd_q;
    tag2_q     <= tag1;
    stage2_bp_q <= bp_q;
    ki2_q      <= ki;
    kj2_q      <= kj;
    out_row2_q <= out_row;
    out_col2_q <= 16'(ob_col);
    ob_row2_q  <= ob_row;
    blk_row2_q <= blk_row_q;
    blk_wb2_q  <= blk_wb_q;
  end

  always_comb begin
    stride_s = 16'(cmd2_q.stride);
    pad_s    = 16'(cmd2_q.pad);
    if (stage2_bp_q) begin
      // dx(y, x) reads dy((y + pad - i) / s, (x + pad - j) / s); the phase makes it exact.
      in_row = (out_row2_q + pad_s - ki2_q) >>> (cmd2_q.stride == 2'd2 ? 1 : 0);
      in_col = (out_col2_q + pad_s - kj2_q) >>> (cmd2_q.stride == 2'd2 ? 1 : 0);
    end else begin
      in_row = stride_s * out_row2_q + ki2_q - pad_s;
      in_col = stride_s * out_col2_q + kj2_q - pad_s;
    end
  end

  // ---- stage 3: padding, IB row within the buffer, OB address, WB entry ------------
  logic               valid3_q;
  tag_t               tag3_q;
  logic signed [15:0] in_row3_q, in_col3_q, wb_off3_q;
  logic [15:0]        blk_row3_q;
  logic [OB_AW-1:0]   out_col3_q;
  logic [OB_AW-1:0]   ob_prod3_q;

  always_ff @(posedge clk_i) begin
    cmd3_q     <= cmd2_q;
    tag3_q     <= tag2_q;
    in_row3_q  <= in_row;
    in_col3_q  <= in_col;
    wb_off3_q  <= ki2_q * 16'(cmd2_q.k) + kj2_q + 16'(blk_wb2_q);
    blk_row3_q <= blk_row2_q;
    out_col3_q <= OB_AW'(out_col2_q);
    ob_prod3_q <= OB_AW'(ob_row2_q * 13'(cmd2_q.out_w));
  end

  // ---- stage 4: the IB row times the image width -----------------------------------
  logic               valid4_q;
  tag_t               tag4_q;
  logic               pad4_q;
  logic [IB_AW-1:0]   ib_row4_q, in_col4_q;
  logic [OB_AW-1:0]   ob_addr4_q;
  logic [WB_AW-1:0]   wb_entry4_q;

  always_ff @(posedge clk_i) begin
    cmd4_q      <= cmd3_q;
    tag4_q      <= tag3_q;
    pad4_q      <= tag3_q.zero || in_row3_q < 0 || in_row3_q >= $signed({4'd0, cmd3_q.in_h})
                   || in_col3_q < 0 || in_col3_q >= $signed({4'd0, cmd3_q.in_w});
    // The row within IB: within its channel tile, after the tiles of the earlier blocks.
    ib_row4_q   <= IB_AW'(in_row3_q - 16'(cmd3_q.ib_row0) + 16'(blk_row3_q));
    in_col4_q   <= IB_AW'(in_col3_q);
    ob_addr4_q  <= ob_prod3_q + out_col3_q;
    wb_entry4_q <= WB_AW'(16'(cmd3_q.wb_base) + wb_off3_q);
  end

  // ---- stage 5: the IB address; into the FIFO ---------------------------------------
  logic               valid5_q;
  tag_t               tag5_q;
  logic               pad5_q;
  logic [IB_AW-1:0]   ib_prod5_q, in_col5_q;
  logic [OB_AW-1:0]   ob_addr5_q;
  logic [WB_AW-1:0]   wb_entry5_q;

  always_ff @(posedge clk_i) begin
    tag5_q      <= tag4_q;
    pad5_q      <= pad4_q;
    ib_prod5_q  <= IB_AW'(ib_row4_q * IB_AW'(cmd4_q.in_w));
    in_col5_q   <= in_col4_q;
    ob_addr5_q  <= ob_addr4_q;
    wb_entry5_q <= wb_entry4_q;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      valid2_q <= 1'b0;
      valid3_q <= 1'b0;
      valid4_q <= 1'b0;
      valid5_q <= 1'b0;
    end else begin
      valid2_q <= emit;
      valid3_q <= valid2_q;
      valid4_q <= valid3_q;
      valid5_q <= valid4_q;
    end
  end

  typedef struct packed {
    tag_t             tag;
    logic             pad;
    logic [IB_AW-1:0] ib_addr;
    logic [OB_AW-1:0] ob_addr;
    logic [WB_AW-1:0] wb_entry;
  } entry_t;

  entry_t fifo_in, fifo_out;
  logic   fifo_in_ready, unused_fifo_count;
  logic [$clog2(ENGINE_AGU_DEPTH):0] fifo_count;   // the credits bound it

  always_comb begin
    fifo_in.tag      = tag5_q;
    fifo_in.pad      = pad5_q;
    fifo_in.ib_addr  = ib_prod5_q + in_col5_q;
    fifo_in.ob_addr  = ob_addr5_q;
    fifo_in.wb_entry = wb_entry5_q;
  end

  stream_fifo #(.WIDTH($bits(entry_t)), .DEPTH(ENGINE_AGU_DEPTH)) u_fifo (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (valid5_q),
    .in_ready_o  (fifo_in_ready),
    .in_data_i   (fifo_in),
    .out_valid_o (out_valid_o),
    .out_ready_i (out_ready_i),
    .out_data_o  (fifo_out),
    .count_o     (fifo_count)
  );

  assign unused_fifo_count = ^fifo_count;
  assign pop = out_valid_o && out_ready_i;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) inflight_q <= '0;
    else         inflight_q <= inflight_q + CW'(emit) - CW'(pop);
  end

  always_comb begin
    last_o       = fifo_out.tag.last;
    first_o      = fifo_out.tag.first;
    zero_o       = fifo_out.tag.zero;
    ib_half_o    = fifo_out.tag.ib_half;
    ob_half_o    = fifo_out.tag.ob_half;
    wu_o         = fifo_out.tag.wu;
    ob_done_o    = fifo_out.tag.ob_done;
    ib_release_o = fifo_out.tag.ib_release;
    pad_o        = fifo_out.pad;
    ib_addr_o    = fifo_out.ib_addr;
    ob_addr_o    = fifo_out.ob_addr;
    wb_entry_o   = fifo_out.wb_entry;
  end

  // ---- assertions (simulation) ------------------------------------------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  always_ff @(posedge clk_i) begin
    if (armed) begin
      // The credits keep every entry in flight within the FIFO's depth.
      assert (!valid5_q || fifo_in_ready) else $error("engine_agu: FIFO overflow");
      // A read of an image row that IB does not hold would silently return another row.
      if (valid3_q && !tag3_q.last && !tag3_q.zero && !(in_row3_q < 0 || in_row3_q >= $signed({4'd0, cmd3_q.in_h})
                                                        || in_col3_q < 0 || in_col3_q >= $signed({4'd0, cmd3_q.in_w}))) begin
        assert (in_row3_q >= $signed({4'd0, cmd3_q.ib_row0})
                && in_row3_q < $signed({4'd0, cmd3_q.ib_row0}) + $signed({4'd0, cmd3_q.ib_rows}))
          else $error("engine_agu: reads image row %0d, IB holds rows %0d..%0d", in_row3_q,
                      cmd3_q.ib_row0, cmd3_q.ib_row0 + cmd3_q.ib_rows - 1);
      end
    end
  end
`endif

endmodule

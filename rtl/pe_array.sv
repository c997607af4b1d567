/// The TM x TN processing-element array of the conv engine: TM*TN fp32 multipliers and
/// TM*TN fp32 adders, shared by both modes (docs/architecture.md, docs/numerics.md).
///
/// * dot mode (FP, BP), `outer_i` low: lane m multiplies `a_i[n] * b_i[m][n]`, reduces
///   the TN products through a balanced pairwise tree of TN-1 adders (level 1 adds
///   products (0,1), (2,3), ...; each level adds adjacent pairs of the previous one),
///   and its last adder adds the tree result to `dot_acc_i[m]` (the stored partial sum,
///   or +0 on a first term), which the caller supplies
///   `eftrain_pkg::pe_dot_acc_delay(TN)` cycles after `mul_valid_i`. `dot_zero_i` (same
///   timing) replaces the tree result by +0.
/// * outer mode (WU), `outer_i` high: PE (m, n) multiplies `a_i[n] * b_i[m][n]` and its
///   own adder adds the product to `outer_acc_i[outer_half_i[m]][m][n]` (its dW word, from
///   the WB half lane m read, or +0), supplied `eftrain_pkg::PE_OUTER_ACC_DELAY` cycles
///   after `mul_valid_i`.
///
/// Results appear on `y_o` with `valid_o` one adder latency after the accumulate
/// operands: `y_o[m][TN-1]` is lane m's dot result, `y_o[m][n]` PE (m, n)'s outer
/// result. `outer_i` must not change while results are in flight.
module pe_array #(
  /// Output lanes (= TN; see conv_engine).
  parameter int unsigned TM = 8,
  /// Reduction width, a power of two >= 2.
  parameter int unsigned TN = 8
) (
  input  logic              clk_i,
  input  logic              rst_ni,
  /// Mode: 0 dot (FP/BP), 1 outer (WU); one copy per lane (the same value), so that no
  /// flop drives the whole array.
  input  logic [TM-1:0]     outer_i,
  /// Operands valid this cycle.
  input  logic              mul_valid_i,
  /// Per-column operand (input channel n).
  input  logic [TN-1:0][31:0]         a_i,
  /// Per-PE operand.
  input  logic [TM-1:0][TN-1:0][31:0] b_i,
  /// dot mode: lane m's partial sum (or +0 on a first term), pe_dot_acc_delay(TN)
  /// cycles after mul_valid_i.
  input  logic [TM-1:0][31:0]         dot_acc_i,
  /// dot mode: add +0 instead of the tree result (same timing as dot_acc_i).
  input  logic              dot_zero_i,
  /// outer mode: accumulate onto +0 instead of outer_acc_i (same timing as outer_acc_i);
  /// one copy per lane.
  input  logic [TM-1:0]     outer_first_i,
  /// outer mode: PE (m, n)'s dW word in either WB half, PE_OUTER_ACC_DELAY cycles after
  /// mul_valid_i, and per lane the half that holds it (the adder-input multiplexer
  /// chooses: outer, first, half, the two words and the dot-mode operand, one LUT6).
  input  logic [1:0][TM-1:0][TN-1:0][31:0] outer_acc_i,
  input  logic [TM-1:0]               outer_half_i,
  /// Results valid this cycle.
  output logic              valid_o,
  /// Adder outputs: dot result of lane m at [m][TN-1]; outer result of PE (m, n) at [m][n].
  output logic [TM-1:0][TN-1:0][31:0] y_o
);

  import eftrain_pkg::*;

  localparam int unsigned LEVELS = $clog2(TN);

  if (TN < 2 || (TN & (TN - 1)) != 0) begin : g_bad_tn
    $fatal(1, "pe_array: TN must be a power of two >= 2, got %0d", TN);
  end

  logic [TM-1:0][TN-1:0][31:0] prod;
  logic [TM-1:0][TN-1:0]       prod_valid;
  logic [TM-1:0][TN-1:0][31:0] add_a, add_b;
  logic [TM-1:0][TN-1:0]       add_in_valid, add_out_valid;
  logic [TM-1:0][TN-1:0][31:0] sum;   // adder outputs, by adder index
  logic [TM-1:0][TN-1:0][31:0] oacc;  // the dW word of the half read, or +0 on a first term
  always_comb begin
    for (int m = 0; m < TM; m++) begin
      for (int n = 0; n < TN; n++) oacc[m][n] = outer_first_i[m] ? 32'd0 : outer_acc_i[outer_half_i[m]][m][n];
    end
  end

  /// The column whose outer-mode accumulation adder `idx` does: the level-1 nodes take
  /// the even columns, the other adders the odd ones, the accumulate adder TN-1 its own.
  function automatic int unsigned outer_column(int unsigned idx);
    return idx < TN / 2 ? 2 * idx : 2 * (idx - TN / 2) + 1;
  endfunction

  for (genvar m = 0; m < TM; m++) begin : g_lane
    for (genvar n = 0; n < TN; n++) begin : g_pe
      fp32_mul u_mul (
        .clk_i   (clk_i),
        .rst_ni  (rst_ni),
        .valid_i (mul_valid_i),
        .a_i     (a_i[n]),
        .b_i     (b_i[m][n]),
        .valid_o (prod_valid[m][n]),
        .y_o     (prod[m][n])
      );
    end

    // Adder `idx` of lane m: in dot mode, tree node idx for idx < TN-1 (level l, position
    // k at idx = TN - TN/2^(l-1) + k) and the accumulate adder at idx = TN-1; in outer
    // mode, the accumulate adder of PE (m, outer_column(idx)). The level-1 node k adds
    // products 2k and 2k+1, and in outer mode serves column 2k, so its first operand is
    // the same in both modes and needs no multiplexer.
    for (genvar l = 1; l <= LEVELS; l++) begin : g_level
      localparam int unsigned OFFSET      = TN - (TN >> (l - 1));
      localparam int unsigned PREV_OFFSET = TN - (TN >> (l - 2 >= 0 ? l - 2 : 0));
      for (genvar k = 0; k < (TN >> l); k++) begin : g_node
        localparam int unsigned IDX = OFFSET + k;
        localparam int unsigned COL = outer_column(IDX);
        always_comb begin
          if (l == 1) begin
            add_a[m][IDX]        = prod[m][COL];
            add_b[m][IDX]        = outer_i[m] ? oacc[m][COL] : prod[m][2*k+1];
            add_in_valid[m][IDX] = prod_valid[m][COL];
          end else if (outer_i[m]) begin
            add_a[m][IDX]        = prod[m][COL];
            add_b[m][IDX]        = oacc[m][COL];
            add_in_valid[m][IDX] = prod_valid[m][COL];
          end else begin
            add_a[m][IDX]        = sum[m][PREV_OFFSET + 2*k];
            add_b[m][IDX]        = sum[m][PREV_OFFSET + 2*k + 1];
            add_in_valid[m][IDX] = add_out_valid[m][PREV_OFFSET + 2*k];
          end
        end
      end
    end

    // The accumulate adder serves column TN-1 in outer mode (outer_column(TN-1) = TN-1).
    always_comb begin
      if (outer_i[m]) begin
        add_a[m][TN-1]        = prod[m][TN-1];
        add_b[m][TN-1]        = oacc[m][TN-1];
        add_in_valid[m][TN-1] = prod_valid[m][TN-1];
      end else begin
        add_a[m][TN-1]        = dot_zero_i ? 32'd0 : sum[m][TN-2];
        add_b[m][TN-1]        = dot_acc_i[m];
        add_in_valid[m][TN-1] = add_out_valid[m][TN-2];
      end
    end

    for (genvar idx = 0; idx < TN; idx++) begin : g_adder
      fp32_add u_add (
        .clk_i   (clk_i),
        .rst_ni  (rst_ni),
        .valid_i (add_in_valid[m][idx]),
        .a_i     (add_a[m][idx]),
        .b_i     (add_b[m][idx]),
        .valid_o (add_out_valid[m][idx]),
        .y_o     (sum[m][idx])
      );
      assign y_o[m][outer_column(idx)] = sum[m][idx];
    end
  end

  assign valid_o = add_out_valid[0][TN-1];

endmodule

/// IEEE-754 binary32 adder with the core's numeric rules (docs/numerics.md, section 1):
/// round to nearest even, subnormal inputs read as zero, subnormal results flushed to
/// signed zero, canonical NaN, IEEE infinities and signed zeros.
///
/// Fully pipelined: one result per cycle, latency `eftrain_pkg::FP32_ADD_LATENCY` (3).
/// Stage 1 orders the operands by magnitude and aligns the smaller one (guard, round and
/// sticky bits); stage 2 adds or subtracts and counts leading zeros; stage 3 normalises,
/// rounds and packs. Mirrors `eftrain.fp32.add`.
module fp32_add (
  /// Clock.
  input  logic        clk_i,
  /// Active-low synchronous reset (clears the valid pipeline only).
  input  logic        rst_ni,
  /// `a_i` and `b_i` hold an operand pair this cycle.
  input  logic        valid_i,
  /// First operand.
  input  logic [31:0] a_i,
  /// Second operand.
  input  logic [31:0] b_i,
  /// `y_o` holds the sum of the pair given FP32_ADD_LATENCY cycles earlier.
  output logic        valid_o,
  /// Sum.
  output logic [31:0] y_o
);

  import eftrain_pkg::*;

  // The valid flag travels a delay line as long as the documented latency; the data
  // stages below must add up to the same number of registers (the tests check the
  // latency from the package against the outputs).
  logic [FP32_ADD_LATENCY-1:0] valid_pipe_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) valid_pipe_q <= '0;
    else         valid_pipe_q <= {valid_pipe_q[FP32_ADD_LATENCY-2:0], valid_i};
  end

  assign valid_o = valid_pipe_q[FP32_ADD_LATENCY-1];

`ifdef EFTRAIN_FAST_FP32
  // Simulation only: the sum from the host's double arithmetic (rtl/fp32_fast_pkg.sv),
  // through as many registers as the datapath below has.
  logic [1:0][31:0] fast_q;

  always_ff @(posedge clk_i) begin
    fast_q[0] <= fp32_fast_pkg::to_fp32(fp32_fast_pkg::to_double(a_i) + fp32_fast_pkg::to_double(b_i));
    fast_q[1] <= fast_q[0];
    y_o       <= fast_q[1];
  end
`else
  /// Significand plus guard, round and sticky bits.
  localparam int unsigned W = 24 + 3;

  // ---- stage 1: classify, order by magnitude, align --------------------------------
  logic        a_zero, b_zero, a_inf, b_inf, a_nan, b_nan;
  logic [23:0] a_sig, b_sig;
  logic        a_is_big;
  logic [7:0]  exp_big, exp_small, exp_diff;
  logic [W-1:0] sig_big, sig_small;
  logic [4:0]   shift;
  logic [2*W-1:0] shifted;  // {aligned significand, bits shifted out}

  always_comb begin
    a_zero = a_i[30:23] == 8'd0;  // zeros and subnormals alike
    b_zero = b_i[30:23] == 8'd0;
    a_inf  = (a_i[30:23] == 8'hFF) && (a_i[22:0] == 23'd0);
    b_inf  = (b_i[30:23] == 8'hFF) && (b_i[22:0] == 23'd0);
    a_nan  = (a_i[30:23] == 8'hFF) && (a_i[22:0] != 23'd0);
    b_nan  = (b_i[30:23] == 8'hFF) && (b_i[22:0] != 23'd0);
    a_sig  = a_zero ? 24'd0 : {1'b1, a_i[22:0]};
    b_sig  = b_zero ? 24'd0 : {1'b1, b_i[22:0]};
    // Zeros have exponent 0 and significand 0, so they order below every normal.
    a_is_big  = {a_i[30:23], a_sig} >= {b_i[30:23], b_sig};
    exp_big   = a_is_big ? a_i[30:23] : b_i[30:23];
    exp_small = a_is_big ? b_i[30:23] : a_i[30:23];
    sig_big   = {a_is_big ? a_sig : b_sig, 3'b000};
    sig_small = {a_is_big ? b_sig : a_sig, 3'b000};
    exp_diff  = exp_big - exp_small;
    // Beyond W positions every bit of the small operand is shifted out into the sticky.
    shift     = (exp_diff > 8'(W)) ? 5'(W) : exp_diff[4:0];
    shifted   = {sig_small, {W{1'b0}}} >> shift;
  end

  logic [W-1:0]      big_q, small_q;
  logic [7:0]        exp_q;
  logic              sign_q, subtract_q, nan_q, inf_q, inf_sign_q, zero_sign_q;

  always_ff @(posedge clk_i) begin
    big_q       <= sig_big;
    small_q     <= shifted[2*W-1:W] | {{(W-1){1'b0}}, shifted[W-1:0] != '0};
    exp_q       <= exp_big;
    sign_q      <= a_is_big ? a_i[31] : b_i[31];
    subtract_q  <= a_i[31] != b_i[31];
    nan_q       <= a_nan || b_nan || (a_inf && b_inf && (a_i[31] != b_i[31]));
    inf_q       <= a_inf || b_inf;
    inf_sign_q  <= a_inf ? a_i[31] : b_i[31];
    // An exact zero sum is +0 under round-to-nearest, except (-0) + (-0) = -0.
    zero_sign_q <= a_i[31] && b_i[31];
  end

  // ---- stage 2: add or subtract, fold the carry, count leading zeros --------------
  logic [W:0]   sum;
  logic [W-1:0] sum_folded;
  logic [4:0]   lzc;

  always_comb begin
    // The big operand's magnitude is never the smaller one, so no borrow out.
    sum = subtract_q ? ({1'b0, big_q} - {1'b0, small_q}) : ({1'b0, big_q} + {1'b0, small_q});
    // On a carry out, shift right by one and keep the lost bit in the sticky position.
    sum_folded = sum[W] ? {sum[W:2], sum[1] | sum[0]} : sum[W-1:0];
    lzc = 5'd0;
    for (int i = 0; i < W; i++) begin
      if (sum_folded[i]) lzc = 5'(W - 1 - i);
    end
  end

  logic [W-1:0]      sum_q2;
  logic [4:0]        lzc_q2;
  logic signed [9:0] exp_q2;
  logic              sign_q2, nan_q2, inf_q2, inf_sign_q2, zero_sign_q2;

  always_ff @(posedge clk_i) begin
    sum_q2       <= sum_folded;
    lzc_q2       <= lzc;
    exp_q2       <= $signed({2'b00, exp_q}) + $signed({9'd0, sum[W]});
    sign_q2      <= sign_q;
    nan_q2       <= nan_q;
    inf_q2       <= inf_q;
    inf_sign_q2  <= inf_sign_q;
    zero_sign_q2 <= zero_sign_q;
  end

  // ---- stage 3: normalise left, round, pack -----------------------------------------
  logic [W-1:0]      sum_norm;
  logic signed [9:0] exp_norm;
  logic [31:0]       rounded;

  always_comb begin
    sum_norm = sum_q2 << lzc_q2;
    exp_norm = exp_q2 - $signed({5'd0, lzc_q2});
  end

  fp32_round u_round (
    .sign_i   (sign_q2),
    .exp_i    (exp_norm),
    .sig_i    (sum_norm[W-1:3]),
    .guard_i  (sum_norm[2]),
    .sticky_i (sum_norm[1:0] != 2'b00),
    .result_o (rounded)
  );

  // Special cases take precedence in this order: NaN, infinity, exact zero.
  always_ff @(posedge clk_i) begin
    if (nan_q2)                y_o <= FP32_CANONICAL_NAN;
    else if (inf_q2)           y_o <= {inf_sign_q2, 8'hFF, 23'd0};
    else if (sum_q2 == '0)     y_o <= {zero_sign_q2, 31'd0};
    else                       y_o <= rounded;
  end

`endif

endmodule

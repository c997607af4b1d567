/// IEEE-754 binary32 multiplier with the core's numeric rules (docs/numerics.md,
/// section 1): round to nearest even, subnormal inputs read as zero, subnormal results
/// flushed to signed zero, canonical NaN, IEEE infinities.
///
/// Fully pipelined: one result per cycle, latency `eftrain_pkg::FP32_MUL_LATENCY` (2).
/// Stage 1 multiplies the significands, stage 2 normalises, rounds and packs.
/// Mirrors `eftrain.fp32.mul`.
module fp32_mul (
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
  /// `y_o` holds the product of the pair given FP32_MUL_LATENCY cycles earlier.
  output logic        valid_o,
  /// Product.
  output logic [31:0] y_o
);

  import eftrain_pkg::*;

  // The valid flag travels a delay line as long as the documented latency; the data
  // stages below must add up to the same number of registers (the tests check the
  // latency from the package against the outputs).
  logic [FP32_MUL_LATENCY-1:0] valid_pipe_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) valid_pipe_q <= '0;
    else         valid_pipe_q <= {valid_pipe_q[FP32_MUL_LATENCY-2:0], valid_i};
  end

  assign valid_o = valid_pipe_q[FP32_MUL_LATENCY-1];

`ifdef EFTRAIN_FAST_FP32
  // Simulation only: the product from the host's double arithmetic (rtl/fp32_fast_pkg.sv),
  // through as many registers as the datapath below has.
  logic [0:0][31:0] fast_q;

  always_ff @(posedge clk_i) begin
    fast_q[0] <= fp32_fast_pkg::to_fp32(fp32_fast_pkg::to_double(a_i) * fp32_fast_pkg::to_double(b_i));
    y_o       <= fast_q[0];
  end
`else
  // ---- stage 1: classify and multiply ----------------------------------------------
  logic        a_zero, b_zero, a_inf, b_inf, a_nan, b_nan;
  logic [23:0] a_sig, b_sig;

  always_comb begin
    a_zero = a_i[30:23] == 8'd0;  // zeros and subnormals alike
    b_zero = b_i[30:23] == 8'd0;
    a_inf  = (a_i[30:23] == 8'hFF) && (a_i[22:0] == 23'd0);
    b_inf  = (b_i[30:23] == 8'hFF) && (b_i[22:0] == 23'd0);
    a_nan  = (a_i[30:23] == 8'hFF) && (a_i[22:0] != 23'd0);
    b_nan  = (b_i[30:23] == 8'hFF) && (b_i[22:0] != 23'd0);
    a_sig  = a_zero ? 24'd0 : {1'b1, a_i[22:0]};
    b_sig  = b_zero ? 24'd0 : {1'b1, b_i[22:0]};
  end

  logic [47:0]       prod_q;
  logic signed [9:0] exp_q;
  logic              sign_q, nan_q, inf_q, zero_q;

  always_ff @(posedge clk_i) begin
    prod_q <= a_sig * b_sig;
    exp_q  <= $signed({2'b00, a_i[30:23]}) + $signed({2'b00, b_i[30:23]}) - 10'sd127;
    sign_q <= a_i[31] ^ b_i[31];
    nan_q  <= a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero);
    inf_q  <= a_inf || b_inf;
    zero_q <= a_zero || b_zero;
  end

  // ---- stage 2: normalise (at most one position), round, pack --------------------
  logic              top;
  logic signed [9:0] exp_norm;
  logic [23:0]       sig_norm;
  logic              guard, sticky;
  logic [31:0]       rounded;

  always_comb begin
    top      = prod_q[47];
    exp_norm = exp_q + {9'd0, top};
    sig_norm = top ? prod_q[47:24] : prod_q[46:23];
    guard    = top ? prod_q[23] : prod_q[22];
    sticky   = top ? (prod_q[22:0] != 23'd0) : (prod_q[21:0] != 22'd0);
  end

  fp32_round u_round (
    .sign_i   (sign_q),
    .exp_i    (exp_norm),
    .sig_i    (sig_norm),
    .guard_i  (guard),
    .sticky_i (sticky),
    .result_o (rounded)
  );

  // Special cases take precedence in this order: NaN, infinity, zero.
  always_ff @(posedge clk_i) begin
    if (nan_q)       y_o <= FP32_CANONICAL_NAN;
    else if (inf_q)  y_o <= {sign_q, 8'hFF, 23'd0};
    else if (zero_q) y_o <= {sign_q, 31'd0};
    else             y_o <= rounded;
  end

`endif

endmodule

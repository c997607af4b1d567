/// IEEE-754 binary32 multiplier with the core's numeric rules (docs/numerics.md,
/// section 1): round to nearest even, subnormal inputs read as zero, subnormal results
/// flushed to signed zero, canonical NaN, IEEE infinities.
///
/// Fully pipelined: one result per cycle, latency `eftrain_pkg::FP32_MUL_LATENCY` (5),
/// laid out for DSP48E2 slices (a 24 x 24 product is two of them) and the 200 MHz
/// target:
///
/// 1. the significands into the DSPs' input registers (A, B); exponent sum, classes;
/// 2. the partial products (the DSPs' M registers);
/// 3. the product (the P registers);
/// 4. normalise by at most one position: significand, guard and sticky bits;
/// 5. round and pack (fp32_round), special cases.
///
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
  logic [FP32_MUL_LATENCY-1:0][31:0] fast_q;

  always_ff @(posedge clk_i) begin
    fast_q[0] <= fp32_fast_pkg::to_fp32(fp32_fast_pkg::to_double(a_i) * fp32_fast_pkg::to_double(b_i));
    for (int i = 1; i < FP32_MUL_LATENCY; i++) fast_q[i] <= fast_q[i-1];
  end

  assign y_o = fast_q[FP32_MUL_LATENCY-1];
`else
  // ---- stage 1: classify; significands into the DSP input registers --------------
  typedef struct packed {
    logic nan;    // a NaN operand, or 0 x inf
    logic inf;
    logic zero;   // a zero (or subnormal) operand
  } special_t;

  logic     a_zero, b_zero, a_inf, b_inf, a_nan, b_nan;
  special_t special;

  always_comb begin
    a_zero = a_i[30:23] == 8'd0;  // zeros and subnormals alike
    b_zero = b_i[30:23] == 8'd0;
    a_inf  = (a_i[30:23] == 8'hFF) && (a_i[22:0] == 23'd0);
    b_inf  = (b_i[30:23] == 8'hFF) && (b_i[22:0] == 23'd0);
    a_nan  = (a_i[30:23] == 8'hFF) && (a_i[22:0] != 23'd0);
    b_nan  = (b_i[30:23] == 8'hFF) && (b_i[22:0] != 23'd0);
    special.nan  = a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero);
    special.inf  = a_inf || b_inf;
    special.zero = a_zero || b_zero;
  end

  // Flops, not a shift register, from here to the product (see stages 2 and 3).
  logic [23:0]       a_sig_q, b_sig_q;
  (* keep, shreg_extract = "no" *)
  logic signed [9:0] exp_q;
  (* keep, shreg_extract = "no" *)
  logic              sign_q;
  (* keep, shreg_extract = "no" *)
  special_t          special_q;

  always_ff @(posedge clk_i) begin
    // A zero (or subnormal) operand has a zero product, so its hidden bit is not set;
    // the special flags decide the result anyway.
    a_sig_q   <= {1'b1, a_i[22:0]};
    b_sig_q   <= {1'b1, b_i[22:0]};
    exp_q     <= $signed({2'b00, a_i[30:23]}) + $signed({2'b00, b_i[30:23]}) - 10'sd127;
    sign_q    <= a_i[31] ^ b_i[31];
    special_q <= special;
  end

  // ---- stages 2 and 3: the product (DSP48E2: M and P registers) --------------------
  // The fields that wait for the product are flops, not shift registers: a three-deep
  // delay line costs a LUT per bit as an SRL and three of the plentiful flops otherwise
  // (LUTs limit the array, flops do not). keep is what Yosys honours, on every flop of
  // the line; shreg_extract is Vivado's attribute.
  logic [47:0]       prod_q2, prod_q3;
  (* keep, shreg_extract = "no" *)
  logic signed [9:0] exp_q2, exp_q3;
  (* keep, shreg_extract = "no" *)
  logic              sign_q2, sign_q3;
  (* keep, shreg_extract = "no" *)
  special_t          special_q2, special_q3;

  always_ff @(posedge clk_i) begin
    prod_q2    <= a_sig_q * b_sig_q;
    prod_q3    <= prod_q2;
    exp_q2     <= exp_q;
    exp_q3     <= exp_q2;
    sign_q2    <= sign_q;
    sign_q3    <= sign_q2;
    special_q2 <= special_q;
    special_q3 <= special_q2;
  end

  // ---- stage 4: normalise (at most one position) ------------------------------------
  logic              top;
  logic [23:0]       sig_q4;
  logic signed [9:0] exp_q4;
  logic              guard_q4, sticky_q4, sign_q4;
  special_t          special_q4;

  assign top = prod_q3[47];

  always_ff @(posedge clk_i) begin
    sig_q4     <= top ? prod_q3[47:24] : prod_q3[46:23];
    guard_q4   <= top ? prod_q3[23] : prod_q3[22];
    sticky_q4  <= (prod_q3[21:0] != 22'd0) || (top && prod_q3[22]);
    exp_q4     <= exp_q3 + {9'd0, top};
    sign_q4    <= sign_q3;
    special_q4 <= special_q3;
  end

  // ---- stage 5: round, pack, special cases -----------------------------------------
  logic [31:0] rounded;

  fp32_round u_round (
    .sign_i   (sign_q4),
    .exp_i    (exp_q4),
    .sig_i    (sig_q4),
    .guard_i  (guard_q4),
    .sticky_i (sticky_q4),
    .result_o (rounded)
  );

  // Special cases take precedence in this order: NaN, infinity, zero.
  always_ff @(posedge clk_i) begin
    if (special_q4.nan)       y_o <= FP32_CANONICAL_NAN;
    else if (special_q4.inf)  y_o <= {sign_q4, 8'hFF, 23'd0};
    else if (special_q4.zero) y_o <= {sign_q4, 31'd0};
    else                      y_o <= rounded;
  end

`endif

endmodule

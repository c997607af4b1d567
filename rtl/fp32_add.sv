/// IEEE-754 binary32 adder with the core's numeric rules (docs/numerics.md, section 1):
/// round to nearest even, subnormal inputs read as zero, subnormal results flushed to
/// signed zero, canonical NaN, IEEE infinities and signed zeros.
///
/// Fully pipelined: one result per cycle, latency `eftrain_pkg::FP32_ADD_LATENCY` (7),
/// at most about ten logic levels per stage (the 200 MHz target on a -2 UltraScale+).
/// The alignment shift is a multiply by a power of two, so it maps onto one DSP48E2
/// slice instead of a fabric barrel shifter (the largest LUT cost of a fabric adder):
///
/// 1. classify; compare the magnitudes; both exponent differences;
/// 2. order the operands; encode the alignment: the small significand (coarse-shifted
///    by 10 when the distance is above 16, the dropped bits kept as a sticky bit) into
///    the DSP's A input, the power of two of the remaining shift into B;
/// 3. the DSP multiplier (its M register);
/// 4. the DSP output register (P);
/// 5. fold the product's low bits into the sticky bit (the aligned small operand with
///    guard, round and sticky bits); add or subtract; fold a carry out;
/// 6. count leading zeros and normalise left (keeping the fraction, guard and sticky bits);
/// 7. round and pack (fp32_round), special cases.
///
/// The aligned operand of stage 5 is the one a right shift with a sticky bit gives, bit
/// for bit, so every result is the one the fabric-shift adder gave; tb/fp32 checks the
/// whole vector set against `eftrain.fp32.add`, which this mirrors.
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
  logic [FP32_ADD_LATENCY-1:0][31:0] fast_q;

  always_ff @(posedge clk_i) begin
    fast_q[0] <= fp32_fast_pkg::to_fp32(fp32_fast_pkg::to_double(a_i) + fp32_fast_pkg::to_double(b_i));
    for (int i = 1; i < FP32_ADD_LATENCY; i++) fast_q[i] <= fast_q[i-1];
  end

  assign y_o = fast_q[FP32_ADD_LATENCY-1];
`else
  /// Significand plus guard, round and sticky bits.
  localparam int unsigned W = 24 + 3;
  /// Alignment distances above COARSE_FROM are pre-shifted by COARSE in the fabric, so
  /// the DSP's B input (17 bits unsigned: 2^0..2^16) covers the rest.
  localparam int unsigned COARSE_FROM = 16;
  localparam int unsigned COARSE      = 10;

  // ---- stage 1: classify, compare magnitudes, exponent differences -----------------
  // Special-case flags travel beside the datapath in one struct per stage.
  typedef struct packed {
    logic nan;        // a NaN operand, or inf - inf
    logic inf;        // an infinite operand (and no NaN)
    logic inf_sign;
    logic zero_sign;  // sign of an exact zero sum: -0 only for (-0) + (-0)
  } special_t;

  logic       a_zero, b_zero, a_inf, b_inf, a_nan, b_nan;
  special_t   special;

  always_comb begin
    a_zero = a_i[30:23] == 8'd0;  // zeros and subnormals alike
    b_zero = b_i[30:23] == 8'd0;
    a_inf  = (a_i[30:23] == 8'hFF) && (a_i[22:0] == 23'd0);
    b_inf  = (b_i[30:23] == 8'hFF) && (b_i[22:0] == 23'd0);
    a_nan  = (a_i[30:23] == 8'hFF) && (a_i[22:0] != 23'd0);
    b_nan  = (b_i[30:23] == 8'hFF) && (b_i[22:0] != 23'd0);
    special.nan       = a_nan || b_nan || (a_inf && b_inf && (a_i[31] != b_i[31]));
    special.inf       = a_inf || b_inf;
    special.inf_sign  = a_inf ? a_i[31] : b_i[31];
    special.zero_sign = a_i[31] && b_i[31];
  end

  logic [31:0] a_q, b_q;
  logic        a_zero_q, b_zero_q, a_is_big_q;
  logic [7:0]  a_minus_b_q, b_minus_a_q;   // exponent differences (the big one's is >= 0)
  special_t    special_q;

  always_ff @(posedge clk_i) begin
    a_q         <= a_i;
    b_q         <= b_i;
    a_zero_q    <= a_zero;
    b_zero_q    <= b_zero;
    // Raw magnitudes order every normal correctly; when both exponents are zero either
    // order is right (both significands read as zero).
    a_is_big_q  <= a_i[30:0] >= b_i[30:0];
    a_minus_b_q <= a_i[30:23] - b_i[30:23];
    b_minus_a_q <= b_i[30:23] - a_i[30:23];
    special_q   <= special;
  end

  // ---- stage 2: order the operands, encode the alignment for the DSP ---------------
  logic [23:0] sig_big, sig_small;
  logic [7:0]  exp_diff;
  logic        coarse, beyond;
  logic [4:0]  fine;
  logic [24:0] align_a;   // small significand (coarse-shifted) and a sticky bit below it
  logic [16:0] align_b;   // 2^(16 - fine)

  always_comb begin
    sig_big   = a_is_big_q ? (a_zero_q ? 24'd0 : {1'b1, a_q[22:0]}) : (b_zero_q ? 24'd0 : {1'b1, b_q[22:0]});
    sig_small = a_is_big_q ? (b_zero_q ? 24'd0 : {1'b1, b_q[22:0]}) : (a_zero_q ? 24'd0 : {1'b1, a_q[22:0]});
    exp_diff  = a_is_big_q ? a_minus_b_q : b_minus_a_q;
    // Beyond W positions every bit of the small operand lands in the sticky bit.
    beyond    = exp_diff > 8'(W - 1);
    coarse    = exp_diff > 8'(COARSE_FROM);
    fine      = beyond ? 5'(COARSE_FROM) : coarse ? 5'(exp_diff - 8'(COARSE)) : exp_diff[4:0];
    // The sticky bit sits below every bit the sum can round on (docs/numerics.md):
    // a coarse shift drops bits that are below the round bit anyway.
    align_a   = beyond ? {24'd0, sig_small != 24'd0}
              : coarse ? {10'd0, sig_small[23:COARSE], sig_small[COARSE-1:0] != '0}
                       : {sig_small, 1'b0};
    align_b   = 17'd1 << (5'(COARSE_FROM) - fine);
  end

  logic [24:0] align_a_q;
  logic [16:0] align_b_q;
  logic [23:0] big_q2;
  logic [7:0]  exp_q2;
  logic        sign_q2, subtract_q2;
  special_t    special_q2;

  always_ff @(posedge clk_i) begin
    align_a_q   <= align_a;
    align_b_q   <= align_b;
    big_q2      <= sig_big;
    exp_q2      <= a_is_big_q ? a_q[30:23] : b_q[30:23];
    sign_q2     <= a_is_big_q ? a_q[31] : b_q[31];
    subtract_q2 <= a_q[31] != b_q[31];
    special_q2  <= special_q;
  end

  // ---- stages 3 and 4: the shift as a product (DSP48E2: M and P registers) ---------
  // aligned_q4 = small significand x 2^(17 - exp_diff): the big operand's LSB is bit 17.
  logic [40:0] aligned_q3, aligned_q4;
  logic [23:0] big_q3, big_q4;
  logic [7:0]  exp_q3, exp_q4;
  logic        sign_q3, sign_q4, subtract_q3, subtract_q4;
  special_t    special_q3, special_q4;

  always_ff @(posedge clk_i) begin
    aligned_q3  <= align_a_q * align_b_q;
    aligned_q4  <= aligned_q3;
    big_q3      <= big_q2;
    big_q4      <= big_q3;
    exp_q3      <= exp_q2;
    exp_q4      <= exp_q3;
    sign_q3     <= sign_q2;
    sign_q4     <= sign_q3;
    subtract_q3 <= subtract_q2;
    subtract_q4 <= subtract_q3;
    special_q3  <= special_q2;
    special_q4  <= special_q3;
  end

  // ---- stage 5: sticky fold, add or subtract, carry fold ---------------------------
  logic [W-1:0] small_grs;
  logic [W:0]   sum;
  logic [W-1:0] sum_folded;

  always_comb begin
    // Guard and round at bits 16 and 15; everything below them is the sticky bit.
    small_grs = {aligned_q4[40:15], aligned_q4[14:0] != '0};
    // The big operand's magnitude is never the smaller one, so no borrow out.
    sum = subtract_q4 ? ({1'b0, big_q4, 3'b000} - {1'b0, small_grs}) : ({1'b0, big_q4, 3'b000} + {1'b0, small_grs});
    // On a carry out, shift right by one and keep the lost bit in the sticky position.
    sum_folded = sum[W] ? {sum[W:2], sum[1] | sum[0]} : sum[W-1:0];
  end

  logic [W-1:0]      sum_q5;
  logic signed [9:0] exp_q5;
  logic              sign_q5;
  special_t          special_q5;

  always_ff @(posedge clk_i) begin
    sum_q5     <= sum_folded;
    exp_q5     <= $signed({2'b00, exp_q4}) + $signed({9'd0, sum[W]});
    sign_q5    <= sign_q4;
    special_q5 <= special_q4;
  end

  // ---- stage 6: count leading zeros, normalise left --------------------------------
  logic [4:0] lzc;

  always_comb begin
    lzc = 5'd0;
    for (int i = 0; i < W; i++) begin
      if (sum_q5[i]) lzc = 5'(W - 1 - i);
    end
  end

  // Only the bits rounding reads are kept: the leading one is implicit (a zero sum takes
  // the exact-zero result), and the two lowest bits of the shifted sum reduce to the
  // sticky bit, which a left shift by two or more fills with zeros.
  logic [22:0]       frac_q6;
  logic              guard_q6, sticky_q6;
  logic signed [9:0] exp_q6;
  logic              sign_q6, sum_zero_q6;
  special_t          special_q6;

  always_ff @(posedge clk_i) begin
    {frac_q6, guard_q6} <= 24'((sum_q5 << lzc) >> 2);
    sticky_q6   <= (lzc == 5'd0) ? (sum_q5[1] | sum_q5[0]) : (lzc == 5'd1) && sum_q5[0];
    exp_q6      <= exp_q5 - $signed({5'd0, lzc});
    sign_q6     <= sign_q5;
    sum_zero_q6 <= sum_q5 == '0;
    special_q6  <= special_q5;
  end

  // ---- stage 7: round, pack, special cases -----------------------------------------
  logic [31:0] rounded;

  fp32_round u_round (
    .sign_i   (sign_q6),
    .exp_i    (exp_q6),
    .sig_i    ({1'b1, frac_q6}),
    .guard_i  (guard_q6),
    .sticky_i (sticky_q6),
    .result_o (rounded)
  );

  // Special cases take precedence in this order: NaN, infinity, exact zero.
  always_ff @(posedge clk_i) begin
    if (special_q6.nan)       y_o <= FP32_CANONICAL_NAN;
    else if (special_q6.inf)  y_o <= {special_q6.inf_sign, 8'hFF, 23'd0};
    else if (sum_zero_q6)     y_o <= {special_q6.zero_sign, 31'd0};
    else                      y_o <= rounded;
  end

`endif

endmodule

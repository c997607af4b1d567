/// IEEE-754 binary32 adder with the core's numeric rules (docs/numerics.md, section 1):
/// round to nearest even, subnormal inputs read as zero, subnormal results flushed to
/// signed zero, canonical NaN, IEEE infinities and signed zeros.
///
/// Fully pipelined: one result per cycle, latency `eftrain_pkg::FP32_ADD_LATENCY` (7),
/// at most about ten logic levels per stage (the 200 MHz target on a -2 UltraScale+).
/// Both shifts are multiplies by a power of two, so each maps onto one DSP48E2 slice
/// instead of a fabric barrel shifter (the largest LUT costs of a fabric adder). Each
/// DSP has its input (A, B) and output (P) registers and no M register: a DSP48E2
/// multiply without MREG is specified at several hundred MHz, far above the 200 MHz
/// target (to confirm in Vivado's timing report), while an M register in each slice
/// would make the latency 9 and the accumulate distance (latency + 2) 11, longer than
/// the 9 kernel positions of a 3x3 WU sweep, which would then hold (docs/architecture.md,
/// "Pipeline and hazards"; pysrc/tests/test_planner.py checks that it does not).
///
/// The add of stage 4 stays in the fabric. The alignment DSP's ALU could do it
/// (P = C +/- A x B, C = {big, 17'b0}; exact, as the sticky fold of P[14:0] after the
/// add equals the fold before it), but the Yosys estimate (0.70, synth_xilinx -family
/// xcup) packs no post-adder and no register into a DSP48E2: written so, the add becomes
/// a 42-bit fabric chain (343 LUT against 283 at the time). Only Vivado could show the
/// saving, and then as an instantiated or Vivado-inferred DSP48E2 without M register.
///
/// 1. classify; compare the magnitudes; both exponent differences;
/// 2. order the operands; encode the alignment: the small significand (coarse-shifted
///    by 10 when the distance is above 16, the dropped bits kept as a sticky bit) into
///    the first DSP's A input register, the power of two of the remaining shift into B
///    (zero for a zero small operand; distances of 26 and more all take B = 1);
/// 3. the product (P register): the aligned small significand;
/// 4. fold the product's low bits into the sticky bit (the aligned small operand with
///    guard, round and sticky bits); add or subtract in one carry chain; the sum keeps
///    its carry bit;
/// 5. count leading zeros from the carry bit; encode the normalisation: the sum below
///    its carry bit and above its LSB (coarse-shifted by 16 for 16 or more leading
///    zeros) into the second DSP's A input register, the power of two of the rest of
///    the count into B; the LSB goes round the DSP to the sticky bit;
/// 6. the product (P register): the normalised fraction, guard and sticky bits; the
///    exponent minus the count (a carry out is a count of 0, so no fold multiplexer);
/// 7. round and pack (fp32_round), special cases.
///
/// The aligned operand of stage 4 is the one a right shift with a sticky bit gives, and
/// the product of stage 6 with the LSB beside it the carry-folded sum shifted left by its
/// leading zeros, bit for bit (the argument is at stage 5), so
/// every result is the one the fabric-shift adder gave; tb/fp32 checks the whole vector
/// set against `eftrain.fp32.add`, which this mirrors.
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
  // The flags that travel beside the datapath (special_q*, sign_q*) are flops, not shift
  // registers: an SRL costs a LUT, flops are plentiful (keep: Yosys, on every flop of
  // the line; shreg_extract: Vivado).

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
  (* keep, shreg_extract = "no" *)
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
  logic        coarse, small_zero;
  logic [4:0]  fine;
  logic [24:0] align_a;   // small significand (coarse-shifted) and a sticky bit below it
  logic [16:0] align_b;   // 2^(16 - fine), or 0 for a zero small operand

  always_comb begin
    sig_big    = a_is_big_q ? (a_zero_q ? 24'd0 : {1'b1, a_q[22:0]}) : (b_zero_q ? 24'd0 : {1'b1, b_q[22:0]});
    // The small operand's zero (or subnormal) test acts on B (a zero multiplier), so
    // its significand is not gated bit by bit: each bit of A is then one LUT6 (the two
    // operands' bits at the two shift positions, the order and the coarse select).
    small_zero = a_is_big_q ? b_zero_q : a_zero_q;
    sig_small  = {1'b1, a_is_big_q ? b_q[22:0] : a_q[22:0]};
    exp_diff   = a_is_big_q ? a_minus_b_q : b_minus_a_q;
    coarse     = exp_diff > 8'(COARSE_FROM);
    // From W - 1 = 26 on, every bit of the small operand lands in the sticky bit: the
    // coarse shift by 10 and a fine shift by 16 (B = 1) put the whole of A below the
    // round bit (product bits [14:0]), so larger distances take the same encoding.
    fine       = !coarse ? exp_diff[4:0]
               : exp_diff >= 8'(W - 1) ? 5'(COARSE_FROM) : 5'(exp_diff - 8'(COARSE));
    // The sticky bit sits below every bit the sum can round on (docs/numerics.md):
    // a coarse shift drops bits that are below the round bit anyway.
    align_a    = coarse ? {10'd0, sig_small[23:COARSE], sig_small[COARSE-1:0] != '0}
                        : {sig_small, 1'b0};
    align_b    = small_zero ? 17'd0 : 17'd1 << (5'(COARSE_FROM) - fine);
  end

  logic [24:0] align_a_q;
  logic [16:0] align_b_q;
  logic [23:0] big_q2;
  logic [7:0]  exp_q2;
  (* keep, shreg_extract = "no" *)
  logic        sign_q2, subtract_q2;
  (* keep, shreg_extract = "no" *)
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

  // ---- stage 3: the alignment as a product (DSP48E2 P register) --------------------
  // aligned_q3 = small significand x 2^(17 - exp_diff): the big operand's LSB is bit 17.
  logic [40:0] aligned_q3;
  logic [23:0] big_q3;
  logic [7:0]  exp_q3;
  (* keep, shreg_extract = "no" *)
  logic        sign_q3, subtract_q3;
  (* keep, shreg_extract = "no" *)
  special_t    special_q3;

  always_ff @(posedge clk_i) begin
    aligned_q3  <= align_a_q * align_b_q;
    big_q3      <= big_q2;
    exp_q3      <= exp_q2;
    sign_q3     <= sign_q2;
    subtract_q3 <= subtract_q2;
    special_q3  <= special_q2;
  end

  // ---- stage 4: sticky fold, add or subtract -------------------------------------
  // The sum keeps its carry bit (bit W): no fold back to W bits here, the normaliser
  // below takes the carry as one more leading position (see stage 5).
  logic [W-1:0] small_grs;
  logic [W:0]   sum;

  always_comb begin
    // Guard and round at bits 16 and 15; everything below them is the sticky bit.
    small_grs = {aligned_q3[40:15], aligned_q3[14:0] != '0};
    // The big operand's magnitude is never the smaller one, so no borrow out. One carry
    // chain for both: a subtract adds the one's complement and a carry in, so the
    // complement merges into the chain's LUTs (a `subtract ? big - small : big + small`
    // gave two chains and a multiplexer, 28 LUT more).
    sum = {1'b0, big_q3, 3'b000} + ({1'b0, small_grs} ^ {(W+1){subtract_q3}}) + (W+1)'(subtract_q3);
  end

  logic [W:0]        sum_q4;
  logic signed [9:0] exp_q4;
  (* keep, shreg_extract = "no" *)
  logic              sign_q4;
  (* keep, shreg_extract = "no" *)
  special_t          special_q4;

  always_ff @(posedge clk_i) begin
    sum_q4     <= sum;
    // The exponent of the sum's bit W (its carry position); stage 6 subtracts the count
    // of leading zeros above the leading one.
    exp_q4     <= $signed({2'b00, exp_q3}) + 10'sd1;
    sign_q4    <= sign_q3;
    special_q4 <= special_q3;
  end

  // ---- stage 5: count leading zeros, encode the normalisation for the DSP ---------
  // lzc counts the sum's leading zeros from its carry bit W (27): 0 on a carry out, one
  // more than the count of a carry-free sum from bit 26 otherwise. The left shift by lzc
  // is a second multiply by a power of two: the sum, pre-shifted by 16 in the fabric
  // when lzc >= 16, times 2^(lzc mod 16) (B, 17 bits unsigned, takes up to 2^16; this
  // needs up to 2^15).
  //
  // With shifted = sum_q4 << lzc (28 bits), bit 27 is the leading one (implicit, a zero
  // sum takes the exact-zero result) and rounding reads shifted[26:4] (the fraction),
  // [3] (the guard bit) and [2:0] (which reduce to the sticky bit). The multiplier takes
  // sum_q4[26:1] (26 bits, the widest unsigned A input) and only the product's bits
  // [25:0] are kept: product bit m is shifted[m + 1] for every sum but the one bit
  // sum_q4[0] moves to, since the bits the product does not have (sum_q4[27], and on the
  // coarse path sum_q4[26:11], zeros but for the leading one) are exactly the ones a left
  // shift by lzc moves above bit 27. sum_q4[0] goes round the DSP into the sticky bit:
  // it lands at shifted[lzc], inside the sticky bits [2:0] when lzc <= 2, and it is zero
  // when lzc >= 3: a sum with two or more leading zeros below its carry bit comes from
  // a subtract with an exponent difference of 0 or 1 (for 2 or more, big x 8 >= 2^26
  // and the aligned small operand < 2^25 leave a leading one at bit 25 or above), and
  // then the small operand has no bits below bit 2, nor has big, so sum_q4[1:0] = 0.
  //
  // That is bit for bit the carry fold of the fabric normaliser (shift right by one and
  // OR the lost bit into the sticky bit, then count from bit 26): on a carry the fold
  // gives fraction sum[26:4], guard sum[3] and sticky sum[2] | sum[1] | sum[0], the same
  // bits as here, at the same exponent.
  logic [4:0]  lzc;
  logic        norm_coarse;   // lzc >= 16: sum_q4[W:12] are all zero
  logic [25:0] norm_a;
  logic [15:0] norm_b;        // 2^(lzc mod 16), one-hot

  always_comb begin
    lzc = 5'd0;
    for (int i = 0; i <= W; i++) begin
      if (sum_q4[i]) lzc = 5'(W - i);
    end
    // Decided on the sum, beside the count, so the multiplexer does not wait for it.
    norm_coarse = sum_q4[W:12] == '0;
    norm_a      = norm_coarse ? {sum_q4[10:1], 16'd0} : sum_q4[26:1];
    norm_b      = 16'd1 << lzc[3:0];
  end

  // norm_a_q5 and norm_b_q5 are the second DSP's A and B input registers. The exponent
  // waits for stage 6, beside the multiply, where the fabric has time.
  logic [25:0]       norm_a_q5;
  logic [15:0]       norm_b_q5;
  logic [4:0]        lzc_q5;
  logic signed [9:0] exp_q5;
  (* keep, shreg_extract = "no" *)
  logic              sign_q5, sum_zero_q5, low_q5;
  (* keep, shreg_extract = "no" *)
  special_t          special_q5;

  always_ff @(posedge clk_i) begin
    norm_a_q5   <= norm_a;
    norm_b_q5   <= norm_b;
    lzc_q5      <= lzc;
    exp_q5      <= exp_q4;
    sign_q5     <= sign_q4;
    sum_zero_q5 <= sum_q4 == '0;
    low_q5      <= sum_q4[0];
    special_q5  <= special_q4;
  end

  // ---- stage 6: the normalisation as a product (DSP48E2 P register) ----------------
  logic [25:0]       normalised_q6;
  logic signed [9:0] exp_q6;
  (* keep, shreg_extract = "no" *)
  logic              sign_q6, sum_zero_q6, low_q6;
  (* keep, shreg_extract = "no" *)
  special_t          special_q6;

  always_ff @(posedge clk_i) begin
    normalised_q6 <= 26'(norm_a_q5 * norm_b_q5);
    exp_q6        <= exp_q5 - $signed({5'd0, lzc_q5});
    sign_q6       <= sign_q5;
    sum_zero_q6   <= sum_zero_q5;
    low_q6        <= low_q5;
    special_q6    <= special_q5;
  end

  // normalised_q6[m] is shifted[m + 1]; sum_q4[0] (low_q6) joins the sticky bit.
  logic [22:0] frac_q6;
  logic        guard_q6, sticky_q6;

  assign {frac_q6, guard_q6} = normalised_q6[25:2];
  assign sticky_q6           = normalised_q6[1] | normalised_q6[0] | low_q6;

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

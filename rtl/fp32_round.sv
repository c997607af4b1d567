/// Round-to-nearest-even and pack of a normalised fp32 significand, with overflow to
/// infinity and flush of subnormal results (docs/numerics.md, section 1).
///
/// Combinational; shared by `fp32_mul` and `fp32_add`. Mirrors
/// `eftrain.fp32._round_and_pack`.
module fp32_round (
  /// Sign of the result.
  input  logic              sign_i,
  /// Biased exponent of `sig_i` before rounding; may be <= 0 or >= 255.
  input  logic signed [9:0] exp_i,
  /// Normalised significand, hidden bit at bit 23 (or zero).
  input  logic [23:0]       sig_i,
  /// First bit below the significand.
  input  logic              guard_i,
  /// OR of every bit below the guard bit.
  input  logic              sticky_i,
  /// The packed fp32 result.
  output logic [31:0]       result_o
);

  // The carry of the rounding increment is known before the increment is: it leaves the
  // significand only when that is all ones. So the range checks run beside the add
  // (about six logic levels in all, for the 200 MHz target).
  logic              round_up, all_ones, carry;
  logic [30:0]       packed_rounded;
  logic              overflow, underflow, to_min_normal;

  always_comb begin
    round_up = guard_i & (sticky_i | sig_i[0]);
    all_ones = sig_i == 24'hFF_FFFF;
    carry    = round_up & all_ones;
    // Exponent field and fraction as one number: a carry out of the fraction (which
    // leaves it zero) moves into the exponent by itself. Bit 23 of sig_i is the
    // implicit leading one and is not packed.
    packed_rounded = {exp_i[7:0], sig_i[22:0]} + 31'(round_up);
    overflow  = (exp_i >= 10'sd255) || ((exp_i == 10'sd254) && carry);
    // exp_i = 0 with a carry is the all-ones case below.
    underflow = exp_i <= 10'sd0;
    // IEEE gradual underflow rounds [2^-126 - 2^-150, 2^-126) up to the smallest normal,
    // which is then kept rather than flushed.
    to_min_normal = (exp_i == 10'sd0) && all_ones;

    if (overflow) begin
      result_o = {sign_i, 8'hFF, 23'd0};
    end else if (to_min_normal) begin
      result_o = {sign_i, 8'h01, 23'd0};
    end else if (underflow) begin
      result_o = {sign_i, 31'd0};
    end else begin
      result_o = {sign_i, packed_rounded};
    end
  end

endmodule

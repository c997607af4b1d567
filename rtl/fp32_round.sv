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

  logic              round_up;
  logic [24:0]       sig_rounded;
  logic signed [9:0] exp_rounded;
  logic              overflow, underflow, to_min_normal;
  logic              unused_hidden_bit;  // bit 23 is the implicit leading one

  assign unused_hidden_bit = sig_rounded[23];

  always_comb begin
    round_up    = guard_i & (sticky_i | sig_i[0]);
    sig_rounded = {1'b0, sig_i} + {24'd0, round_up};
    // A carry out of the significand leaves it at exactly 2^24: the fraction bits
    // [22:0] are zero either way, only the exponent moves.
    exp_rounded = exp_i + {9'd0, sig_rounded[24]};
    overflow    = exp_rounded >= 10'sd255;
    underflow   = exp_rounded <= 10'sd0;
    // IEEE gradual underflow rounds [2^-126 - 2^-150, 2^-126) up to the smallest normal,
    // which is then kept rather than flushed.
    to_min_normal = (exp_i == 10'sd0) && (sig_i == 24'hFF_FFFF);

    if (overflow) begin
      result_o = {sign_i, 8'hFF, 23'd0};
    end else if (to_min_normal) begin
      result_o = {sign_i, 8'h01, 23'd0};
    end else if (underflow) begin
      result_o = {sign_i, 31'd0};
    end else begin
      result_o = {sign_i, exp_rounded[7:0], sig_rounded[22:0]};
    end
  end

endmodule

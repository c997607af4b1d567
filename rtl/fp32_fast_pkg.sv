/// Simulation-only fp32 arithmetic for fast simulations of large arrays
/// (`+define+EFTRAIN_FAST_FP32`, used by `make bench`): fp32_mul and fp32_add compute
/// their result with the host's double-precision arithmetic instead of the bit-level
/// datapath, with the same numeric rules (docs/numerics.md, section 1) and latency.
///
/// Why it is exact: a product of two fp32 significands has 48 bits and is exact in
/// double; a sum of two fp32 values rounded to double and then to fp32 is correctly
/// rounded, because double has more than 2 x 24 + 2 significand bits (double rounding is
/// innocuous for + and x). The one rounding to fp32 below is round to nearest even with
/// gradual underflow, then a subnormal result is flushed to signed zero, as fp32_round
/// does. tb/fp32 runs the whole fp32 vector set through both builds of the units.
///
/// Without the define the package is empty and the units use their RTL datapath.
package fp32_fast_pkg;
`ifdef EFTRAIN_FAST_FP32
`ifndef SYNTHESIS

  /// An fp32 operand as a double: subnormals read as signed zero; infinities and NaNs
  /// stay infinities and NaNs.
  function automatic real to_double(logic [31:0] x);
    logic [10:0] e;
    if (x[30:23] == 8'd0)        e = 11'd0;
    else if (x[30:23] == 8'hFF)  e = 11'h7FF;
    else                         e = 11'(x[30:23]) + 11'd896;   // rebias 127 -> 1023
    return $bitstoreal({x[31], e, x[30:23] == 8'd0 ? 23'd0 : x[22:0], 29'd0});
  endfunction

  /// A double rounded to fp32 (nearest even, gradual underflow), a subnormal result
  /// flushed to signed zero, a NaN made canonical.
  function automatic logic [31:0] to_fp32(real r);
    logic [63:0]        d;
    logic signed [12:0] e;      // fp32 biased exponent
    logic [30:0]        mag;
    logic               guard, sticky;
    d = $realtobits(r);
    if (d[62:52] == 11'h7FF) return d[51:0] != '0 ? 32'h7FC0_0000 : {d[63], 8'hFF, 23'd0};
    if (d[62:52] == 11'd0)   return {d[63], 31'd0};
    e = 13'(d[62:52]) - 13'sd896;
    if (e >= 13'sd255) return {d[63], 8'hFF, 23'd0};
    if (e <= 13'sd0) begin
      // Below 2^-126: only a value that rounds up to 2^-126 survives the flush; from
      // e = 0 (2^-127 and up) that takes a significand of all ones to the rounding bit.
      return (e == 13'sd0 && d[51:29] == '1) ? {d[63], 8'd1, 23'd0} : {d[63], 31'd0};
    end
    guard  = d[28];
    sticky = d[27:0] != '0;
    mag    = {e[7:0], d[51:29]} + 31'(guard && (sticky || d[29]));   // a carry moves to the exponent
    return mag[30:23] == 8'hFF ? {d[63], 8'hFF, 23'd0} : {d[63], mag};
  endfunction

`endif
`endif
endpackage

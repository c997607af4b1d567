/// Constants shared by every block of the EF-Train core.
///
/// The fp32 latencies are part of the contract documented in docs/numerics.md; the
/// Python side reads them from here (tb/eftrain_tb/rtl_constants.py) instead of
/// repeating them.
// A top uses only some of these constants; the rest are not a defect.
/* verilator lint_off UNUSEDPARAM */
package eftrain_pkg;

  /// Cycles from `valid_i` to `valid_o` of `fp32_mul`.
  localparam int unsigned FP32_MUL_LATENCY = 5;
  /// Cycles from `valid_i` to `valid_o` of `fp32_add`.
  localparam int unsigned FP32_ADD_LATENCY = 7;

  /// pe_array, dot mode: cycles from the multipliers' inputs to the accumulate adder's
  /// inputs (one multiply, log2(tn) tree levels).
  function automatic int unsigned pe_dot_acc_delay(int unsigned tn);
    return FP32_MUL_LATENCY + $clog2(tn) * FP32_ADD_LATENCY;
  endfunction

  /// pe_array, outer mode: cycles from the multipliers' inputs to the adders' inputs.
  localparam int unsigned PE_OUTER_ACC_DELAY = FP32_MUL_LATENCY;

  /// engine_agu: cycles from the walker's step to the entry at the head of its FIFO (the
  /// address pipeline's register stages).
  localparam int unsigned ENGINE_AGU_LATENCY = 5;
  /// engine_agu: entries its walker may have in flight (pipeline and FIFO), the FIFO's
  /// depth; at least ENGINE_AGU_LATENCY + 2 for one issue per cycle.
  localparam int unsigned ENGINE_AGU_DEPTH = 8;
  /// The canonical quiet NaN every NaN result is replaced by.
  localparam logic [31:0] FP32_CANONICAL_NAN = 32'h7FC0_0000;

  /// A NaN, whatever its sign (the magnitude bits of an fp32 value).
  function automatic logic fp32_is_nan(logic [30:0] x);
    return x[30:23] == 8'hFF && x[22:0] != '0;
  endfunction

  /// x > 0 as the fp32 units read it: not negative, not zero or subnormal, not NaN
  /// (the ReLU and its mask, docs/numerics.md section 6).
  function automatic logic fp32_positive(logic [31:0] x);
    return !x[31] && x[30:23] != 8'd0 && !fp32_is_nan(x[30:0]);
  endfunction

endpackage
/* verilator lint_on UNUSEDPARAM */

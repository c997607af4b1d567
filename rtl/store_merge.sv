/// Store merge: the last stage before the write DMA. Every word the core stores passes
/// through it, one AXI beat (LANES fp32 words) per cycle, and leaves it as
/// (docs/numerics.md, section 6):
///
///   PASS       a                      (a: the store stream)
///   RELU       relu_fp(a)             (CONV_FP with RELU)
///   RELU_MASK  relu_bp(a, b)          (CONV_BP with RELU_MASK; b: the stored activation)
///   SGD        add(b, neg(mul(lr, a))) (CONV_WU with SGD; a: dW, b: w)
///
/// b is a second stream (read data routed here by the top) that runs in step with a;
/// PASS and RELU take none. Every operation goes through the same pipeline of
/// FP32_MUL_LATENCY + FP32_ADD_LATENCY stages, and a beat enters only when the output
/// FIFO has room for it and every beat already in flight, so back-pressure from the
/// write DMA never loses a result.
module store_merge #(
  /// Bits of one beat (AXI_DATA_WIDTH): LANES = DW / 32 fp32 words.
  parameter int unsigned DW = 128
) (
  input  logic          clk_i,
  input  logic          rst_ni,
  /// The operation (store_op_e), constant while a descriptor runs.
  input  logic [1:0]    op_i,
  /// Learning rate (fp32 bits) for SGD.
  input  logic [31:0]   lr_i,
  /// a: the stored words.
  input  logic          a_valid_i,
  output logic          a_ready_o,
  input  logic [DW-1:0] a_data_i,
  /// b: the second operand (RELU_MASK, SGD).
  input  logic          b_valid_i,
  output logic          b_ready_o,
  input  logic [DW-1:0] b_data_i,
  /// To the write DMA.
  output logic          out_valid_o,
  input  logic          out_ready_i,
  output logic [DW-1:0] out_data_o
);

  import eftrain_pkg::*;

  localparam int unsigned LANES   = DW / 32;
  localparam int unsigned LATENCY = FP32_MUL_LATENCY + FP32_ADD_LATENCY;
  // Room for every beat in flight plus a full pipeline's worth of back-pressure.
  localparam int unsigned FIFO_DEPTH = 16;

  typedef enum logic [1:0] {
    StorePass     = 2'd0,
    StoreRelu     = 2'd1,
    StoreReluMask = 2'd2,
    StoreSgd      = 2'd3
  } store_op_e;

  logic need_b, fire, room;
  logic [$clog2(FIFO_DEPTH):0]   fifo_count;
  logic [$clog2(LATENCY + 1):0]  in_flight_q;
  logic                          fifo_in_valid, fifo_in_ready;

  assign need_b    = op_i == StoreReluMask || op_i == StoreSgd;
  assign room      = 32'(fifo_count) + 32'(in_flight_q) < FIFO_DEPTH;
  assign fire      = a_valid_i && (!need_b || b_valid_i) && room;
  assign a_ready_o = (!need_b || b_valid_i) && room;
  assign b_ready_o = need_b && a_valid_i && room;

  // ---- the pipeline: lr * a, then b - that; a and b delayed alongside -------------------
  logic [LATENCY-1:0]           valid_pipe_q;
  logic [LATENCY-1:0][DW-1:0]   a_pipe_q;
  // b is read twice: by the adder (SGD) after the multiply, and at the end only as
  // "b > 0" per word (RELU_MASK): the full word travels FP32_MUL_LATENCY stages, the
  // rest of the way one bit per word.
  logic [FP32_MUL_LATENCY-1:0][DW-1:0] b_pipe_q;
  logic [LATENCY-1:0][LANES-1:0]       b_pos_pipe_q;
  logic [LANES-1:0]                    b_pos;
  always_comb for (int l = 0; l < LANES; l++) b_pos[l] = fp32_positive(b_data_i[32*l +: 32]);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) valid_pipe_q <= '0;
    else         valid_pipe_q <= {valid_pipe_q[LATENCY-2:0], fire};
  end

  always_ff @(posedge clk_i) begin
    a_pipe_q <= {a_pipe_q[LATENCY-2:0], a_data_i};
    b_pipe_q <= {b_pipe_q[FP32_MUL_LATENCY-2:0], b_data_i};
    b_pos_pipe_q <= {b_pos_pipe_q[LATENCY-2:0], b_pos};
  end

  logic [LANES-1:0][31:0] product, sum;
  logic [LANES-1:0]       mul_valid, add_valid;

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    fp32_mul u_mul (
      .clk_i   (clk_i),
      .rst_ni  (rst_ni),
      .valid_i (fire),
      .a_i     (lr_i),
      .b_i     (a_data_i[32*l +: 32]),
      .valid_o (mul_valid[l]),
      .y_o     (product[l])
    );
    // w + (-(lr * dw)): the sign flip is exact (docs/numerics.md, sgd).
    fp32_add u_add (
      .clk_i   (clk_i),
      .rst_ni  (rst_ni),
      .valid_i (mul_valid[l]),
      .a_i     (b_pipe_q[FP32_MUL_LATENCY-1][32*l +: 32]),
      .b_i     ({~product[l][31], product[l][30:0]}),
      .valid_o (add_valid[l]),
      .y_o     (sum[l])
    );
  end

  // ---- the selected result --------------------------------------------------------------
  logic [DW-1:0] a_out, result;
  logic [LANES-1:0] b_out_pos;
  logic [1:0]    op_out;
  assign a_out  = a_pipe_q[LATENCY-1];
  assign b_out_pos = b_pos_pipe_q[LATENCY-1];
  assign op_out = op_i;   // constant while beats are in flight (one descriptor at a time)

  always_comb begin
    for (int l = 0; l < LANES; l++) begin
      unique case (op_out)
        StoreRelu:     result[32*l +: 32] = fp32_is_nan(a_out[32*l +: 31]) ? FP32_CANONICAL_NAN
                                          : fp32_positive(a_out[32*l +: 32]) ? a_out[32*l +: 32] : 32'd0;
        StoreReluMask: result[32*l +: 32] = b_out_pos[l] ? a_out[32*l +: 32] : 32'd0;
        StoreSgd:      result[32*l +: 32] = sum[l];
        default:       result[32*l +: 32] = a_out[32*l +: 32];
      endcase
    end
  end

  assign fifo_in_valid = valid_pipe_q[LATENCY-1];

  always_ff @(posedge clk_i) begin
    if (!rst_ni) in_flight_q <= '0;
    else         in_flight_q <= in_flight_q + $bits(in_flight_q)'(fire) - $bits(in_flight_q)'(fifo_in_valid);
  end

  stream_fifo #(.WIDTH (DW), .DEPTH (FIFO_DEPTH)) u_out (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (fifo_in_valid),
    .in_ready_o  (fifo_in_ready),
    .in_data_i   (result),
    .out_valid_o (out_valid_o),
    .out_ready_i (out_ready_i),
    .out_data_o  (out_data_o),
    .count_o     (fifo_count)
  );

  // add_valid equals valid_pipe_q's last stage; the FIFO's ready is checked below.
  logic unused;
  assign unused = ^{fifo_in_ready, add_valid};

  // The credit rule above guarantees the FIFO never refuses a result.
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  always_ff @(posedge clk_i) begin
    if (armed && fifo_in_valid && !fifo_in_ready) $fatal(1, "store_merge: output FIFO overflow");
  end
`endif

endmodule

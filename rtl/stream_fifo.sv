/// Synchronous FIFO with valid/ready on both sides (AXI-style: `valid` never depends
/// on `ready`). Used for the engine's command queues and the store port.
module stream_fifo #(
  /// Bits per entry.
  parameter int unsigned WIDTH = 32,
  /// Entries (a power of two, at least 2).
  parameter int unsigned DEPTH = 4,
  localparam int unsigned AW = $clog2(DEPTH)
) (
  /// Clock.
  input  logic             clk_i,
  /// Active-low synchronous reset.
  input  logic             rst_ni,
  /// Write side.
  input  logic             in_valid_i,
  output logic             in_ready_o,
  input  logic [WIDTH-1:0] in_data_i,
  /// Read side.
  output logic             out_valid_o,
  input  logic             out_ready_i,
  output logic [WIDTH-1:0] out_data_o,
  /// Entries held.
  output logic [AW:0]      count_o
);

  logic [WIDTH-1:0] mem [DEPTH];
  logic [AW:0]      wr_q, rd_q;
  logic             push, pop;

  assign count_o     = wr_q - rd_q;
  assign in_ready_o  = count_o != (AW + 1)'(DEPTH);
  assign out_valid_o = count_o != '0;
  assign out_data_o  = mem[rd_q[AW-1:0]];
  assign push        = in_valid_i && in_ready_o;
  assign pop         = out_valid_o && out_ready_i;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      wr_q <= '0;
      rd_q <= '0;
    end else begin
      if (push) wr_q <= wr_q + 1'b1;
      if (pop)  rd_q <= rd_q + 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin
    if (push) mem[wr_q[AW-1:0]] <= in_data_i;
  end

  initial begin
    if (DEPTH < 2 || (DEPTH & (DEPTH - 1)) != 0) $fatal(1, "stream_fifo: DEPTH must be a power of two >= 2");
  end

  // ---- assertions (simulation; every build runs them with --assert) -----------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  a_no_overflow: assert property (@(posedge clk_i) disable iff (!armed) 32'(count_o) <= DEPTH)
    else $error("stream_fifo: %0d entries in a FIFO of %0d", count_o, DEPTH);
`endif

endmodule

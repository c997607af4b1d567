/// Register slice with valid/ready on both sides (PULP's cc_stream_register): it takes
/// a new entry in the cycle the one it holds leaves, so a stream passes at one entry
/// per cycle with one cycle of latency. `out_valid_o` and `out_data_o` are flops, so
/// logic behind the slice starts from registers; `in_ready_o` is combinational from
/// `out_ready_i` (one gate), so the ready path is not cut.
module stream_register #(
  /// Bits per entry.
  parameter int unsigned WIDTH = 32
) (
  /// Clock.
  input  logic             clk_i,
  /// Active-low synchronous reset (the entry held is dropped; its data is not reset).
  input  logic             rst_ni,
  /// Write side.
  input  logic             in_valid_i,
  output logic             in_ready_o,
  input  logic [WIDTH-1:0] in_data_i,
  /// Read side: AXI-style, `out_valid_o` never depends on `out_ready_i`.
  output logic             out_valid_o,
  input  logic             out_ready_i,
  output logic [WIDTH-1:0] out_data_o
);

  logic             valid_q;
  logic [WIDTH-1:0] data_q;   // datapath: no reset, read only while valid_q

  assign in_ready_o  = !valid_q || out_ready_i;
  assign out_valid_o = valid_q;
  assign out_data_o  = data_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) valid_q <= 1'b0;
    else if (in_ready_o) valid_q <= in_valid_i;
  end

  always_ff @(posedge clk_i) begin
    if (in_valid_i && in_ready_o) data_q <= in_data_i;
  end

endmodule

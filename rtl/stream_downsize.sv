/// Splits each wide beat into RATIO narrow beats, least significant part first
/// (little-endian, as DRAM bytes ascend). RATIO = 1 is a wire.
module stream_downsize #(
  parameter int unsigned OUT_W = 128,
  parameter int unsigned RATIO = 2
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  input  logic                   in_valid_i,
  output logic                   in_ready_o,
  input  logic [RATIO*OUT_W-1:0] in_data_i,
  output logic                   out_valid_o,
  input  logic                   out_ready_i,
  output logic [OUT_W-1:0]       out_data_o
);

  if (RATIO == 1) begin : g_wire
    assign out_valid_o = in_valid_i;
    assign in_ready_o  = out_ready_i;
    assign out_data_o  = in_data_i;
    logic unused_clk;
    assign unused_clk = clk_i ^ rst_ni;
  end else begin : g_split
    localparam int unsigned CW = $clog2(RATIO);
    logic [RATIO-1:0][OUT_W-1:0] data_q;
    logic                        full_q;
    logic [CW-1:0]               index_q;

    logic last_part;
    assign last_part   = index_q == CW'(RATIO - 1);
    // The next wide beat may enter while the last part of this one leaves (no bubble).
    assign in_ready_o  = !full_q || (out_ready_i && last_part);
    assign out_valid_o = full_q;
    assign out_data_o  = data_q[index_q];

    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        full_q  <= 1'b0;
        index_q <= '0;
      end else if (in_valid_i && in_ready_o) begin
        full_q  <= 1'b1;
        index_q <= '0;
      end else if (full_q && out_ready_i) begin
        if (last_part) full_q <= 1'b0;
        index_q <= index_q + 1'b1;
      end
    end

    always_ff @(posedge clk_i) begin
      if (in_valid_i && in_ready_o) data_q <= in_data_i;
    end
  end

endmodule

/// Joins RATIO consecutive beats of a narrow stream into one wide beat, the first beat in
/// the least significant bits (little-endian, as DRAM bytes ascend). RATIO = 1 is a wire.
module stream_upsize #(
  parameter int unsigned IN_W  = 128,
  parameter int unsigned RATIO = 2
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  input  logic                  in_valid_i,
  output logic                  in_ready_o,
  input  logic [IN_W-1:0]       in_data_i,
  output logic                  out_valid_o,
  input  logic                  out_ready_i,
  output logic [RATIO*IN_W-1:0] out_data_o
);

  if (RATIO == 1) begin : g_wire
    assign out_valid_o = in_valid_i;
    assign in_ready_o  = out_ready_i;
    assign out_data_o  = in_data_i;
    logic unused_clk;
    assign unused_clk = clk_i ^ rst_ni;
  end else begin : g_join
    localparam int unsigned CW = $clog2(RATIO);
    logic [RATIO-2:0][IN_W-1:0] held_q;   // the first RATIO-1 beats
    logic [CW-1:0]              count_q;
    logic                       full_q;   // all RATIO beats present (last one in out_q)
    logic [IN_W-1:0]            last_q;

    // A new first beat may enter while the joined beat leaves (no bubble).
    assign in_ready_o  = !full_q || out_ready_i;
    assign out_valid_o = full_q;
    assign out_data_o  = {last_q, held_q};

    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        count_q <= '0;
        full_q  <= 1'b0;
      end else begin
        if (out_valid_o && out_ready_i) full_q <= 1'b0;
        if (in_valid_i && in_ready_o) begin
          if (count_q == CW'(RATIO - 1)) begin
            full_q  <= 1'b1;
            count_q <= '0;
          end else begin
            count_q <= count_q + 1'b1;
          end
        end
      end
    end

    always_ff @(posedge clk_i) begin
      if (in_valid_i && in_ready_o) begin
        if (count_q == CW'(RATIO - 1)) last_q <= in_data_i;
        else                           held_q[count_q] <= in_data_i;
      end
    end
  end

endmodule

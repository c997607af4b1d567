/// Cuts one contiguous, beat-aligned DRAM transfer into AXI4 INCR bursts of at most 256
/// beats that never cross a 4 KB boundary (the rule `eftrain.layout.axi_bursts` defines).
/// Shared by the read and write DMA.
module axi_burst_split #(
  parameter int unsigned AW         = 40,
  /// Bytes per AXI beat (a power of two).
  parameter int unsigned BEAT_BYTES = 16
) (
  input  logic          clk_i,
  input  logic          rst_ni,
  /// A transfer: beat-aligned byte address and length in beats (at least one).
  input  logic          req_valid_i,
  output logic          req_ready_o,
  input  logic [AW-1:0] req_addr_i,
  input  logic [31:0]   req_beats_i,
  /// Bursts of the current transfer, in order.
  output logic          burst_valid_o,
  input  logic          burst_ready_i,
  output logic [AW-1:0] burst_addr_o,
  /// Beats of the burst minus one (AXI AxLEN).
  output logic [7:0]    burst_len_o,
  /// This burst ends the transfer.
  output logic          burst_last_o
);

  localparam int unsigned BEAT_SHIFT  = $clog2(BEAT_BYTES);
  localparam int unsigned PAGE_BEATS  = 4096 / BEAT_BYTES;

  logic          active_q;
  logic [AW-1:0] addr_q;
  logic [31:0]   left_q;  // beats still to cut
  logic [31:0]   to_page, beats;

  logic [31:0] capped;

  // Beats from addr_q to the next 4 KB boundary; a burst takes at most that, 256, and
  // what is left.
  assign to_page = 32'(PAGE_BEATS) - 32'(addr_q[11:BEAT_SHIFT]);
  assign capped  = left_q > 32'd256 ? 32'd256 : left_q;
  assign beats   = capped > to_page ? to_page : capped;

  assign req_ready_o   = !active_q;
  assign burst_valid_o = active_q;
  assign burst_addr_o  = addr_q;
  assign burst_len_o   = 8'(beats - 32'd1);
  assign burst_last_o  = beats == left_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      active_q <= 1'b0;
      addr_q   <= '0;
      left_q   <= '0;
    end else if (!active_q) begin
      if (req_valid_i) begin
        active_q <= req_beats_i != 32'd0;
        addr_q   <= req_addr_i;
        left_q   <= req_beats_i;
      end
    end else if (burst_ready_i) begin
      addr_q <= addr_q + AW'(beats << BEAT_SHIFT);
      left_q <= left_q - beats;
      if (burst_last_o) active_q <= 1'b0;
    end
  end

endmodule

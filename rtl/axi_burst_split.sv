/// Cuts one contiguous, beat-aligned DRAM transfer into AXI4 INCR bursts of at most 256
/// beats that never cross a 4 KB boundary (the rule `eftrain.layout.axi_bursts` defines).
/// Shared by the read and write DMA.
///
/// For the clock, every burst is decided from registers alone and without a subtraction:
/// the beats from `addr_q` to the next 4 KB boundary, minus one, are the bitwise inverse
/// of the address's beat offset in its page, so the burst's cap (at most 256 beats and
/// the page's end) is a few gates, and the state steps by that cap whatever the
/// transfer's remaining length (after its last burst the state is reloaded anyway).
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
  /// Bits of a beat's offset inside its 4 KB page.
  localparam int unsigned PAGE_BITS   = 12 - BEAT_SHIFT;

  logic          active_q;
  logic [AW-1:0] addr_q;
  logic [31:0]   left_q;  // beats still to cut, this burst's included

  // Beats from addr_q to the page's end, minus one: (PAGE_BEATS - 1) - offset, the
  // offset's bits inverted. A burst that is not the transfer's last takes that many plus
  // one, at most 256.
  logic [PAGE_BITS-1:0] to_page_m1;
  logic [7:0]           cap_m1;

  assign to_page_m1 = ~addr_q[11:BEAT_SHIFT];
  if (PAGE_BITS > 8) begin : g_cap_256
    assign cap_m1 = |to_page_m1[PAGE_BITS-1:8] ? 8'hFF : to_page_m1[7:0];
  end else begin : g_cap_page
    assign cap_m1 = 8'(to_page_m1);
  end

  // The last burst takes what is left: left_q <= cap_m1 + 1, split into the high bits
  // (all zero) and a 9-bit comparison.
  logic last;
  assign last = left_q[31:9] == '0 && left_q[8:0] <= {1'b0, cap_m1} + 9'd1;

  assign req_ready_o   = !active_q;
  assign burst_valid_o = active_q;
  assign burst_addr_o  = addr_q;
  assign burst_len_o   = last ? left_q[7:0] - 8'd1 : cap_m1;
  assign burst_last_o  = last;

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
      // Step by the full cap; meaningless after the last burst, which reloads both.
      addr_q <= addr_q + ((AW'(cap_m1) + AW'(1)) << BEAT_SHIFT);
      left_q <= left_q + ~32'(cap_m1);   // left_q - (cap_m1 + 1)
      if (last) active_q <= 1'b0;
    end
  end

endmodule

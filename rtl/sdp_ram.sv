/// Simple dual-port RAM: one write port, one read port with a registered output (one
/// cycle of read latency), as Vivado infers block RAM. A read of the address being
/// written in the same cycle returns the old word (read-first).
module sdp_ram #(
  /// Bits per word.
  parameter int unsigned WIDTH = 32,
  /// Words.
  parameter int unsigned DEPTH = 1024,
  localparam int unsigned AW = DEPTH > 1 ? $clog2(DEPTH) : 1
) (
  /// Clock.
  input  logic             clk_i,
  /// Write enable.
  input  logic             we_i,
  /// Write address.
  input  logic [AW-1:0]    waddr_i,
  /// Write data.
  input  logic [WIDTH-1:0] wdata_i,
  /// Read enable: `rdata_o` shows the word at `raddr_i` after the next clock edge.
  input  logic             re_i,
  /// Read address.
  input  logic [AW-1:0]    raddr_i,
  /// Read data (held while `re_i` is low).
  output logic [WIDTH-1:0] rdata_o
);

  logic [WIDTH-1:0] mem [DEPTH];

  always_ff @(posedge clk_i) begin
    if (we_i) mem[waddr_i] <= wdata_i;
  end

  always_ff @(posedge clk_i) begin
    if (re_i) rdata_o <= mem[raddr_i];
  end

endmodule

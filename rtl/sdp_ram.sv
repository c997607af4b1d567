/// Simple dual-port RAM: one write port, one read port with a registered output (one
/// cycle of read latency), as Vivado infers block RAM. A read of the address being
/// written in the same cycle returns the old word (read-first).
///
/// `WE_SLICES` > 1 splits the word into that many equal slices, each with its own write
/// enable (Vivado's byte-write-enable template: block RAM with byte-wide write enables,
/// for slices that are whole bytes; Yosys maps it the same way).
module sdp_ram #(
  /// Bits per word.
  parameter int unsigned WIDTH = 32,
  /// Words.
  parameter int unsigned DEPTH = 1024,
  /// Write-enable slices per word (WIDTH must be a multiple).
  parameter int unsigned WE_SLICES = 1,
  localparam int unsigned AW = DEPTH > 1 ? $clog2(DEPTH) : 1,
  localparam int unsigned SLICE = WIDTH / WE_SLICES
) (
  /// Clock.
  input  logic                 clk_i,
  /// Write enable, one per slice (slice s is bits s*SLICE .. s*SLICE + SLICE-1).
  input  logic [WE_SLICES-1:0] we_i,
  /// Write address.
  input  logic [AW-1:0]        waddr_i,
  /// Write data.
  input  logic [WIDTH-1:0]     wdata_i,
  /// Read enable: `rdata_o` shows the word at `raddr_i` after the next clock edge.
  input  logic                 re_i,
  /// Read address.
  input  logic [AW-1:0]        raddr_i,
  /// Read data (held while `re_i` is low).
  output logic [WIDTH-1:0]     rdata_o
);

  if (WE_SLICES == 0 || WIDTH % WE_SLICES != 0) begin : g_bad_slices
    $fatal(1, "sdp_ram: WIDTH (%0d) must be a multiple of WE_SLICES (%0d)", WIDTH, WE_SLICES);
  end

  logic [WIDTH-1:0] mem [DEPTH];

  always_ff @(posedge clk_i) begin
    for (int s = 0; s < WE_SLICES; s++) begin
      if (we_i[s]) mem[waddr_i][s*SLICE +: SLICE] <= wdata_i[s*SLICE +: SLICE];
    end
  end

  always_ff @(posedge clk_i) begin
    if (re_i) rdata_o <= mem[raddr_i];
  end

endmodule

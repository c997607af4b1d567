/// A W-bit 4:1 multiplexer, one LUT6 per bit. It is a module of its own so that synthesis
/// maps a wide selection as a tree of these (two levels of LUT6 for 16:1) instead of
/// re-deriving the tree from one wide expression, which costs more LUTs per bit.
module mux4 #(
  /// Width of each input.
  parameter int unsigned W = 32
) (
  /// The four inputs.
  input  logic [3:0][W-1:0] d_i,
  /// Which input reaches the output.
  input  logic [1:0]        s_i,
  /// The selected input.
  output logic [W-1:0]      y_o
);

  assign y_o = d_i[s_i];

endmodule

// Simulation only: arms the assertions of one module. High from the first reset on, while
// out of reset. Before the first reset every register is random (--x-initial unique), and
// the simulator may see a clock edge at time zero, so checks made then would test noise.
module assert_armed (
  input  logic clk_i,
  input  logic rst_ni,
  output logic armed_o
);

  /* verilator lint_off PROCASSINIT */
  logic reset_seen = 1'b0;   // an initial value, not a reset: a simulation-only flag
  /* verilator lint_on PROCASSINIT */

  always_ff @(posedge clk_i) if (!rst_ni) reset_seen <= 1'b1;

  assign armed_o = reset_seen && rst_ni;

endmodule

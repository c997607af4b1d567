/// The WB halves claimed by the commands one unit has been given and not yet finished
/// (engine_dispatch). A unit finishes its commands in the order it got them, so the
/// claims are a queue: `push_i` appends a command's halves, `pop_i` (its done pulse)
/// drops the oldest. `busy_o` is the union of the halves still claimed.
module wb_claims #(
  /// Commands in flight at most (a unit's queue plus the one it runs, with margin).
  parameter int unsigned DEPTH = 8
) (
  input  logic       clk_i,
  input  logic       rst_ni,
  /// A command was dispatched to the unit; `mask_i` holds its halves (bit h: half h).
  input  logic       push_i,
  input  logic [1:0] mask_i,
  /// The unit finished its oldest command.
  input  logic       pop_i,
  /// Halves some unfinished command of the unit touches.
  output logic [1:0] busy_o
);

  // Entry i holds the i-th oldest claim; entries past the count are zero, so the union
  // of all of them is the union of the claims.
  logic [DEPTH-1:0][1:0]     mask_q;
  logic [$clog2(DEPTH+1)-1:0] count_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      mask_q  <= '0;
      count_q <= '0;
    end else begin
      logic [DEPTH-1:0][1:0]      next;
      logic [$clog2(DEPTH+1)-1:0] count;
      next  = mask_q;
      count = count_q;
      if (pop_i) begin
        next  = next >> 2;
        count = count - 1'b1;
      end
      if (push_i) begin
        next[count] = mask_i;
        count       = count + 1'b1;
      end
      mask_q  <= next;
      count_q <= count;
    end
  end

  always_comb begin
    busy_o = '0;
    for (int i = 0; i < DEPTH; i++) busy_o |= mask_q[i];
  end

`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));

  always_ff @(posedge clk_i) begin
    if (armed) begin
      assert (!(pop_i && count_q == '0)) else $error("wb_claims: a command finished without one pending");
      assert (!(push_i && !pop_i && 32'(count_q) == DEPTH)) else $error("wb_claims: more than %0d commands in flight", DEPTH);
      assert (!(push_i && mask_i == '0)) else $error("wb_claims: a command that claims no half");
    end
  end
`endif

endmodule

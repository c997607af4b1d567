/// The WB halves claimed by the commands one unit has been given and not yet finished
/// (engine_dispatch). A unit finishes its commands in the order it got them, so the
/// claims are a queue: `push_i` appends a command's halves, `pop_i` (its done pulse)
/// drops the oldest. `busy_o` is the union of the halves still claimed.
module wb_claims #(
  /// Commands in flight at most (a unit's queue plus the one it runs, with margin); >= 2.
  parameter int unsigned DEPTH = 8
) (
  input  logic       clk_i,
  input  logic       rst_ni,
  /// A command was dispatched to the unit; `mask_i` holds its halves (bit h: half h).
  input  logic       push_i,
  input  logic [1:0] mask_i,
  /// The unit finished its oldest command.
  input  logic       pop_i,
  /// Halves some unfinished command of the unit touches (a register).
  output logic [1:0] busy_o
);

  if (DEPTH < 2) begin : g_bad_depth
    $fatal(1, "wb_claims: DEPTH must be at least 2, got %0d", DEPTH);
  end

  // Built for the clock: push (the dispatcher's handshake) and pop (the last beat of a
  // unit's transfer) arrive late in the cycle, so each reaches the flops through one
  // LUT. The queue is a ring whose entries never move: a claim is written at the
  // one-hot `next_free_q` and dropped at the one-hot `oldest_q`, and `held_q` marks the
  // entries in use. `busy_o` is a register: the unions of the held claims with and
  // without the oldest are trees over flops, and push and pop only pick between them.
  logic [DEPTH-1:0][1:0] mask_q;       // the claim of each entry, read only while held
  logic [DEPTH-1:0]      held_q;       // entries holding an unfinished command's claim
  logic [DEPTH-1:0]      oldest_q;     // one-hot: the entry the next pop drops
  logic [DEPTH-1:0]      next_free_q;  // one-hot: the entry the next push writes
  logic [1:0]            busy_q, claimed, claimed_but_oldest;

  always_comb begin
    claimed            = '0;
    claimed_but_oldest = '0;
    for (int i = 0; i < DEPTH; i++) begin
      claimed            |= held_q[i] ? mask_q[i] : 2'b00;
      claimed_but_oldest |= held_q[i] && !oldest_q[i] ? mask_q[i] : 2'b00;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      held_q      <= '0;
      oldest_q    <= DEPTH'(1);
      next_free_q <= DEPTH'(1);
      busy_q      <= '0;
    end else begin
      held_q      <= (held_q & ~(pop_i ? oldest_q : '0)) | (push_i ? next_free_q : '0);
      if (pop_i)  oldest_q    <= {oldest_q[DEPTH-2:0], oldest_q[DEPTH-1]};
      if (push_i) next_free_q <= {next_free_q[DEPTH-2:0], next_free_q[DEPTH-1]};
      busy_q      <= (pop_i ? claimed_but_oldest : claimed) | (push_i ? mask_i : 2'b00);
    end
  end

  always_ff @(posedge clk_i) begin
    for (int i = 0; i < DEPTH; i++) begin
      if (push_i && next_free_q[i]) mask_q[i] <= mask_i;
    end
  end

  assign busy_o = busy_q;

`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));

  always_ff @(posedge clk_i) begin
    if (armed) begin
      assert (!(pop_i && (held_q & oldest_q) == '0)) else $error("wb_claims: a command finished without one pending");
      assert (!(push_i && !pop_i && (held_q & next_free_q) != '0))
        else $error("wb_claims: more than %0d commands in flight", DEPTH);
      assert (!(push_i && mask_i == '0)) else $error("wb_claims: a command that claims no half");
      assert ($onehot(oldest_q) && $onehot(next_free_q)) else $error("wb_claims: ring pointers not one-hot");
      assert (busy_q == claimed) else $error("wb_claims: busy %b is not the union %b of the claims", busy_q, claimed);
    end
  end
`endif

endmodule

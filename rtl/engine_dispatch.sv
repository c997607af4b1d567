/// Command dispatcher of the conv engine: takes commands in order and pushes each into
/// the queue of its unit (load, compute or store); the units then run concurrently,
/// each in its own program order.
///
/// Buffer halves synchronise the units (docs/architecture.md). The weight buffer has no
/// halves, so a command that touches it (LOAD_W, COMPUTE, STORE_W) is held until no
/// other unit has one pending; WB accesses therefore happen in program order.
module engine_dispatch #(
  /// Largest kernel size (for the command checks).
  parameter int unsigned KMAX = 5
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// Command stream in.
  input  logic                        cmd_valid_i,
  output logic                        cmd_ready_o,
  /* verilator lint_off UNUSEDSIGNAL */
  input  engine_cmd_pkg::engine_cmd_t cmd_i,  // checked fields only
  /* verilator lint_on UNUSEDSIGNAL */
  /// Pushes into the per-unit queues.
  output logic                        load_valid_o,
  input  logic                        load_ready_i,
  output logic                        compute_valid_o,
  input  logic                        compute_ready_i,
  output logic                        store_valid_o,
  input  logic                        store_ready_i,
  /// WB commands completed by each unit.
  input  logic                        load_wb_done_i,
  input  logic                        compute_done_i,
  input  logic                        store_wb_done_i,
  /// No WB command pending anywhere.
  output logic                        wb_quiet_o
);

  import engine_cmd_pkg::*;

  logic [7:0] load_wb_q, compute_q, store_wb_q;  // WB commands queued or running, per unit
  logic       to_load, to_compute, to_store, allowed, push;

  always_comb begin
    to_load    = cmd_i.op inside {OP_LOAD_IN, OP_LOAD_OUT, OP_LOAD_W};
    to_compute = cmd_i.op == OP_COMPUTE;
    to_store   = cmd_i.op inside {OP_STORE_OUT, OP_STORE_W};
    unique case (cmd_i.op)
      OP_LOAD_W:  allowed = compute_q == '0 && store_wb_q == '0;
      OP_COMPUTE: allowed = load_wb_q == '0 && store_wb_q == '0;
      OP_STORE_W: allowed = compute_q == '0 && load_wb_q == '0;
      default:    allowed = 1'b1;
    endcase
    load_valid_o    = cmd_valid_i && allowed && to_load;
    compute_valid_o = cmd_valid_i && allowed && to_compute;
    store_valid_o   = cmd_valid_i && allowed && to_store;
    cmd_ready_o     = allowed && ((to_load && load_ready_i) || (to_compute && compute_ready_i)
                                  || (to_store && store_ready_i));
    push            = cmd_valid_i && cmd_ready_o;
    wb_quiet_o      = load_wb_q == '0 && compute_q == '0 && store_wb_q == '0;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      load_wb_q  <= '0;
      compute_q  <= '0;
      store_wb_q <= '0;
    end else begin
      load_wb_q  <= load_wb_q  + 8'(push && cmd_i.op == OP_LOAD_W)  - 8'(load_wb_done_i);
      compute_q  <= compute_q  + 8'(push && cmd_i.op == OP_COMPUTE) - 8'(compute_done_i);
      store_wb_q <= store_wb_q + 8'(push && cmd_i.op == OP_STORE_W) - 8'(store_wb_done_i);
    end
  end

  // ---- assertions: commands the engine cannot run ------------------------------------
  always_ff @(posedge clk_i) begin
    if (rst_ni && cmd_valid_i) begin
      assert (to_load || to_compute || to_store)
        else $error("engine_dispatch: unknown op %0d", cmd_i.op);
      assert (to_compute || cmd_i.count != 16'd0)
        else $error("engine_dispatch: load/store of zero beats");
      if (to_compute) begin
        assert (cmd_i.k >= 3'd1 && 32'(cmd_i.k) <= KMAX)
          else $error("engine_dispatch: k %0d not in 1..%0d", cmd_i.k, KMAX);
        assert (cmd_i.stride inside {2'd1, 2'd2})
          else $error("engine_dispatch: stride %0d", cmd_i.stride);
        assert (cmd_i.pad < cmd_i.k)
          else $error("engine_dispatch: pad %0d >= k %0d", cmd_i.pad, cmd_i.k);
        assert (cmd_i.mode inside {MODE_FP, MODE_BP, MODE_WU})
          else $error("engine_dispatch: unknown mode %0d", cmd_i.mode);
        assert (!(cmd_i.mode == MODE_BP && cmd_i.stride == 2'd2 && cmd_i.out_row0[0]))
          else $error("engine_dispatch: stride-2 BP tile must start on an even row");
      end
    end
  end

endmodule

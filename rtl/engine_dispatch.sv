/// Command dispatcher of the conv engine: takes commands in order and pushes each into
/// the queue of its unit (load, compute or store); the units then run concurrently,
/// each in its own program order.
///
/// Buffer halves synchronise the units (docs/architecture.md), with two exceptions the
/// dispatcher resolves by holding a command until it is safe:
/// * WB: a command that touches it (LOAD_W, COMPUTE, STORE_W) waits until no other unit
///   has a command pending on the WB halves it touches (half 0: entries below
///   WB_DEPTH / 2, half 1: the rest), so accesses to each half happen in program order
///   while the halves of a double-buffered layer overlap (conv_engine banks them).
/// * OB has two producers (dot-mode COMPUTE, LOAD_OUT): a LOAD_OUT into a half waits
///   until every dot-mode tile dispatched on that half has been marked full.
module engine_dispatch #(
  /// Output lanes (beats per WB entry).
  parameter int unsigned TM       = 8,
  /// Largest kernel size.
  parameter int unsigned KMAX     = 5,
  /// Buffer depths, for the command checks.
  parameter int unsigned IB_DEPTH = 2048,
  parameter int unsigned OB_DEPTH = 2048,
  parameter int unsigned WB_DEPTH = 1024,
  /// Commands each unit's queue holds.
  parameter int unsigned QUEUE_DEPTH = 4
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
  /// The compute unit marked an OB half full (end of a dot-mode tile).
  input  logic [1:0]                  ob_set_full_i,
  /// No WB command pending anywhere.
  output logic                        wb_quiet_o
);

  import engine_cmd_pkg::*;

  import eftrain_pkg::pe_dot_acc_delay, eftrain_pkg::FP32_ADD_LATENCY, eftrain_pkg::ENGINE_AGU_DEPTH;

  localparam int unsigned WB_HALF = WB_DEPTH / 2;   // first entry of half 1
  // Unfinished commands per unit: its queue, the one it runs and, for the compute unit,
  // one per stage of its pipeline (a COMPUTE issues for at least one cycle; its done
  // pulse comes at write-back, pe_dot_acc_delay + adder latency stages later).
  localparam int unsigned MOVE_CLAIMS    = QUEUE_DEPTH + 2;
  // The address generator's queue adds up to ENGINE_AGU_DEPTH commands that have started
  // and not yet ended (each has its closing entry in flight).
  localparam int unsigned COMPUTE_CLAIMS = QUEUE_DEPTH + 2 + pe_dot_acc_delay(TM) + FP32_ADD_LATENCY + 1
                                           + ENGINE_AGU_DEPTH;

  logic [1:0][7:0] ob_claim_q;   // dot-mode tiles dispatched per OB half, not yet full
  logic            rst_done_q;   // no handshake during reset: the queues would drop it
  logic            to_load, to_compute, to_store, allowed, push, claims_ob;
  logic [31:0]     wb_first, wb_last;   // WB entries the command touches
  logic [1:0]      wb_mask, load_busy, compute_busy, store_busy;

  always_comb begin
    to_load    = cmd_i.op inside {OP_LOAD_IN, OP_LOAD_OUT, OP_LOAD_W};
    to_compute = cmd_i.op == OP_COMPUTE;
    to_store   = cmd_i.op inside {OP_STORE_OUT, OP_STORE_W};
    // LOAD_W / STORE_W: count beats, TM per entry; COMPUTE: the k x k kernel positions.
    wb_first   = to_compute ? 32'(cmd_i.wb_base) : 32'(cmd_i.wb_addr);
    wb_last    = wb_first + (to_compute ? 32'(cmd_i.k) * 32'(cmd_i.k) : (32'(cmd_i.count) + TM - 1) / TM);
    wb_last    = wb_last > wb_first ? wb_last - 32'd1 : wb_first;
    wb_mask    = {wb_last >= WB_HALF, wb_first < WB_HALF};
    unique case (cmd_i.op)
      OP_LOAD_W:   allowed = (wb_mask & (compute_busy | store_busy)) == '0;
      OP_COMPUTE:  allowed = (wb_mask & (load_busy | store_busy)) == '0;
      OP_STORE_W:  allowed = (wb_mask & (compute_busy | load_busy)) == '0;
      OP_LOAD_OUT: allowed = ob_claim_q[cmd_i.half] == '0;
      default:     allowed = 1'b1;
    endcase
    allowed         = allowed && rst_done_q;
    load_valid_o    = cmd_valid_i && allowed && to_load;
    compute_valid_o = cmd_valid_i && allowed && to_compute;
    store_valid_o   = cmd_valid_i && allowed && to_store;
    cmd_ready_o     = allowed && ((to_load && load_ready_i) || (to_compute && compute_ready_i)
                                  || (to_store && store_ready_i));
    push            = cmd_valid_i && cmd_ready_o;
    claims_ob       = push && to_compute && cmd_i.mode != MODE_WU && cmd_i.acc_init;
    wb_quiet_o      = (load_busy | compute_busy | store_busy) == '0;
  end

  // The WB halves each unit's unfinished WB commands touch (every COMPUTE reads WB).
  wb_claims #(.DEPTH(MOVE_CLAIMS)) u_load_claims (
    .clk_i, .rst_ni, .push_i(push && cmd_i.op == OP_LOAD_W), .mask_i(wb_mask), .pop_i(load_wb_done_i),
    .busy_o(load_busy)
  );
  wb_claims #(.DEPTH(COMPUTE_CLAIMS)) u_compute_claims (
    .clk_i, .rst_ni, .push_i(push && to_compute), .mask_i(wb_mask), .pop_i(compute_done_i),
    .busy_o(compute_busy)
  );
  wb_claims #(.DEPTH(MOVE_CLAIMS)) u_store_claims (
    .clk_i, .rst_ni, .push_i(push && cmd_i.op == OP_STORE_W), .mask_i(wb_mask), .pop_i(store_wb_done_i),
    .busy_o(store_busy)
  );

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      rst_done_q <= 1'b0;
      ob_claim_q <= '0;
    end else begin
      rst_done_q <= 1'b1;
      for (int h = 0; h < 2; h++) begin
        ob_claim_q[h] <= ob_claim_q[h] + 8'(claims_ob && cmd_i.ob_half == 1'(h)) - 8'(ob_set_full_i[h]);
      end
    end
  end

  // ---- assertions: commands the engine cannot run, counter sanity -------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  logic [31:0] wb_entries;  // WB entries a LOAD_W / STORE_W covers

  assign wb_entries = (32'(cmd_i.count) + TM - 1) / TM;

  always_ff @(posedge clk_i) begin
    if (armed && cmd_valid_i) begin
      assert (to_load || to_compute || to_store)
        else $error("engine_dispatch: unknown op %0d", cmd_i.op);
      if (to_load || to_store) begin
        assert (cmd_i.count != 16'd0) else $error("engine_dispatch: transfer of zero beats");
        assert (!(cmd_i.op == OP_LOAD_IN && 32'(cmd_i.count) > IB_DEPTH))
          else $error("engine_dispatch: LOAD_IN of %0d pixels > IB_DEPTH %0d", cmd_i.count, IB_DEPTH);
        assert (!(cmd_i.op inside {OP_LOAD_OUT, OP_STORE_OUT} && 32'(cmd_i.count) > OB_DEPTH))
          else $error("engine_dispatch: OB transfer of %0d pixels > OB_DEPTH %0d", cmd_i.count, OB_DEPTH);
        assert (!(cmd_i.op inside {OP_LOAD_W, OP_STORE_W} && 32'(cmd_i.wb_addr) + wb_entries > WB_DEPTH))
          else $error("engine_dispatch: WB transfer past WB_DEPTH %0d", WB_DEPTH);
      end
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
        assert (cmd_i.in_h != '0 && cmd_i.in_w != '0 && cmd_i.out_rows != '0 && cmd_i.out_w != '0
                && cmd_i.ib_rows != '0)
          else $error("engine_dispatch: COMPUTE with an empty image or tile");
        assert (32'(cmd_i.ib_rows) * 32'(cmd_i.in_w) <= IB_DEPTH)
          else $error("engine_dispatch: IB rows %0d x %0d > IB_DEPTH %0d", cmd_i.ib_rows, cmd_i.in_w, IB_DEPTH);
        assert (32'(cmd_i.out_rows) * 32'(cmd_i.out_w) <= OB_DEPTH)
          else $error("engine_dispatch: tile %0d x %0d > OB_DEPTH %0d", cmd_i.out_rows, cmd_i.out_w, OB_DEPTH);
        assert (32'(cmd_i.wb_base) + 32'(cmd_i.k) * 32'(cmd_i.k) <= WB_DEPTH)
          else $error("engine_dispatch: kernel entries past WB_DEPTH %0d", WB_DEPTH);
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (armed) begin
      for (int h = 0; h < 2; h++) begin
        assert (!(ob_set_full_i[h] && ob_claim_q[h] == '0))
          else $error("engine_dispatch: OB half %0d marked full without a tile on it", h);
      end
    end
  end
`endif

endmodule

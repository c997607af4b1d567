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
///
/// Two stages, for the clock: a command is decoded (its unit, the WB halves it touches,
/// what it waits for and what it claims) into a register slice (`u_decoded`), and the
/// held command is checked against the claims and pushed from there, so the hazard
/// check and the handshakes start from flops. The slice passes a command per cycle; a
/// command that finds it empty reaches its unit's queue one cycle later than it would
/// combinationally, which the unit queues hide while they hold work.
module engine_dispatch #(
  /// Output lanes (beats per WB entry); a power of two (conv_engine: TM = TN).
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
  input  engine_cmd_pkg::engine_cmd_t cmd_i,
  /// Pushes into the per-unit queues, all of the command `cmd_o`.
  output logic                        load_valid_o,
  input  logic                        load_ready_i,
  output logic                        compute_valid_o,
  input  logic                        compute_ready_i,
  output logic                        store_valid_o,
  input  logic                        store_ready_i,
  output engine_cmd_pkg::engine_cmd_t cmd_o,
  /// WB commands completed by each unit.
  input  logic                        load_wb_done_i,
  input  logic                        compute_done_i,
  input  logic                        store_wb_done_i,
  /// The compute unit marked an OB half full (end of a dot-mode tile).
  input  logic [1:0]                  ob_set_full_i,
  /// No command held here and no WB command pending anywhere.
  output logic                        idle_o
);

  import engine_cmd_pkg::*;

  import eftrain_pkg::pe_dot_acc_delay, eftrain_pkg::FP32_ADD_LATENCY, eftrain_pkg::ENGINE_AGU_DEPTH;

  localparam int unsigned WB_HALF  = WB_DEPTH / 2;   // first entry of half 1
  localparam int unsigned TM_SHIFT = $clog2(TM);     // beats per WB entry = 1 << TM_SHIFT
  // A WB position counted in beats: a 16-bit entry times TM plus a 16-bit beat count.
  localparam int unsigned BEAT_W   = 16 + TM_SHIFT + 1;
  // WB entries a COMPUTE touches, by blocks (0 counts as 1) and k: blocks * k*k. A
  // table of 7 address bits is a few LUTs per bit; a multiplier would be a carry chain.
  typedef logic [15:0][7:0][9:0] block_entries_t;
  function automatic block_entries_t block_entries();
    block_entries_t t;
    for (int b = 0; b < 16; b++)
      for (int k = 0; k < 8; k++)
        t[b][k] = 10'((b == 0 ? 1 : b) * k * k);
    return t;
  endfunction
  localparam block_entries_t BLOCK_ENTRIES = block_entries();
  // Unfinished commands per unit: its queue, the one it runs and, for the compute unit,
  // one per stage of its pipeline (a COMPUTE issues for at least one cycle; its done
  // pulse comes at write-back, pe_dot_acc_delay + adder latency stages later).
  localparam int unsigned MOVE_CLAIMS    = QUEUE_DEPTH + 2;
  // The address generator's queue adds up to ENGINE_AGU_DEPTH commands that have started
  // and not yet ended (each has its closing entry in flight).
  localparam int unsigned COMPUTE_CLAIMS = QUEUE_DEPTH + 2 + pe_dot_acc_delay(TM) + FP32_ADD_LATENCY + 1
                                           + ENGINE_AGU_DEPTH;

  if (TM == 0 || (TM & (TM - 1)) != 0) begin : g_bad_tm
    $fatal(1, "engine_dispatch: TM must be a power of two (WB beats per entry), got %0d", TM);
  end

  /// A command with what the dispatch decision needs, precomputed. The halves and
  /// the OB half are masks (bit h: half h), zero where the command has no such rule.
  typedef struct packed {
    engine_cmd_t cmd;
    logic        to_load, to_compute, to_store;   // the unit that runs it
    logic [1:0]  wb_mask;        // WB halves it touches (claimed by a WB command)
    logic [1:0]  wait_load;      // halves that must be free of the load unit's claims
    logic [1:0]  wait_compute;   // ... of the compute unit's
    logic [1:0]  wait_store;     // ... of the store unit's
    logic [1:0]  wait_ob;        // LOAD_OUT: the OB half whose dot-mode tiles must be full
    logic [1:0]  claim_ob;       // dot-mode first pass: the OB half it adds a tile to
    logic        claim_load_wb;  // LOAD_W: claims wb_mask in the load unit
    logic        claim_store_wb; // STORE_W: likewise in the store unit
  } decoded_cmd_t;

  // ---- stage 1: decode the command at the input ---------------------------------------
  logic                 in_to_load, in_to_compute, in_to_store, in_wb_first_low, in_span_zero;
  logic [15:0]          in_wb_first;   // first WB entry the command touches
  logic [15:0]          in_span;       // beats: LOAD_W / STORE_W count, COMPUTE k*k*TM
  logic [BEAT_W-1:0]    in_end;        // beat after the last one: wb_first * TM + span
  logic [1:0]           in_wb_mask;
  decoded_cmd_t         in_dec;

  assign in_to_load    = cmd_i.op inside {OP_LOAD_IN, OP_LOAD_OUT, OP_LOAD_W};
  assign in_to_compute = cmd_i.op == OP_COMPUTE;
  assign in_to_store   = cmd_i.op inside {OP_STORE_OUT, OP_STORE_W};
  // The halves of entries wb_first .. wb_last, where wb_last = wb_first + n - 1 (n the
  // entries: blocks * k*k, or ceil(count / TM)), or wb_first for n = 0. Half 1 is touched when
  // wb_last >= WB_HALF, that is wb_first + n > WB_HALF; multiplied by TM this is
  // wb_first * TM + count > WB_HALF * TM for a transfer (ceil(c / TM) > x exactly when
  // c > x * TM): one adder and a compare, no division, no multiplier.
  assign in_wb_first     = in_to_compute ? cmd_i.wb_base : cmd_i.wb_addr;
  assign in_span         = in_to_compute ? 16'(BLOCK_ENTRIES[cmd_i.blocks][cmd_i.k]) << TM_SHIFT : cmd_i.count;
  assign in_end          = (BEAT_W'(in_wb_first) << TM_SHIFT) + BEAT_W'(in_span);
  assign in_span_zero    = in_span == '0;
  assign in_wb_first_low = 32'(in_wb_first) < WB_HALF;
  assign in_wb_mask      = {in_span_zero ? !in_wb_first_low : 32'(in_end) > WB_HALF * TM, in_wb_first_low};

  always_comb begin
    in_dec.cmd            = cmd_i;
    in_dec.to_load        = in_to_load;
    in_dec.to_compute     = in_to_compute;
    in_dec.to_store       = in_to_store;
    in_dec.wb_mask        = in_wb_mask;
    // LOAD_W and STORE_W wait for the other two units, COMPUTE for the movers.
    in_dec.wait_load      = cmd_i.op inside {OP_COMPUTE, OP_STORE_W} ? in_wb_mask : 2'b00;
    in_dec.wait_compute   = cmd_i.op inside {OP_LOAD_W, OP_STORE_W}  ? in_wb_mask : 2'b00;
    in_dec.wait_store     = cmd_i.op inside {OP_LOAD_W, OP_COMPUTE}  ? in_wb_mask : 2'b00;
    in_dec.wait_ob        = cmd_i.op == OP_LOAD_OUT ? 2'b01 << cmd_i.half : 2'b00;
    in_dec.claim_ob       = in_to_compute && cmd_i.mode != MODE_WU && cmd_i.acc_init
                            ? 2'b01 << cmd_i.ob_half : 2'b00;
    in_dec.claim_load_wb  = cmd_i.op == OP_LOAD_W;
    in_dec.claim_store_wb = cmd_i.op == OP_STORE_W;
  end

  // ---- stage 2: the held command against the claims, pushed into its unit's queue ----
  logic            rst_done_q;   // no handshake during reset: the slice would drop it
  logic            dec_valid, dec_in_ready, allowed, unit_ready, push;
  decoded_cmd_t    dec;
  logic [1:0][7:0] ob_claim_q;   // dot-mode tiles dispatched per OB half, not yet full
  logic [1:0]      ob_claimed, load_busy, compute_busy, store_busy;

  stream_register #(.WIDTH($bits(decoded_cmd_t))) u_decoded (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (cmd_valid_i && rst_done_q),
    .in_ready_o  (dec_in_ready),
    .in_data_i   (in_dec),
    .out_valid_o (dec_valid),
    .out_ready_i (unit_ready),
    .out_data_o  (dec)
  );

  assign cmd_ready_o     = dec_in_ready && rst_done_q;
  assign ob_claimed      = {ob_claim_q[1] != '0, ob_claim_q[0] != '0};
  assign allowed         = ((dec.wait_load & load_busy) | (dec.wait_compute & compute_busy)
                            | (dec.wait_store & store_busy) | (dec.wait_ob & ob_claimed)) == '0;
  assign load_valid_o    = dec_valid && allowed && dec.to_load;
  assign compute_valid_o = dec_valid && allowed && dec.to_compute;
  assign store_valid_o   = dec_valid && allowed && dec.to_store;
  assign unit_ready      = allowed && ((dec.to_load && load_ready_i) || (dec.to_compute && compute_ready_i)
                                       || (dec.to_store && store_ready_i));
  assign push            = dec_valid && unit_ready;
  assign cmd_o           = dec.cmd;
  assign idle_o          = !dec_valid && (load_busy | compute_busy | store_busy) == '0;

  // The WB halves each unit's unfinished WB commands touch (every COMPUTE reads WB).
  wb_claims #(.DEPTH(MOVE_CLAIMS)) u_load_claims (
    .clk_i, .rst_ni, .push_i(push && dec.claim_load_wb), .mask_i(dec.wb_mask), .pop_i(load_wb_done_i),
    .busy_o(load_busy)
  );
  wb_claims #(.DEPTH(COMPUTE_CLAIMS)) u_compute_claims (
    .clk_i, .rst_ni, .push_i(push && dec.to_compute), .mask_i(dec.wb_mask), .pop_i(compute_done_i),
    .busy_o(compute_busy)
  );
  wb_claims #(.DEPTH(MOVE_CLAIMS)) u_store_claims (
    .clk_i, .rst_ni, .push_i(push && dec.claim_store_wb), .mask_i(dec.wb_mask), .pop_i(store_wb_done_i),
    .busy_o(store_busy)
  );

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      rst_done_q <= 1'b0;
      ob_claim_q <= '0;
    end else begin
      rst_done_q <= 1'b1;
      for (int h = 0; h < 2; h++) begin
        ob_claim_q[h] <= ob_claim_q[h] + 8'(push && dec.claim_ob[h]) - 8'(ob_set_full_i[h]);
      end
    end
  end

  // ---- assertions: commands the engine cannot run, counter sanity -------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  logic [31:0] wb_entries, wb_last;  // WB entries a LOAD_W / STORE_W covers; last WB entry touched

  assign wb_entries = (32'(cmd_i.count) + TM - 1) / TM;
  assign wb_last    = 32'(in_wb_first) + (in_to_compute ? 32'(cmd_i.k) * 32'(cmd_i.k) : wb_entries);

  // Checked at the input, where a command first shows, before it is decoded.
  always_ff @(posedge clk_i) begin
    if (armed && cmd_valid_i) begin
      assert (in_to_load || in_to_compute || in_to_store)
        else $error("engine_dispatch: unknown op %0d", cmd_i.op);
      // The decoded halves are those of entries wb_first .. wb_first + n - 1 (n > 0).
      if (cmd_i.op inside {OP_LOAD_W, OP_COMPUTE, OP_STORE_W} && wb_last > 32'(in_wb_first)) begin
        assert (in_wb_mask == {wb_last - 1 >= WB_HALF, 32'(in_wb_first) < WB_HALF})
          else $error("engine_dispatch: WB halves %b decoded for entries %0d..%0d", in_wb_mask, in_wb_first,
                      wb_last - 1);
      end
      if (in_to_load || in_to_store) begin
        assert (cmd_i.count != 16'd0) else $error("engine_dispatch: transfer of zero beats");
        assert (!(cmd_i.op == OP_LOAD_IN && 32'(cmd_i.count) > IB_DEPTH))
          else $error("engine_dispatch: LOAD_IN of %0d pixels > IB_DEPTH %0d", cmd_i.count, IB_DEPTH);
        assert (!(cmd_i.op inside {OP_LOAD_OUT, OP_STORE_OUT} && 32'(cmd_i.count) > OB_DEPTH))
          else $error("engine_dispatch: OB transfer of %0d pixels > OB_DEPTH %0d", cmd_i.count, OB_DEPTH);
        assert (!(cmd_i.op inside {OP_LOAD_W, OP_STORE_W} && 32'(cmd_i.wb_addr) + wb_entries > WB_DEPTH))
          else $error("engine_dispatch: WB transfer past WB_DEPTH %0d", WB_DEPTH);
        assert (!(cmd_i.op == OP_LOAD_W && cmd_i.mode == MODE_BP && 32'(cmd_i.count) % TM != 0))
          else $error("engine_dispatch: BP LOAD_W of %0d beats, not whole entries of %0d", cmd_i.count, TM);
      end
      if (in_to_compute) begin
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
        assert (32'(cmd_i.ib_rows) * 32'(cmd_i.in_w) * 32'(BLOCK_ENTRIES[cmd_i.blocks][1]) <= IB_DEPTH)
          else $error("engine_dispatch: IB rows %0d x %0d x %0d blocks > IB_DEPTH %0d", cmd_i.ib_rows,
                      cmd_i.in_w, BLOCK_ENTRIES[cmd_i.blocks][1], IB_DEPTH);
        assert (cmd_i.mode == MODE_WU || cmd_i.blocks <= 4'd1)
          else $error("engine_dispatch: a dot-mode COMPUTE of %0d blocks", cmd_i.blocks);
        assert (32'(cmd_i.out_rows) * 32'(cmd_i.out_w) <= OB_DEPTH)
          else $error("engine_dispatch: tile %0d x %0d > OB_DEPTH %0d", cmd_i.out_rows, cmd_i.out_w, OB_DEPTH);
        assert (32'(cmd_i.wb_base) + 32'(BLOCK_ENTRIES[cmd_i.blocks][cmd_i.k]) <= WB_DEPTH)
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

/// Compute unit of the conv engine: starts COMPUTE commands when their buffers are
/// ready, walks them with `engine_agu`, feeds `pe_array` from IB, WB and OB, and writes
/// the results back (OB in dot mode, WB in WU).
///
/// Pipeline (T = issue cycle; buffers have one cycle of read latency):
///   T       read IB pixel; dot: read WB entry; WU: read OB (dy) pixel
///   T+1     operands to the multipliers (padding positions as +0; BP's WB block was
///           written transposed by its LOAD_W, so FP and BP read WB alike)
///   dot:    read OB partial sum at T+DOT_ACC_DELAY, add at T+1+DOT_ACC_DELAY,
///           write OB at T+1+DOT_LATENCY
///   WU:     read WB dW words at T+2, add at T+3, write WB at T+1+OUTER_LATENCY
/// Read-after-write hazards on the accumulated word (OB pixel or WB entry) are resolved
/// by holding an issue whose word was issued in the last `HAZARD_WINDOW` cycles; holding
/// never reorders. A command's end travels the pipeline as a marker so OB is marked
/// full, and the command counted done, only after its last write.
module engine_compute #(
  parameter int unsigned TM    = 8,
  parameter int unsigned TN    = 8,
  parameter int unsigned IB_AW = 11,
  parameter int unsigned OB_AW = 11,
  parameter int unsigned WB_AW = 10
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// Next COMPUTE command.
  input  logic                        cmd_valid_i,
  output logic                        cmd_ready_o,
  input  engine_cmd_pkg::engine_cmd_t cmd_i,
  /// Buffer-half flags.
  input  logic [1:0]                  ib_full_i,
  input  logic [1:0]                  ob_full_i,
  output logic [1:0]                  ib_clear_full_o,
  output logic [1:0]                  ob_set_full_o,
  output logic [1:0]                  ob_clear_full_o,
  /// IB read port.
  output logic                        ib_re_o,
  output logic                        ib_half_o,
  output logic [IB_AW-1:0]            ib_addr_o,
  input  logic [1:0][TN-1:0][31:0]    ib_rdata_i,
  /// OB read and write ports.
  output logic                        ob_re_o,
  output logic                        ob_rhalf_o,
  output logic [OB_AW-1:0]            ob_raddr_o,
  input  logic [1:0][TM-1:0][31:0]    ob_rdata_i,
  output logic                        ob_we_o,
  output logic                        ob_whalf_o,
  output logic [OB_AW-1:0]            ob_waddr_o,
  output logic [TM-1:0][31:0]         ob_wdata_o,
  /// WB read and write ports (whole entries). The read data of both WB halves and,
  /// per lane, the half the last read addressed (a register): the operand and
  /// accumulate multiplexers choose the half themselves.
  output logic                        wb_re_o,
  output logic [WB_AW-1:0]            wb_rentry_o,
  input  logic [1:0][TM-1:0][TN-1:0][31:0] wb_rdata_i,
  input  logic [TM-1:0]               wb_rhalf_i,
  output logic                        wb_we_o,
  output logic [WB_AW-1:0]            wb_wentry_o,
  output logic [TM-1:0][TN-1:0][31:0] wb_wdata_o,
  /// A command's last result has been written.
  output logic                        cmd_done_o,
  /// No command in progress and the pipeline is empty.
  output logic                        idle_o,
  /// Per-cycle activity for the performance counters.
  output logic                        mac_o,
  output logic                        stall_load_o,
  output logic                        stall_store_o,
  output logic                        stall_hazard_o,
  output logic                        stall_drain_o,
  /// The walk of a command ended this cycle: its first cycle, this cycle, its MAC cycles.
  output logic                        stat_valid_o,
  output logic [31:0]                 stat_start_cycle_o,
  output logic [31:0]                 stat_end_cycle_o,
  output logic [31:0]                 stat_mac_cycles_o
);

  import eftrain_pkg::*;
  import engine_cmd_pkg::*;

  localparam int unsigned DOT_ACC_DELAY   = pe_dot_acc_delay(TN);
  localparam int unsigned DOT_LATENCY     = DOT_ACC_DELAY + FP32_ADD_LATENCY;
  localparam int unsigned OUTER_ACC_DELAY = PE_OUTER_ACC_DELAY;
  localparam int unsigned OUTER_LATENCY   = OUTER_ACC_DELAY + FP32_ADD_LATENCY;
  /// Issue-to-write distance of each mode (the stage index in `meta_q`).
  localparam int unsigned DOT_WRITE   = DOT_LATENCY;    // meta_q[d] = issue of cycle T+d+1
  localparam int unsigned OUTER_WRITE = OUTER_LATENCY;
  localparam int unsigned STAGES      = DOT_WRITE + 1;
  /// A word read in cycle R sees a write made in cycle W only if R > W; an accumulate
  /// reads FP32_ADD_LATENCY + 1 cycles before it writes, so two issues of the same word
  /// must be at least FP32_ADD_LATENCY + 2 cycles apart.
  localparam int unsigned HAZARD_WINDOW = FP32_ADD_LATENCY + 1;

  typedef struct packed {
    logic             valid;     // an issue (not a bubble)
    logic             marker;    // end of a command
    logic             ob_done;   // marker: mark the OB half full (dot mode)
    logic             pad;       // multiply +0
    logic             first;     // accumulate onto +0
    logic             zero;      // write +0 (BP phase without kernel positions)
    logic             ob_half;
    logic [OB_AW-1:0] ob_addr;
    logic [WB_AW-1:0] wb_entry;
  } meta_t;

  // ---- command start ---------------------------------------------------------------
  logic        outer_q;          // mode of what is in the pipeline: 1 = WU
  // The array's selects drive TN x 32 x 2 multiplexer LUTs per lane: one register per
  // lane each, so no flop fans out to the whole array (keep: Vivado on the signal,
  // Yosys on the flop, or synthesis merges the copies again).
  (* keep *)
  logic [TM-1:0] outer_lane_q;        // outer_q, per lane
  (* keep *)
  logic [TM-1:0] outer_first_lane_q;  // meta_q[OUTER_ADD].first, per lane
  logic [1:0]  ob_owned_q;       // dot mode: OB half accumulating, not yet marked full
  // A half whose last reader has started but not yet ended: it is released at that end,
  // so a later command on the half waits for its reload. (A command starts while the
  // previous one's last entries are still queued.)
  logic [1:0]  ib_releasing_q, ob_releasing_q;
  logic        agu_walking, agu_start_ready, agu_empty, cmd_end;
  logic        head_wu, ib_ready, ob_ready, mode_ready, pipe_empty, start;

  always_comb begin
    head_wu    = cmd_i.mode == MODE_WU;
    ib_ready   = ib_full_i[cmd_i.ib_half] && !ib_releasing_q[cmd_i.ib_half];
    // dot mode produces OB: its first pass needs a free half. WU consumes dy from OB.
    ob_ready   = head_wu ? (ob_full_i[cmd_i.ob_half] && !ob_releasing_q[cmd_i.ob_half])
                         : (!cmd_i.acc_init || !(ob_full_i[cmd_i.ob_half] || ob_owned_q[cmd_i.ob_half]));
    // The adders are wired per mode: switching between dot and outer drains first (the
    // address generator's queue too).
    mode_ready = (pipe_empty && agu_empty) || (outer_q == head_wu);
    start      = cmd_valid_i && agu_start_ready && ib_ready && ob_ready && mode_ready;
  end

  assign cmd_ready_o = start;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      outer_q <= 1'b0;
    end else if (start) begin
      outer_q <= head_wu;
    end
  end

  for (genvar m = 0; m < TM; m++) begin : g_outer_lane
    (* keep *)
    always_ff @(posedge clk_i) begin
      if (!rst_ni)    outer_lane_q[m] <= 1'b0;
      else if (start) outer_lane_q[m] <= head_wu;
    end
  end

  // A dot-mode OB half belongs to the compute unit from its first pass until the
  // marker of its last pass has been written (then it is full, and the store's).
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      ob_owned_q <= '0;
    end else begin
      if (ob_set_full_o[0]) ob_owned_q[0] <= 1'b0;
      if (ob_set_full_o[1]) ob_owned_q[1] <= 1'b0;
      if (start && !head_wu && cmd_i.acc_init) ob_owned_q[cmd_i.ob_half] <= 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      ib_releasing_q <= '0;
      ob_releasing_q <= '0;
    end else begin
      ib_releasing_q <= (ib_releasing_q & ~ib_clear_full_o)
                        | (start && cmd_i.ib_release ? 2'b01 << cmd_i.ib_half : 2'b00);
      ob_releasing_q <= (ob_releasing_q & ~ob_clear_full_o)
                        | (start && head_wu && cmd_i.ob_done ? 2'b01 << cmd_i.ob_half : 2'b00);
    end
  end

  // ---- walk and hazard check --------------------------------------------------------
  // The head of the address generator's queue: an issue, or a command's closing entry
  // (`iss_last`), which leaves at once and becomes the metadata marker.
  logic             iss_valid, iss_ready, iss_last, iss_pad, iss_first, iss_zero;
  logic             iss_ib_half, iss_ob_half, iss_wu, iss_ob_done, iss_ib_release;
  logic [IB_AW-1:0] iss_ib_addr;
  logic [OB_AW-1:0] iss_ob_addr;
  logic [WB_AW-1:0] iss_wb_entry;
  logic             hazard, issue;
  meta_t            meta_q [STAGES];

  engine_agu #(
    .IB_AW (IB_AW),
    .OB_AW (OB_AW),
    .WB_AW (WB_AW)
  ) u_agu (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .cmd_valid_i   (cmd_valid_i),
    .cmd_i         (cmd_i),
    .start_i       (start),
    .start_ready_o (agu_start_ready),
    .walking_o     (agu_walking),
    .empty_o       (agu_empty),
    .out_valid_o   (iss_valid),
    .out_ready_i   (iss_ready),
    .last_o        (iss_last),
    .ib_addr_o     (iss_ib_addr),
    .pad_o         (iss_pad),
    .ob_addr_o     (iss_ob_addr),
    .wb_entry_o    (iss_wb_entry),
    .first_o       (iss_first),
    .zero_o        (iss_zero),
    .ib_half_o     (iss_ib_half),
    .ob_half_o     (iss_ob_half),
    .wu_o          (iss_wu),
    .ob_done_o     (iss_ob_done),
    .ib_release_o  (iss_ib_release)
  );

  always_comb begin
    hazard = 1'b0;
    for (int d = 0; d < HAZARD_WINDOW; d++) begin
      if (meta_q[d].valid && (outer_q ? meta_q[d].wb_entry == iss_wb_entry
                                      : {meta_q[d].ob_half, meta_q[d].ob_addr} == {iss_ob_half, iss_ob_addr}))
        hazard = 1'b1;
    end
    iss_ready = iss_last || !hazard;
    issue     = iss_valid && !iss_last && !hazard;
    cmd_end   = iss_valid && iss_last;
  end

  // ---- metadata pipeline ------------------------------------------------------------
  meta_t meta_in;

  always_comb begin
    meta_in          = '0;
    meta_in.valid    = issue;
    meta_in.marker   = cmd_end;
    meta_in.ob_done  = cmd_end && iss_ob_done && !iss_wu;
    meta_in.pad      = iss_pad;
    meta_in.first    = iss_first;
    meta_in.zero     = iss_zero;
    meta_in.ob_half  = iss_ob_half;
    meta_in.ob_addr  = iss_ob_addr;
    meta_in.wb_entry = iss_wb_entry;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      for (int d = 0; d < STAGES; d++) meta_q[d] <= '0;
    end else begin
      meta_q[0] <= meta_in;
      for (int d = 1; d < STAGES; d++) meta_q[d] <= meta_q[d-1];
    end
  end


  always_comb begin
    pipe_empty = 1'b1;
    for (int d = 0; d < STAGES; d++) begin
      if (meta_q[d].valid || meta_q[d].marker) pipe_empty = 1'b0;
    end
  end

  // ---- buffer reads at issue --------------------------------------------------------
  assign ib_re_o     = issue;
  assign ib_half_o   = iss_ib_half;
  assign ib_addr_o   = iss_ib_addr;

  // ---- operands (T+1) ---------------------------------------------------------------
  logic                        ib_half_q;
  logic [TN-1:0][31:0]         op_a;
  logic [TM-1:0][TN-1:0][31:0] op_b;

  always_ff @(posedge clk_i) begin
    if (issue) ib_half_q <= iss_ib_half;
  end

  // op_b: dy[m] (WU) or the WB word, whose half is chosen in the same LUT (outer, dy,
  // the lane's half, and the two halves' words: five inputs).
  always_comb begin
    for (int n = 0; n < TN; n++) op_a[n] = meta_q[0].pad ? 32'd0 : ib_rdata_i[ib_half_q][n];
    for (int m = 0; m < TM; m++) begin
      for (int n = 0; n < TN; n++) begin
        if (outer_lane_q[m]) op_b[m][n] = ob_rdata_i[meta_q[0].ob_half][m];  // dy[m]
        else         op_b[m][n] = wb_rdata_i[wb_rhalf_i[m]][m][n];
      end
    end
  end

  // ---- accumulate operands ----------------------------------------------------------
  localparam int unsigned DOT_READ   = DOT_ACC_DELAY - 1;  // meta_q index of the OB read
  localparam int unsigned DOT_ADD    = DOT_ACC_DELAY;      // meta_q index of the add
  localparam int unsigned OUTER_READ = OUTER_ACC_DELAY - 1;
  localparam int unsigned OUTER_ADD  = OUTER_ACC_DELAY;

  for (genvar m = 0; m < TM; m++) begin : g_outer_first_lane
    (* keep *)
    always_ff @(posedge clk_i) begin
      if (!rst_ni) outer_first_lane_q[m] <= 1'b0;
      else         outer_first_lane_q[m] <= meta_q[OUTER_ADD-1].first;
    end
  end

  // The OB half the dot-mode add reads, or +0 for a first term, in one LUT per bit
  // (first, half, the two halves' words), so no separate zeroing stage sits on the RAM
  // outputs. An outer-mode first term is zeroed in pe_array's adder-input multiplexer
  // (outer_first_i), which also chooses the WB half: the dot-mode accumulate operand
  // arrives there ready, so that multiplexer stays one LUT6 per bit.
  logic [TM-1:0][31:0] dot_acc;
  assign dot_acc = meta_q[DOT_ADD].first ? '0 : ob_rdata_i[meta_q[DOT_ADD].ob_half];

  // OB: dy at issue (WU) or the partial sum (dot). WB: weights at issue (dot) or dW (WU).
  always_comb begin
    if (outer_q) begin
      ob_re_o     = issue;
      ob_rhalf_o  = iss_ob_half;
      ob_raddr_o  = iss_ob_addr;
      wb_re_o     = meta_q[OUTER_READ].valid;
      wb_rentry_o = meta_q[OUTER_READ].wb_entry;
    end else begin
      ob_re_o     = meta_q[DOT_READ].valid && !meta_q[DOT_READ].first;
      ob_rhalf_o  = meta_q[DOT_READ].ob_half;
      ob_raddr_o  = meta_q[DOT_READ].ob_addr;
      // A stride-2 BP phase without kernel positions (zero) adds +0 instead of the
      // products and has no WB entry: no read, so it cannot touch the other WB half.
      wb_re_o     = issue && !iss_zero;
      wb_rentry_o = iss_wb_entry;
    end
  end

  // ---- the array ----------------------------------------------------------------------
  logic                        pe_valid;
  logic [TM-1:0][TN-1:0][31:0] pe_y;

  pe_array #(
    .TM (TM),
    .TN (TN)
  ) u_array (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .outer_i       (outer_lane_q),
    .mul_valid_i   (meta_q[0].valid),
    .a_i           (op_a),
    .b_i           (op_b),
    .dot_acc_i     (dot_acc),
    .dot_zero_i    (meta_q[DOT_ADD].zero),
    .outer_first_i (outer_first_lane_q),
    .outer_acc_i   (wb_rdata_i),
    .outer_half_i  (wb_rhalf_i),
    .valid_o       (pe_valid),
    .y_o           (pe_y)
  );

  // ---- write-back ---------------------------------------------------------------------
  /* verilator lint_off UNUSEDSIGNAL */
  meta_t wr;  // the write stage uses the address, valid and marker fields
  /* verilator lint_on UNUSEDSIGNAL */

  always_comb begin
    wr = outer_q ? meta_q[OUTER_WRITE] : meta_q[DOT_WRITE];
    ob_we_o     = !outer_q && wr.valid;
    ob_whalf_o  = wr.ob_half;
    ob_waddr_o  = wr.ob_addr;
    for (int m = 0; m < TM; m++) ob_wdata_o[m] = pe_y[m][TN-1];
    wb_we_o     = outer_q && wr.valid;
    wb_wentry_o = wr.wb_entry;
    wb_wdata_o  = pe_y;
    cmd_done_o  = wr.marker;
    ob_set_full_o = '0;
    if (wr.marker && wr.ob_done) ob_set_full_o[wr.ob_half] = 1'b1;
    // Inputs are no longer needed once the walk has read them all.
    ib_clear_full_o = '0;
    ob_clear_full_o = '0;
    if (cmd_end && iss_ib_release) ib_clear_full_o[iss_ib_half] = 1'b1;
    if (cmd_end && iss_ob_done && iss_wu) ob_clear_full_o[iss_ob_half] = 1'b1;
  end

  // ---- activity and statistics --------------------------------------------------------
  // A command's statistics are reported at its closing entry. The next command may start
  // before that (its walk overlaps the queue's tail), so start cycles wait in a FIFO: a
  // command's closing entry is in flight from its start on, so at most ENGINE_AGU_DEPTH
  // of them plus the one being walked are open.
  logic [31:0] cycle_q, mac_cycles_q;
  logic        starts_ready, starts_valid, unused_starts_count;
  logic [$clog2(ENGINE_AGU_DEPTH + 1):0] starts_count;

  stream_fifo #(.WIDTH(32), .DEPTH(2 ** $clog2(ENGINE_AGU_DEPTH + 1))) u_start_cycles (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (start),
    .in_ready_o  (starts_ready),
    .in_data_i   (cycle_q),
    .out_valid_o (starts_valid),
    .out_ready_i (cmd_end),
    .out_data_o  (stat_start_cycle_o),
    .count_o     (starts_count)
  );

  assign unused_starts_count = ^starts_count;

  always_comb begin
    mac_o          = issue && !iss_zero;
    stall_hazard_o = iss_valid && !iss_last && hazard;
    stall_load_o   = cmd_valid_i && !agu_walking && !(ib_ready && (head_wu ? ob_ready : 1'b1));
    stall_store_o  = cmd_valid_i && !agu_walking && ib_ready && !head_wu && !ob_ready;
    stall_drain_o  = cmd_valid_i && !agu_walking && ib_ready && ob_ready && !mode_ready;
    idle_o         = !agu_walking && agu_empty && pipe_empty;
    stat_valid_o       = cmd_end;
    stat_end_cycle_o   = cycle_q;
    stat_mac_cycles_o  = mac_cycles_q;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      cycle_q      <= '0;
      mac_cycles_q <= '0;
    end else begin
      cycle_q <= cycle_q + 32'd1;
      if (cmd_end)    mac_cycles_q <= '0;   // no issue in that cycle
      else if (mac_o) mac_cycles_q <= mac_cycles_q + 32'd1;
    end
  end

  // ---- assertions (simulation) ------------------------------------------------------
  // The array's own valid must agree with the metadata that travels beside it.
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  always_ff @(posedge clk_i) begin
    if (armed) begin
      assert (pe_valid == wr.valid)
        else $error("engine_compute: array valid %0b but metadata valid %0b", pe_valid, wr.valid);
      assert (!start || starts_ready) else $error("engine_compute: start-cycle FIFO overflow");
      assert (!cmd_end || starts_valid) else $error("engine_compute: a command ends that never started");
    end
  end
`endif

endmodule

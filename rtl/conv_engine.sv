/// The unified conv engine: one TM x TN array of fp32 multipliers and adders that runs
/// FP and BP (dot mode) and WU (outer mode) tiles, with its input (IB), output (OB) and
/// weight (WB) buffers, driven by a stream of engine commands (docs/architecture.md).
///
/// Ports: a command stream (`engine_cmd_pkg::engine_cmd_t`), a load port and a store
/// port, each carrying one beat of TN fp32 words per cycle (one pixel of one channel
/// group, or one lane row of a weight entry) with valid/ready handshakes.
module conv_engine #(
  /// Output lanes; must equal TN.
  parameter int unsigned TM       = 8,
  /// Reduction width: a power of two, 2..32.
  parameter int unsigned TN       = 8,
  /// Largest kernel size.
  parameter int unsigned KMAX     = 5,
  /// Pixels per IB half.
  parameter int unsigned IB_DEPTH = 2048,
  /// Pixels per OB half.
  parameter int unsigned OB_DEPTH = 2048,
  /// Kernel-position entries of WB (each TM x TN words).
  parameter int unsigned WB_DEPTH = 1024,
  /// 1: IB and OB in UltraRAM (`sdp_ram` URAM); 0: the tools choose (block RAM). WB
  /// stays in block RAM: its 2 * TM RAMs of TN * 32 bits x WB_DEPTH / 2 words are too
  /// shallow for URAM288s (4096 words): 256 of them at 16 x 16, each an eighth used.
  parameter bit          BUFFER_URAM = 1'b0
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// Command stream.
  input  logic                        cmd_valid_i,
  output logic                        cmd_ready_o,
  input  engine_cmd_pkg::engine_cmd_t cmd_i,
  /// Load port: the beats of the LOAD_* commands, in command order.
  input  logic                        ld_valid_i,
  output logic                        ld_ready_o,
  input  logic [TN-1:0][31:0]         ld_data_i,
  /// Store port: the beats of the STORE_* commands, in command order.
  output logic                        st_valid_o,
  input  logic                        st_ready_i,
  output logic [TN-1:0][31:0]         st_data_o,
  /// Every command given has completed and nothing is in flight.
  output logic                        idle_o,
  /// Per-cycle activity: useful MAC cycle; compute waiting for a load, for a store,
  /// for an accumulation hazard, for a mode drain.
  output logic                        mac_o,
  output logic                        stall_load_o,
  output logic                        stall_store_o,
  output logic                        stall_hazard_o,
  output logic                        stall_drain_o,
  /// One record per COMPUTE command, when its walk ends: first cycle, last cycle, MAC cycles.
  output logic                        stat_valid_o,
  output logic [31:0]                 stat_start_cycle_o,
  output logic [31:0]                 stat_end_cycle_o,
  output logic [31:0]                 stat_mac_cycles_o
);

  import engine_cmd_pkg::*;

  localparam int unsigned IB_AW = $clog2(IB_DEPTH);
  localparam int unsigned OB_AW = $clog2(OB_DEPTH);
  localparam int unsigned WB_AW = $clog2(WB_DEPTH);
  localparam int unsigned WB_HALF = WB_DEPTH / 2;   // first entry of WB's second half
  localparam int unsigned QUEUE_DEPTH = 4;

  if (TM != TN) begin : g_bad_shape
    $fatal(1, "conv_engine: TM (%0d) must equal TN (%0d): one layer's output tiles are the next one's input tiles and BP transposes the FP weight block", TM, TN);
  end
  if (TN < 2 || TN > 32 || (TN & (TN - 1)) != 0) begin : g_bad_tn
    $fatal(1, "conv_engine: TN must be a power of two in 2..32, got %0d", TN);
  end
  if (IB_DEPTH > 65535 || OB_DEPTH > 65535 || WB_DEPTH > 65535) begin : g_bad_depth
    $fatal(1, "conv_engine: buffer depths are limited to 65535 (16-bit command counts, addresses and depth registers)");
  end
  if (WB_DEPTH < 2) begin : g_bad_wb_depth
    $fatal(1, "conv_engine: WB_DEPTH must be at least 2 (WB has two halves), got %0d", WB_DEPTH);
  end
  if (KMAX < 3 || KMAX > 7) begin : g_bad_kmax
    $fatal(1, "conv_engine: KMAX must be in 3..7, got %0d", KMAX);
  end

`ifndef SYNTHESIS
  logic armed;  // assertions (simulation) checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
`endif

  // Buffer-half flags (below): declared here, the dispatcher reads them.
  logic [1:0] ib_full_q, ob_full_q;
  logic [1:0] load_ib_set, load_ob_set, compute_ib_clear, compute_ob_set, compute_ob_clear, store_ob_clear;

  // ---- dispatcher and unit queues -------------------------------------------------------
  logic        q_load_push, q_compute_push, q_store_push;
  logic        q_load_ready, q_compute_ready, q_store_ready;
  logic        load_cmd_valid, compute_cmd_valid, store_cmd_valid;
  logic        load_cmd_ready, compute_cmd_ready, store_cmd_ready;
  engine_cmd_t dispatched_cmd, load_cmd, compute_cmd, store_cmd;
  logic        load_wb_done, compute_done, store_wb_done, dispatch_idle;
  logic [$clog2(QUEUE_DEPTH):0] load_count, compute_count, store_count;

  engine_dispatch #(
    .TM          (TM),
    .KMAX        (KMAX),
    .IB_DEPTH    (IB_DEPTH),
    .OB_DEPTH    (OB_DEPTH),
    .WB_DEPTH    (WB_DEPTH),
    .QUEUE_DEPTH (QUEUE_DEPTH)
  ) u_dispatch (
    .clk_i           (clk_i),
    .rst_ni          (rst_ni),
    .cmd_valid_i     (cmd_valid_i),
    .cmd_ready_o     (cmd_ready_o),
    .cmd_i           (cmd_i),
    .load_valid_o    (q_load_push),
    .load_ready_i    (q_load_ready),
    .compute_valid_o (q_compute_push),
    .compute_ready_i (q_compute_ready),
    .store_valid_o   (q_store_push),
    .store_ready_i   (q_store_ready),
    .cmd_o           (dispatched_cmd),
    .load_wb_done_i  (load_wb_done),
    .compute_done_i  (compute_done),
    .store_wb_done_i (store_wb_done),
    .ob_set_full_i   (compute_ob_set),
    .idle_o          (dispatch_idle)
  );

  stream_fifo #(.WIDTH($bits(engine_cmd_t)), .DEPTH(QUEUE_DEPTH)) u_load_queue (
    .clk_i (clk_i), .rst_ni (rst_ni),
    .in_valid_i (q_load_push), .in_ready_o (q_load_ready), .in_data_i (dispatched_cmd),
    .out_valid_o (load_cmd_valid), .out_ready_i (load_cmd_ready), .out_data_o (load_cmd),
    .count_o (load_count)
  );
  stream_fifo #(.WIDTH($bits(engine_cmd_t)), .DEPTH(QUEUE_DEPTH)) u_compute_queue (
    .clk_i (clk_i), .rst_ni (rst_ni),
    .in_valid_i (q_compute_push), .in_ready_o (q_compute_ready), .in_data_i (dispatched_cmd),
    .out_valid_o (compute_cmd_valid), .out_ready_i (compute_cmd_ready), .out_data_o (compute_cmd),
    .count_o (compute_count)
  );
  stream_fifo #(.WIDTH($bits(engine_cmd_t)), .DEPTH(QUEUE_DEPTH)) u_store_queue (
    .clk_i (clk_i), .rst_ni (rst_ni),
    .in_valid_i (q_store_push), .in_ready_o (q_store_ready), .in_data_i (dispatched_cmd),
    .out_valid_o (store_cmd_valid), .out_ready_i (store_cmd_ready), .out_data_o (store_cmd),
    .count_o (store_count)
  );

  // ---- buffer-half flags ---------------------------------------------------------------

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      ib_full_q <= '0;
      ob_full_q <= '0;
    end else begin
      ib_full_q <= (ib_full_q | load_ib_set) & ~compute_ib_clear;
      ob_full_q <= (ob_full_q | load_ob_set | compute_ob_set) & ~(compute_ob_clear | store_ob_clear);
    end
  end

  // ---- units -----------------------------------------------------------------------------
  logic                        ld_ib_we, ld_ib_half, ld_ob_we, ld_ob_half, ld_wb_we;
  logic [IB_AW-1:0]            ld_ib_addr;
  logic [OB_AW-1:0]            ld_ob_addr;
  logic [WB_AW-1:0]            ld_wb_entry;
  logic [$clog2(TM)-1:0]       ld_wb_lane;
  logic [TM-1:0]               ld_wb_tr;                   // BP LOAD_W (one copy per lane)
  logic [TN-1:0][31:0]         ld_wdata;

  logic                        st_ob_re, st_ob_half, st_wb_re;
  logic [OB_AW-1:0]            st_ob_addr;
  logic [WB_AW-1:0]            st_wb_entry;

  logic                        cp_ib_re, cp_ib_half, cp_ob_re, cp_ob_rhalf, cp_ob_we, cp_ob_whalf;
  logic                        cp_wb_re, cp_wb_we, cp_idle, ld_idle, st_idle;
  logic [IB_AW-1:0]            cp_ib_addr;
  logic [OB_AW-1:0]            cp_ob_raddr, cp_ob_waddr;
  logic [TM-1:0][31:0]         cp_ob_wdata;
  logic [WB_AW-1:0]            cp_wb_rentry, cp_wb_wentry;
  logic [TM-1:0][TN-1:0][31:0] cp_wb_wdata;

  logic [1:0][TN-1:0][31:0]    ib_rdata;
  logic [1:0][TM-1:0][31:0]    ob_rdata;
  logic [1:0][TM-1:0][TN-1:0][31:0] wb_bank_rdata;        // each WB half's read data
  logic cp_rbank, cp_wbank, ld_wbank, st_rbank, st_rbank_q;   // WB halves addressed
  (* keep *)
  logic [TM-1:0]               cp_rbank_q;                 // one copy per lane (below)

  engine_load #(
    .TM (TM), .TN (TN), .IB_AW (IB_AW), .OB_AW (OB_AW), .WB_AW (WB_AW)
  ) u_load (
    .clk_i         (clk_i),
    .rst_ni        (rst_ni),
    .cmd_valid_i   (load_cmd_valid),
    .cmd_ready_o   (load_cmd_ready),
    .cmd_i         (load_cmd),
    .ld_valid_i    (ld_valid_i),
    .ld_ready_o    (ld_ready_o),
    .ld_data_i     (ld_data_i),
    .ib_full_i     (ib_full_q),
    .ob_full_i     (ob_full_q),
    .ib_set_full_o (load_ib_set),
    .ob_set_full_o (load_ob_set),
    .ib_we_o       (ld_ib_we),
    .ib_half_o     (ld_ib_half),
    .ib_addr_o     (ld_ib_addr),
    .ob_we_o       (ld_ob_we),
    .ob_half_o     (ld_ob_half),
    .ob_addr_o     (ld_ob_addr),
    .wb_we_o       (ld_wb_we),
    .wb_entry_o    (ld_wb_entry),
    .wb_lane_o     (ld_wb_lane),
    .wb_tr_o       (ld_wb_tr),
    .wdata_o       (ld_wdata),
    .wb_cmd_done_o (load_wb_done),
    .idle_o        (ld_idle)
  );

  engine_compute #(
    .TM (TM), .TN (TN), .IB_AW (IB_AW), .OB_AW (OB_AW), .WB_AW (WB_AW)
  ) u_compute (
    .clk_i              (clk_i),
    .rst_ni             (rst_ni),
    .cmd_valid_i        (compute_cmd_valid),
    .cmd_ready_o        (compute_cmd_ready),
    .cmd_i              (compute_cmd),
    .ib_full_i          (ib_full_q),
    .ob_full_i          (ob_full_q),
    .ib_clear_full_o    (compute_ib_clear),
    .ob_set_full_o      (compute_ob_set),
    .ob_clear_full_o    (compute_ob_clear),
    .ib_re_o            (cp_ib_re),
    .ib_half_o          (cp_ib_half),
    .ib_addr_o          (cp_ib_addr),
    .ib_rdata_i         (ib_rdata),
    .ob_re_o            (cp_ob_re),
    .ob_rhalf_o         (cp_ob_rhalf),
    .ob_raddr_o         (cp_ob_raddr),
    .ob_rdata_i         (ob_rdata),
    .ob_we_o            (cp_ob_we),
    .ob_whalf_o         (cp_ob_whalf),
    .ob_waddr_o         (cp_ob_waddr),
    .ob_wdata_o         (cp_ob_wdata),
    .wb_re_o            (cp_wb_re),
    .wb_rentry_o        (cp_wb_rentry),
    .wb_rdata_i         (wb_bank_rdata),
    .wb_rhalf_i         (cp_rbank_q),
    .wb_we_o            (cp_wb_we),
    .wb_wentry_o        (cp_wb_wentry),
    .wb_wdata_o         (cp_wb_wdata),
    .cmd_done_o         (compute_done),
    .idle_o             (cp_idle),
    .mac_o              (mac_o),
    .stall_load_o       (stall_load_o),
    .stall_store_o      (stall_store_o),
    .stall_hazard_o     (stall_hazard_o),
    .stall_drain_o      (stall_drain_o),
    .stat_valid_o       (stat_valid_o),
    .stat_start_cycle_o (stat_start_cycle_o),
    .stat_end_cycle_o   (stat_end_cycle_o),
    .stat_mac_cycles_o  (stat_mac_cycles_o)
  );

  engine_store #(
    .TM (TM), .TN (TN), .OB_AW (OB_AW), .WB_AW (WB_AW)
  ) u_store (
    .clk_i           (clk_i),
    .rst_ni          (rst_ni),
    .cmd_valid_i     (store_cmd_valid),
    .cmd_ready_o     (store_cmd_ready),
    .cmd_i           (store_cmd),
    .st_valid_o      (st_valid_o),
    .st_ready_i      (st_ready_i),
    .st_data_o       (st_data_o),
    .ob_full_i       (ob_full_q),
    .ob_clear_full_o (store_ob_clear),
    .ob_re_o         (st_ob_re),
    .ob_half_o       (st_ob_half),
    .ob_addr_o       (st_ob_addr),
    .ob_rdata_i      (ob_rdata),
    .wb_re_o         (st_wb_re),
    .wb_entry_o      (st_wb_entry),
    .wb_rdata_i      (wb_bank_rdata),
    .wb_rhalf_i      (st_rbank_q),
    .wb_cmd_done_o   (store_wb_done),
    .idle_o          (st_idle)
  );

  // ---- buffers -------------------------------------------------------------------------
  // IB: written by the load unit, read by the compute unit; one RAM per half.
  for (genvar h = 0; h < 2; h++) begin : g_ib
    sdp_ram #(.WIDTH(TN * 32), .DEPTH(IB_DEPTH), .URAM(BUFFER_URAM)) u_ram (
      .clk_i   (clk_i),
      .we_i    (ld_ib_we && ld_ib_half == 1'(h)),
      .waddr_i (ld_ib_addr),
      .wdata_i (ld_wdata),
      .re_i    (cp_ib_re && cp_ib_half == 1'(h)),
      .raddr_i (cp_ib_addr),
      .rdata_o (ib_rdata[h])
    );
  end

  // OB: one RAM per half, so the store of one tile overlaps the compute of the next.
  // A half has one owner at a time (load or compute writes, compute or store reads).
  for (genvar h = 0; h < 2; h++) begin : g_ob
    logic cp_writes, ld_writes, cp_reads, st_reads;
    assign cp_writes = cp_ob_we && cp_ob_whalf == 1'(h);
    assign ld_writes = ld_ob_we && ld_ob_half == 1'(h);
    assign cp_reads  = cp_ob_re && cp_ob_rhalf == 1'(h);
    assign st_reads  = st_ob_re && st_ob_half == 1'(h);
    sdp_ram #(.WIDTH(TM * 32), .DEPTH(OB_DEPTH), .URAM(BUFFER_URAM)) u_ram (
      .clk_i   (clk_i),
      .we_i    (cp_writes || ld_writes),
      .waddr_i (cp_writes ? cp_ob_waddr : ld_ob_addr),
      .wdata_i (cp_writes ? cp_ob_wdata : ld_wdata),  // TM == TN
      .re_i    (cp_reads || st_reads),
      .raddr_i (cp_reads ? cp_ob_raddr : st_ob_addr),
      .rdata_o (ob_rdata[h])
    );
`ifndef SYNTHESIS
    always_ff @(posedge clk_i) begin
      if (armed) begin
        assert (!(cp_writes && ld_writes)) else $error("conv_engine: OB half %0d written by compute and load at once", h);
        assert (!(cp_reads && st_reads)) else $error("conv_engine: OB half %0d read by compute and store at once", h);
        assert (!(st_reads && (cp_writes || ld_writes))) else $error("conv_engine: OB half %0d read by store while being written", h);
        assert (!(cp_reads && ld_writes)) else $error("conv_engine: OB half %0d read by compute while load writes it", h);
      end
    end
`endif
  end

  // WB: per lane m, one RAM per half (entries below WB_HALF, and the rest), each entry
  // TN words. The dispatcher keeps WB commands of different units on different halves,
  // so in a cycle each half is written by at most one unit and read by at most one, and
  // a double-buffered layer's weight loads (or dW stores) run beside its COMPUTEs.
  assign cp_rbank = 32'(cp_wb_rentry) >= WB_HALF;
  assign cp_wbank = 32'(cp_wb_wentry) >= WB_HALF;
  assign ld_wbank = 32'(ld_wb_entry) >= WB_HALF;
  assign st_rbank = 32'(st_wb_entry) >= WB_HALF;

  // A RAM holds its read data while not read: so does the choice of the RAM. Compute
  // gets both halves' read data and the half it read, and chooses in the LUTs that
  // consume the words (its operand and accumulate multiplexers), so no separate
  // TM x TN x 32-bit multiplexer sits on the RAM outputs. That choice drives
  // TN x 32 x 2 LUTs per lane: one register per lane (keep: Vivado on the signal,
  // Yosys on the flop).
  always_ff @(posedge clk_i) begin
    if (st_wb_re) st_rbank_q <= st_rbank;
  end

  for (genvar m = 0; m < TM; m++) begin : g_cp_rbank
    (* keep *)
    always_ff @(posedge clk_i) begin
      if (cp_wb_re) cp_rbank_q[m] <= cp_rbank;
    end
  end

  // A BP LOAD_W writes its entries transposed: word m of lane row r belongs in lane m,
  // word position r. Block RAM writes narrower than a word only by byte enables, and
  // per-word enables would pack WB's words 32 bits to 36 (a 512-bit lane in 16 RAMB18
  // instead of 15). So the first TM-1 beats of an entry wait in flops, lane m's word at
  // position r, and the entry's last beat writes every lane whole: the waiting words
  // and, in position TM-1, the beat's own word m. (A BP LOAD_W moves whole entries.)
  logic [TM-1:0][TM-2:0][31:0] ld_tr_q;   // [lane m][position r]: word m of beat r

  for (genvar m = 0; m < TM; m++) begin : g_ld_tr
    for (genvar r = 0; r < TM - 1; r++) begin : g_pos
      always_ff @(posedge clk_i) begin
        if (ld_wb_we && ld_wb_lane == $clog2(TM)'(r)) ld_tr_q[m][r] <= ld_wdata[m];
      end
    end
  end

  // One write-data multiplexer per lane, shared by both halves: compute writes WB only
  // in WU (dW) and the load unit only for FP/BP weights (LOAD_W), and no program mixes
  // the two while either is in flight (a WU layer moves weights by STORE_W alone, and a
  // descriptor's commands finish before the next descriptor's start). Asserted below.
  // One LUT per bit: compute's word, the beat's word n (FP), or the transposed one (BP).
  logic [TM-1:0][TN-1:0][31:0] wb_wdata;

  for (genvar m = 0; m < TM; m++) begin : g_wb_wdata
    for (genvar n = 0; n < TN; n++) begin : g_word
      logic [31:0] tr_word;   // BP: word n of lane m (TM == TN)
      if (n == TM - 1) begin : g_last
        assign tr_word = ld_wdata[m];
      end else begin : g_waiting
        assign tr_word = ld_tr_q[m][n];
      end
      assign wb_wdata[m][n] = cp_wb_we ? cp_wb_wdata[m][n] : ld_wb_tr[m] ? tr_word : ld_wdata[n];
    end
  end

  for (genvar b = 0; b < 2; b++) begin : g_wb_bank
    localparam int unsigned BASE  = b == 0 ? 0 : WB_HALF;
    localparam int unsigned DEPTH = b == 0 ? WB_HALF : WB_DEPTH - WB_HALF;
    localparam int unsigned AW    = DEPTH > 1 ? $clog2(DEPTH) : 1;
    logic cp_writes, cp_reads, st_reads;
    assign cp_writes = cp_wb_we && cp_wbank == 1'(b);
    assign cp_reads  = cp_wb_re && cp_rbank == 1'(b);
    assign st_reads  = st_wb_re && st_rbank == 1'(b);
    for (genvar m = 0; m < TM; m++) begin : g_lane
      // The load writes lane m with lane row m (FP) or, transposed, with the entry's
      // last beat (BP).
      logic ld_writes;
      assign ld_writes = ld_wb_we && ld_wbank == 1'(b)
                         && ld_wb_lane == $clog2(TM)'(ld_wb_tr[m] ? TM - 1 : m);
      sdp_ram #(.WIDTH(TN * 32), .DEPTH(DEPTH)) u_ram (
        .clk_i   (clk_i),
        .we_i    (cp_writes || ld_writes),
        .waddr_i (AW'((cp_writes ? 32'(cp_wb_wentry) : 32'(ld_wb_entry)) - BASE)),
        .wdata_i (wb_wdata[m]),
        .re_i    (cp_reads || st_reads),
        .raddr_i (AW'((cp_reads ? 32'(cp_wb_rentry) : 32'(st_wb_entry)) - BASE)),
        .rdata_o (wb_bank_rdata[b][m])
      );
    end
`ifndef SYNTHESIS
    always_ff @(posedge clk_i) begin
      if (armed) begin
        assert (!(cp_writes && ld_wb_we && ld_wbank == 1'(b)))
          else $error("conv_engine: WB half %0d written by compute and load at once", b);
        assert (!(cp_reads && st_reads)) else $error("conv_engine: WB half %0d read by compute and store at once", b);
        assert (!(cp_reads && ld_wb_we && ld_wbank == 1'(b)))
          else $error("conv_engine: WB half %0d read by compute while load writes it", b);
        assert (!(st_reads && cp_writes)) else $error("conv_engine: WB half %0d read by store while compute writes it", b);
      end
    end
`endif
  end

  assign idle_o = load_count == '0 && compute_count == '0 && store_count == '0
                  && ld_idle && cp_idle && st_idle && dispatch_idle;

  // ---- assertions (simulation) ------------------------------------------------------------
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (armed) begin
      assert (!(cp_wb_we && ld_wb_we)) else $error("conv_engine: WB written by compute and load in one cycle");
      assert (!(cp_ib_re && ld_ib_we && cp_ib_half == ld_ib_half))
        else $error("conv_engine: IB half %0d read by compute while load writes it", cp_ib_half);
      assert (((store_ob_clear | compute_ob_clear) & ~ob_full_q) == '0) else $error("conv_engine: OB half released while empty");
      assert (!($past(st_valid_o && !st_ready_i) && !st_valid_o)) else $error("conv_engine: store valid dropped before ready");
      assert ((load_ib_set & ib_full_q) == '0) else $error("conv_engine: IB half loaded while full");
      assert ((compute_ib_clear & ~ib_full_q) == '0) else $error("conv_engine: IB half released while empty");
      assert (((load_ob_set | compute_ob_set) & ob_full_q) == '0) else $error("conv_engine: OB half filled while full");
      assert (!(st_valid_o && !st_ready_i && $past(st_valid_o && !st_ready_i) && st_data_o != $past(st_data_o)))
        else $error("conv_engine: store data changed while stalled");
    end
  end
`endif

endmodule

/// Load unit of the conv engine: executes LOAD_IN, LOAD_OUT and LOAD_W in order,
/// taking one beat (one pixel of TN channels, or one lane row of a weight entry) per
/// cycle from the load port and writing it to consecutive buffer addresses.
///
/// A LOAD_IN / LOAD_OUT waits until its buffer half is free (not full), fills it and
/// marks it full. LOAD_W writes WB entries `wb_addr + b / TM`, lane `b % TM`; a BP
/// LOAD_W (mode BP) writes the beat transposed, which the WB write port does (`wb_tr_o`).
module engine_load #(
  parameter int unsigned TM    = 8,
  parameter int unsigned TN    = 8,
  parameter int unsigned IB_AW = 11,
  parameter int unsigned OB_AW = 11,
  parameter int unsigned WB_AW = 10
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// Next command for this unit.
  input  logic                        cmd_valid_i,
  output logic                        cmd_ready_o,
  input  engine_cmd_pkg::engine_cmd_t cmd_i,
  /// Load port.
  input  logic                        ld_valid_i,
  output logic                        ld_ready_o,
  input  logic [TN-1:0][31:0]         ld_data_i,
  /// Buffer-half flags.
  input  logic [1:0]                  ib_full_i,
  input  logic [1:0]                  ob_full_i,
  output logic [1:0]                  ib_set_full_o,
  output logic [1:0]                  ob_set_full_o,
  /// Buffer write ports.
  output logic                        ib_we_o,
  output logic                        ib_half_o,
  output logic [IB_AW-1:0]            ib_addr_o,
  output logic                        ob_we_o,
  output logic                        ob_half_o,
  output logic [OB_AW-1:0]            ob_addr_o,
  output logic                        wb_we_o,
  output logic [WB_AW-1:0]            wb_entry_o,
  output logic [$clog2(TM)-1:0]       wb_lane_o,
  /// The LOAD_W is BP's: the beat's word m goes to lane m, word position `wb_lane_o`
  /// (conv_engine writes the entry at its last beat). A register, one copy per WB lane
  /// (each drives that lane's TN x 32 write-data multiplexers).
  output logic [TM-1:0]               wb_tr_o,
  /// Data for every write port (one beat).
  output logic [TN-1:0][31:0]         wdata_o,
  /// A LOAD_W command completed.
  output logic                        wb_cmd_done_o,
  /// No command in progress.
  output logic                        idle_o
);

  import engine_cmd_pkg::*;

  localparam int unsigned LANE_W = $clog2(TM);

  logic        active_q;
  // Each unit reads only the fields of the shared command format that concern it.
  /* verilator lint_off UNUSEDSIGNAL */
  engine_cmd_t cmd_q;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [15:0] beat_q;
  // The beat taken next is the command's last: a register, so that the done pulses
  // (to the dispatcher's claims and the buffer flags) are a gate behind the load
  // port's valid, not a 16-bit compare.
  logic        last_beat_q;
  logic        target_free, take;
  (* keep *)
  logic [TM-1:0] wb_tr_q;

  always_comb begin
    unique case (cmd_i.op)
      OP_LOAD_IN:  target_free = !ib_full_i[cmd_i.half];
      OP_LOAD_OUT: target_free = !ob_full_i[cmd_i.half];
      default:     target_free = 1'b1;
    endcase
  end

  // A command starts when its target half is free; its beats then stream through.
  assign cmd_ready_o = !active_q && target_free;
  assign ld_ready_o  = active_q;
  assign idle_o      = !active_q;
  assign take        = active_q && ld_valid_i;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      active_q    <= 1'b0;
      beat_q      <= '0;
      last_beat_q <= 1'b0;
    end else if (!active_q) begin
      if (cmd_valid_i && cmd_ready_o) begin
        active_q    <= cmd_i.count != 16'd0;
        beat_q      <= '0;
        last_beat_q <= cmd_i.count == 16'd1;
      end
    end else if (take) begin
      beat_q      <= beat_q + 16'd1;
      last_beat_q <= beat_q + 16'd2 == cmd_q.count;
      if (last_beat_q) active_q <= 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!active_q && cmd_valid_i && cmd_ready_o) cmd_q <= cmd_i;
  end

  // Replicated (keep: Vivado on the signal, Yosys on the flop), so that each copy
  // drives one lane's write-data multiplexers.
  for (genvar m = 0; m < TM; m++) begin : g_wb_tr
    (* keep *)
    always_ff @(posedge clk_i) begin
      if (!active_q && cmd_valid_i && cmd_ready_o) wb_tr_q[m] <= cmd_i.op == OP_LOAD_W && cmd_i.mode == MODE_BP;
    end
  end

  always_comb begin
    ib_we_o       = take && cmd_q.op == OP_LOAD_IN;
    ob_we_o       = take && cmd_q.op == OP_LOAD_OUT;
    wb_we_o       = take && cmd_q.op == OP_LOAD_W;
    ib_half_o     = cmd_q.half;
    ob_half_o     = cmd_q.half;
    ib_addr_o     = IB_AW'(beat_q);
    ob_addr_o     = OB_AW'(beat_q);
    wb_entry_o    = WB_AW'(cmd_q.wb_addr + (beat_q >> LANE_W));
    wb_lane_o     = LANE_W'(beat_q);
    wb_tr_o       = wb_tr_q;
    wdata_o       = ld_data_i;
    ib_set_full_o = '0;
    ob_set_full_o = '0;
    if (take && last_beat_q && cmd_q.op == OP_LOAD_IN)  ib_set_full_o[cmd_q.half] = 1'b1;
    if (take && last_beat_q && cmd_q.op == OP_LOAD_OUT) ob_set_full_o[cmd_q.half] = 1'b1;
    wb_cmd_done_o = take && last_beat_q && cmd_q.op == OP_LOAD_W;
  end

endmodule

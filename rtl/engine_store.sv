/// Store unit of the conv engine: executes STORE_OUT and STORE_W in order, reading one
/// buffer entry per cycle and sending it on the store port (one pixel of TM channels,
/// or one lane row of a WB entry, per beat). A 4-entry output FIFO absorbs the buffer's
/// read latency so the port runs at one beat per cycle under any backpressure.
///
/// STORE_OUT waits until its OB half is full and frees it after the last read.
module engine_store #(
  parameter int unsigned TM    = 8,
  parameter int unsigned TN    = 8,
  parameter int unsigned OB_AW = 11,
  parameter int unsigned WB_AW = 10
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// Next command for this unit.
  input  logic                        cmd_valid_i,
  output logic                        cmd_ready_o,
  input  engine_cmd_pkg::engine_cmd_t cmd_i,
  /// Store port.
  output logic                        st_valid_o,
  input  logic                        st_ready_i,
  output logic [TN-1:0][31:0]         st_data_o,
  /// OB-half flags.
  input  logic [1:0]                  ob_full_i,
  output logic [1:0]                  ob_clear_full_o,
  /// Buffer read ports (one cycle of latency).
  output logic                        ob_re_o,
  output logic                        ob_half_o,
  output logic [OB_AW-1:0]            ob_addr_o,
  input  logic [1:0][TM-1:0][31:0]    ob_rdata_i,
  output logic                        wb_re_o,
  output logic [WB_AW-1:0]            wb_entry_o,
  /// Both WB halves' read data, and which half the read of the previous cycle addressed:
  /// the store picks its lane row from each half, then the half (a 2 x TM to 1
  /// multiplexer per bit instead of a whole-entry half multiplexer, then the lane one).
  input  logic [1:0][TM-1:0][TN-1:0][31:0] wb_rdata_i,
  input  logic                        wb_rhalf_i,
  /// A STORE_W command completed.
  output logic                        wb_cmd_done_o,
  /// No command in progress and every beat sent.
  output logic                        idle_o
);

  import engine_cmd_pkg::*;

  localparam int unsigned LANE_W = $clog2(TM);
  localparam int unsigned FIFO_DEPTH = 4;

  logic        active_q;
  // Each unit reads only the fields of the shared command format that concern it.
  /* verilator lint_off UNUSEDSIGNAL */
  engine_cmd_t cmd_q;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [15:0] beat_q;
  logic        read, last_beat;
  logic [2:0]  fifo_count;
  logic        fifo_ready;

  // Read-side bookkeeping: what the buffer shows one cycle after a read.
  logic                  rd_valid_q, rd_is_wb_q, rd_half_q;
  logic [LANE_W-1:0]     rd_lane_q;
  logic [TN-1:0][31:0]   rd_word;

  // Issue a read only when the FIFO will have room for it when it lands.
  assign read        = active_q && (32'(fifo_count) + 32'(rd_valid_q) < FIFO_DEPTH);
  assign last_beat   = beat_q + 16'd1 == cmd_q.count;
  assign idle_o      = !active_q && !rd_valid_q && fifo_count == '0;
  assign cmd_ready_o = !active_q && (cmd_i.op != OP_STORE_OUT || ob_full_i[cmd_i.half]);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      active_q   <= 1'b0;
      beat_q     <= '0;
      rd_valid_q <= 1'b0;
    end else begin
      rd_valid_q <= read;
      if (!active_q) begin
        if (cmd_valid_i && cmd_ready_o) begin
          active_q <= cmd_i.count != 16'd0;
          beat_q   <= '0;
        end
      end else if (read) begin
        beat_q <= beat_q + 16'd1;
        if (last_beat) active_q <= 1'b0;
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (!active_q && cmd_valid_i && cmd_ready_o) cmd_q <= cmd_i;
    if (read) begin
      rd_is_wb_q <= cmd_q.op == OP_STORE_W;
      rd_half_q  <= cmd_q.half;
      rd_lane_q  <= LANE_W'(beat_q);
    end
  end

  always_comb begin
    ob_re_o         = read && cmd_q.op == OP_STORE_OUT;
    wb_re_o         = read && cmd_q.op == OP_STORE_W;
    ob_half_o       = cmd_q.half;
    ob_addr_o       = OB_AW'(beat_q);
    wb_entry_o      = WB_AW'(cmd_q.wb_addr + (beat_q >> LANE_W));
    ob_clear_full_o = '0;
    if (ob_re_o && last_beat) ob_clear_full_o[cmd_q.half] = 1'b1;
    wb_cmd_done_o   = wb_re_o && last_beat;
  end

  // The lane row: 4:1 stages (one LUT6 per bit each) in their own module, so the mapper
  // keeps the area-optimal tree (about 12 LUTs per bit at TM = 16, instead of 20).
  if (TM >= 4) begin : g_lane_tree
    localparam int unsigned G = TM / 4;
    logic [1:0][G-1:0][TN*32-1:0] wb_l1;
    logic [1:0][TN*32-1:0]        wb_l2;
    for (genvar h = 0; h < 2; h++) begin : g_half
      for (genvar g = 0; g < G; g++) begin : g_grp
        mux4 #(.W(TN * 32)) u_l1 (.d_i(wb_rdata_i[h][4*g +: 4]), .s_i(rd_lane_q[1:0]), .y_o(wb_l1[h][g]));
      end
      if (G == 4) begin : g_l2
        mux4 #(.W(TN * 32)) u_l2 (.d_i(wb_l1[h]), .s_i(rd_lane_q[3:2]), .y_o(wb_l2[h]));
      end else if (G == 1) begin : g_l2
        assign wb_l2[h] = wb_l1[h][0];
      end else begin : g_l2
        assign wb_l2[h] = wb_l1[h][rd_lane_q[LANE_W-1:2]];
      end
    end
    always_comb rd_word = rd_is_wb_q ? wb_l2[wb_rhalf_i] : ob_rdata_i[rd_half_q];  // TM == TN
  end else begin : g_lane_mux
    always_comb rd_word = rd_is_wb_q ? wb_rdata_i[wb_rhalf_i][rd_lane_q] : ob_rdata_i[rd_half_q];
  end

  // The read credit rule above keeps the FIFO from ever refusing a word.
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  always_ff @(posedge clk_i) begin
    if (armed) assert (!(rd_valid_q && !fifo_ready)) else $error("engine_store: output FIFO overflow");
  end
`endif

  stream_fifo #(
    .WIDTH (TN * 32),
    .DEPTH (FIFO_DEPTH)
  ) u_out_fifo (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (rd_valid_q),
    .in_ready_o  (fifo_ready),
    .in_data_i   (rd_word),
    .out_valid_o (st_valid_o),
    .out_ready_i (st_ready_i),
    .out_data_o  (st_data_o),
    .count_o     (fifo_count)
  );

endmodule

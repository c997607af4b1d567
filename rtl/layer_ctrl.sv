/// Layer controller of the EF-Train core: follows a chain of layer descriptors in DRAM,
/// validates each one completely before it touches DRAM, and runs its tile loops by
/// emitting engine commands together with the DMA transfers that feed and drain them
/// (docs/architecture.md, "The IP top level"; the loop order is that of
/// `eftrain.schedule.conv_program`, the transfers those of `eftrain.layout.transfers`).
///
/// Pool descriptors run no engine command: their reads go to the pool unit and its
/// output to the write DMA (rd_req_dest_o routes them); the store merge applies the
/// descriptor's fused operation (store_op_o) on every write, and reads its second
/// operand (the ReLU mask's activation, SGD's weights) as a transfer of its own.
///
/// One descriptor at a time: its commands all complete (engine and DMA idle) before the
/// next descriptor is fetched. A DMA error or an abort stops emitting, lets the commands
/// already emitted finish with the DMA in drop mode (no further AXI traffic), resets the
/// datapath and reports; a soft reset does the same and reports nothing.
module layer_ctrl #(
  parameter int unsigned TN             = 8,
  parameter int unsigned KMAX           = 5,
  parameter int unsigned IB_DEPTH       = 2048,
  parameter int unsigned OB_DEPTH       = 2048,
  parameter int unsigned WB_DEPTH       = 1024,
  parameter int unsigned AXI_DATA_WIDTH = 128,
  parameter int unsigned AXI_ADDR_WIDTH = 40
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  /// From the CSRs.
  input  logic                        start_i,
  input  logic                        abort_i,
  input  logic                        soft_reset_i,
  input  logic [63:0]                 chain_addr_i,
  /// Engine command port and idle flag.
  output logic                        cmd_valid_o,
  input  logic                        cmd_ready_i,
  output engine_cmd_pkg::engine_cmd_t cmd_o,
  input  logic                        engine_idle_i,
  /// Read DMA: requests, and the descriptor's beats while `fetch_o` routes them here.
  output logic                        rd_req_valid_o,
  input  logic                        rd_req_ready_i,
  output logic [AXI_ADDR_WIDTH-1:0]   rd_req_addr_o,
  output logic [31:0]                 rd_req_beats_o,
  /// Where the request's data goes: the controller (the descriptor fetch), the engine
  /// or the pool unit (main), or the store merge (rd_dest_e).
  output logic [1:0]                  rd_req_dest_o,
  output logic                        fetch_o,
  input  logic                        rd_data_valid_i,
  output logic                        rd_data_ready_o,
  input  logic [AXI_DATA_WIDTH-1:0]   rd_data_i,
  input  logic                        rd_error_i,
  input  logic                        rd_idle_i,
  /// Write DMA requests.
  output logic                        wr_req_valid_o,
  input  logic                        wr_req_ready_i,
  output logic [AXI_ADDR_WIDTH-1:0]   wr_req_addr_o,
  output logic [31:0]                 wr_req_beats_o,
  input  logic                        wr_error_i,
  input  logic                        wr_idle_i,
  /// The running descriptor, for the pool unit and the store merge (constant while
  /// its data moves).
  output logic                        pool_o,
  output logic                        pool_bp_o,
  output logic                        pool_mask_o,
  output logic [15:0]                 pool_h_o,
  output logic [15:0]                 pool_w_o,
  output logic [1:0]                  store_op_o,
  output logic [31:0]                 lr_o,
  /// DMA drop mode (stopping) and error clear; datapath reset after a stop.
  output logic                        dma_drop_o,
  output logic                        dma_clear_o,
  output logic                        dp_reset_o,
  /// Status.
  output logic                        busy_o,
  output logic                        done_o,
  output logic                        error_o,
  output logic [7:0]                  code_o,
  output logic [15:0]                 index_o,
  output logic [31:0]                 desc_done_o,
  output logic                        irq_set_o
);

  import eftrain_desc_pkg::*;
  import engine_cmd_pkg::*;

  localparam int unsigned BEAT_BYTES  = AXI_DATA_WIDTH / 8;
  localparam int unsigned DESC_BEATS  = DESC_BYTES / BEAT_BYTES;
  localparam int unsigned PIXEL_BYTES = TN * 4;           // one channel group of a pixel
  localparam int unsigned LOG_TN      = $clog2(TN);
  localparam int unsigned PIXEL_BEATS_SHIFT = $clog2(PIXEL_BYTES / BEAT_BYTES);

  typedef enum logic [4:0] {
    Idle,       // waiting for CTRL.START
    Fetch,      // request the descriptor
    FetchData,  // collect its beats
    Derive,     // compute the layer's derived sizes
    Ends,       // the end address of every tensor (for the range rule)
    Rules,      // evaluate the validation rules (first failing rule wins) into a register
    Check,      // act on the verdict: stop with its code, or start the loops
    Count,      // count the row tiles (the pace of a double-buffered WB)
    WeightLoad, // FP/BP: LOAD_W of every block of this outer tile
    Tile,       // geometry of the next row tile
    OutLoad,    // WU: LOAD_OUT of the dy tile
    InLoad,     // LOAD_IN of one channel tile's rows
    Compute,    // COMPUTE of that pass
    StoreOut,   // FP/BP: STORE_OUT of the tile
    StoreW,     // WU: STORE_W of every dW block of this outer tile
    SideW,      // double-buffered WB, after a COMPUTE: FP/BP LOAD_W of a block of the next
                // outer tile, WU STORE_W of a block of the previous one
    PoolPlane,  // pool: the plane's transfers (FP: x rows and y; BP: the dx write)
    PoolRows,   // pool BP: the two x rows of an output row
    PoolDy,     // pool BP: the dy row
    Drain,      // wait for the descriptor's commands to finish
    Stop        // error, abort or soft reset: drain in drop mode, then reset the datapath
  } state_e;

  state_e state_q;

  // ---- the descriptor and what follows from it ---------------------------------------
  // The reserved bits are not used.
  /* verilator lint_off UNUSEDSIGNAL */
  desc_t                    desc_q;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [DESC_BYTES*8-1:0]  desc_bits_q;
  logic [$clog2(DESC_BEATS + 1)-1:0] beat_q;
  // Descriptor and tensor addresses are 64-bit fields; the AXI address has
  // AXI_ADDR_WIDTH bits (tensor ranges are checked against it).
  /* verilator lint_off UNUSEDSIGNAL */
  logic [63:0]              addr_q;       // this descriptor's address
  /* verilator lint_on UNUSEDSIGNAL */
  logic [15:0]              index_q;
  logic [31:0]              desc_done_q;

  assign desc_q = desc_t'(desc_bits_q);

  logic        is_fp, is_bp, is_wu, is_pool_fp, is_pool_bp, is_pool, is_conv;
  logic        relu, relu_mask, sgd;
  logic [15:0] ho_q, wo_q, ng_q, mg_q, out_h_q, out_w_q, in_img_h_q, in_img_w_q, rows_q;
  logic [15:0] outer_n_q, inner_n_q;
  logic [31:0] kk_q;                      // K*K
  logic [63:0] act_in_bytes_q, act_aux_bytes_q, act_out_bytes_q, wgt_bytes_q;

  assign is_fp = desc_q.opcode == OP_CONV_FP;
  assign is_bp = desc_q.opcode == OP_CONV_BP;
  assign is_wu = desc_q.opcode == OP_CONV_WU;
  assign is_pool_fp = desc_q.opcode == OP_POOL_FP;
  assign is_pool_bp = desc_q.opcode == OP_POOL_BP;
  assign is_pool    = is_pool_fp || is_pool_bp;
  assign is_conv    = is_fp || is_bp || is_wu;
  assign relu       = desc_q.flags[FLAG_RELU];
  assign relu_mask  = desc_q.flags[FLAG_RELU_MASK];
  assign sgd        = desc_q.flags[FLAG_SGD];

  // Flags each opcode takes (eftrain.descriptor.flags_allowed).
  logic [15:0] flags_allowed;
  assign flags_allowed = is_fp ? 16'(1 << FLAG_RELU)
                       : (is_bp || is_pool_bp) ? 16'(1 << FLAG_RELU_MASK)
                       : is_wu ? 16'(1 << FLAG_SGD) : 16'd0;

  // For the pool unit and the store merge.
  assign pool_o      = is_pool;
  assign pool_bp_o   = is_pool_bp;
  assign pool_mask_o = relu_mask;
  assign pool_h_o    = desc_q.h;
  assign pool_w_o    = desc_q.w;
  assign lr_o        = desc_q.lr;
  assign store_op_o  = (is_fp && relu) ? 2'd1 : (is_bp && relu_mask) ? 2'd2 : (is_wu && sgd) ? 2'd3 : 2'd0;

  // Output size (h + 2 pad - k) / s + 1, signed so that "no output pixel" shows.
  logic signed [19:0] ho_s, wo_s;
  assign ho_s = (($signed({4'd0, desc_q.h}) + 20'sd2 * $signed({16'd0, desc_q.pad}) - $signed({16'd0, desc_q.k}))
                 >>> (desc_q.stride == 4'd2 ? 1 : 0)) + 20'sd1;
  assign wo_s = (($signed({4'd0, desc_q.w}) + 20'sd2 * $signed({16'd0, desc_q.pad}) - $signed({16'd0, desc_q.k}))
                 >>> (desc_q.stride == 4'd2 ? 1 : 0)) + 20'sd1;

  /// Channel groups of `c` channels: ceil(c / TN).
  function automatic logic [31:0] groups(logic [15:0] c);
    return (32'(c) + 32'(TN - 1)) >> LOG_TN;
  endfunction

  /// Bytes of an activation tensor [b][ceil(c/TN)][h][w][TN].
  function automatic logic [63:0] act_bytes(logic [15:0] b, logic [15:0] c, logic [15:0] h, logic [15:0] w);
    return 64'(b) * 64'(groups(c)) * 64'(h) * 64'(w) * 64'(PIXEL_BYTES);
  endfunction

  // ---- validation (eftrain.descriptor.validate, same order) -------------------------
  logic [7:0]  check_code;
  logic [31:0] rows_fit, ib_rows_need, ib_rows_fit, ib_w_fit, blocks_fit, out_h_fit;
  logic        stride_shift;   // log2(stride) of a valid stride
  assign stride_shift = desc_q.stride == 4'd2;
  logic [64:0] limit;

  // The tile-fit rule (eftrain.descriptor.tile_misfit), one assignment per quantity.
  assign out_h_fit    = 32'(out_h_q);
  assign rows_fit     = (32'(desc_q.tile_rows) < out_h_fit) ? 32'(desc_q.tile_rows) : out_h_fit;
  // Stride is 1 or 2 by the time this counts (the stride check comes first): a divide or
  // multiply by it is a shift, not a run-time divider or multiplier.
  assign ib_rows_need = is_bp ? (rows_fit + 32'(desc_q.k) - 32'd1 + 32'(desc_q.stride) - 32'd1) >> stride_shift
                              : ((rows_fit - 32'd1) << stride_shift) + 32'(desc_q.k);
  assign ib_rows_fit  = is_bp ? (ib_rows_need > 32'(ho_q) ? 32'(ho_q) : ib_rows_need)
                              : (ib_rows_need > 32'(desc_q.h) ? 32'(desc_q.h) : ib_rows_need);
  assign ib_w_fit     = is_bp ? 32'(wo_q) : 32'(desc_q.w);
  assign blocks_fit   = is_bp ? 32'(mg_q) : 32'(ng_q);
  assign limit        = 65'd1 << AXI_ADDR_WIDTH;

  // The checks take three registered cycles (Derive, Ends, Rules), so that no path runs
  // from the descriptor through a 64-bit sum, a compare and the rule priority at once.
  logic [64:0] in_end_q, out_end_q, wgt_end_q, aux_end_q;
  logic [7:0]  check_code_q;

  // Tensors each opcode uses beyond in_addr and out_addr (Descriptor.tensors).
  logic uses_wgt, uses_aux;
  assign uses_wgt = is_fp || is_bp || (is_wu && sgd);
  assign uses_aux = is_wu || (is_bp && relu_mask) || is_pool_bp;

  always_comb begin
    check_code = ERR_NONE;
    if (desc_q.magic != MAGIC)                                  check_code = ERR_BAD_MAGIC;
    else if (desc_q.version != VERSION)                         check_code = ERR_BAD_VERSION;
    else if (!(is_conv || is_pool))                             check_code = ERR_BAD_OPCODE;
    else if ((desc_q.flags & ~flags_allowed) != '0)             check_code = ERR_BAD_FLAGS;
    else if (is_pool ? desc_q.k != 4'd2 : (desc_q.k == 4'd0 || 32'(desc_q.k) > KMAX))
                                                                check_code = ERR_BAD_KERNEL;
    else if (is_pool ? desc_q.stride != 4'd2 : !(desc_q.stride inside {4'd1, 4'd2}))
                                                                check_code = ERR_BAD_STRIDE;
    else if (is_pool ? desc_q.pad != 4'd0 : desc_q.pad >= desc_q.k)
                                                                check_code = ERR_BAD_PAD;
    else if (desc_q.batch == '0 || desc_q.n == '0 || desc_q.m == '0 || desc_q.h == '0 || desc_q.w == '0
             || 32'(desc_q.batch) > MAX_DIM || 32'(desc_q.n) > MAX_DIM || 32'(desc_q.m) > MAX_DIM
             || 32'(desc_q.h) > MAX_DIM || 32'(desc_q.w) > MAX_DIM || ho_s < 1 || wo_s < 1
             || ho_s > $signed(20'(MAX_DIM)) || wo_s > $signed(20'(MAX_DIM))
             || (is_pool && desc_q.m != desc_q.n))
                                                                check_code = ERR_BAD_DIMENSION;
    else if (is_pool ? 32'(wo_q) > POOL_MAX_WO
                     : (desc_q.tile_rows == '0
                        || rows_fit * 32'(out_w_q) > OB_DEPTH
                        || ib_rows_fit * ib_w_fit > IB_DEPTH
                        || blocks_fit * kk_q > WB_DEPTH
                        || (is_bp && desc_q.stride == 4'd2 && rows_fit[0] && rows_fit < out_h_fit)))
                                                                check_code = ERR_TILE_TOO_LARGE;
    else if (desc_q.in_addr[5:0] != '0 || desc_q.out_addr[5:0] != '0
             || (uses_wgt && desc_q.wgt_addr[5:0] != '0) || (uses_aux && desc_q.aux_addr[5:0] != '0))
                                                                check_code = ERR_UNALIGNED_ADDRESS;
    else if (in_end_q > limit || out_end_q > limit || (uses_wgt && wgt_end_q > limit)
             || (uses_aux && aux_end_q > limit))                check_code = ERR_ADDRESS_RANGE;
  end

  // ---- loop counters and the tile geometry -------------------------------------------
  logic [15:0] outer_q, inner_q, b_q, r0_q, tile_rows_q, lo_q, hi_q, tile_rows_d;
  logic        ib_half_q, ob_half_q;
  // WB double buffering (eftrain.schedule.conv_program): when an outer tile's blocks fit
  // in half of WB, outer tiles alternate between the halves, and the blocks of the
  // neighbouring outer tile move after every pace-th COMPUTE (pace = batch x row tiles).
  logic        dbl_q;
  logic [31:0] pace_n_q, pace_q, count_rows_q;
  logic [15:0] side_q, row_tiles_q;
  logic        side_due;

  /// First WB entry of the blocks of an outer tile of parity `odd`.
  function automatic logic [31:0] wb_region(logic dbl, logic odd);
    return (dbl && odd) ? 32'(WB_DEPTH / 2) : 32'd0;
  endfunction

  // After this COMPUTE, a block of the neighbouring outer tile (FP/BP: the next, WU: the
  // previous) moves.
  assign side_due = dbl_q && pace_q == '0 && (is_wu ? outer_q != '0 : outer_q != outer_n_q - 16'd1);
  // Rows [lo, hi) of the IB image that output rows [r0, r0 + rows) read
  // (schedule._Geometry.ib_rows), one assignment per step.
  logic signed [19:0] r0_s, rows_s, pad_s, k_s, img_h_s;
  logic signed [19:0] lo_raw, lo_div, hi_div, lo_clip, hi_clip;
  logic [15:0]        lo_row, hi_row;
  logic               stride2;

  // Rows of the next tile: rows_q, or what is left of the image.
  assign tile_rows_d = 32'(r0_q) + 32'(rows_q) > 32'(out_h_q) ? out_h_q - r0_q : rows_q;
  assign r0_s     = $signed({4'd0, r0_q});
  assign rows_s   = $signed({4'd0, tile_rows_d});
  assign pad_s    = $signed({16'd0, desc_q.pad});
  assign k_s      = $signed({16'd0, desc_q.k});
  assign img_h_s  = $signed({4'd0, in_img_h_q});
  assign stride2  = desc_q.stride == 4'd2;
  // BP: dx row y reads dy row (y + pad - i) / s where that is an integer.
  assign lo_raw  = is_bp ? r0_s + pad_s - k_s + 20'sd1 : (r0_s <<< (stride2 ? 1 : 0)) - pad_s;
  assign lo_div  = (is_bp && stride2) ? (lo_raw + 20'sd1) >>> 1 : lo_raw;   // ceil(lo_raw / s)
  assign hi_div  = is_bp ? ((r0_s + rows_s - 20'sd1 + pad_s) >>> (stride2 ? 1 : 0)) + 20'sd1
                         : ((r0_s + rows_s - 20'sd1) <<< (stride2 ? 1 : 0)) - pad_s + k_s;
  assign lo_clip = lo_div < 0 ? 20'sd0 : lo_div;
  assign hi_clip = hi_div > img_h_s ? img_h_s : hi_div;
  // No kernel position reaches these rows (stride-2 BP): COMPUTE still needs a full IB
  // half, so load the last row, which every position misses.
  assign lo_row  = 16'(lo_clip >= hi_clip ? img_h_s - 20'sd1 : lo_clip);
  assign hi_row  = 16'(lo_clip >= hi_clip ? img_h_s : hi_clip);

  // ---- the emission of the current state ----------------------------------------------
  engine_cmd_t cmd;
  logic        need_cmd, need_rd, need_wr, rd_main;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [63:0] rd_addr, wr_addr;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [31:0] rd_beats, wr_beats;
  logic [15:0] in_groups, ch, blk_outer, blk_inner, blk_mt, blk_nt;
  logic [63:0] block_bytes, plane;

  always_comb begin
    in_groups   = is_bp ? mg_q : ng_q;
    ch          = inner_q;
    // The weight block a LOAD_W / STORE_W moves: of this outer tile, or the neighbour's.
    blk_outer   = state_q != SideW ? outer_q : is_wu ? outer_q - 16'd1 : outer_q + 16'd1;
    blk_inner   = state_q == SideW ? side_q : inner_q;
    blk_mt      = is_bp ? blk_inner : blk_outer;
    blk_nt      = is_bp ? blk_outer : blk_inner;
    block_bytes = 64'(kk_q) * 64'(TN * TN * 4);
    plane       = 64'(b_q) * 64'(ng_q) + 64'(outer_q);   // pools: (image, channel group)
    cmd         = '0;
    need_cmd    = 1'b0;
    need_rd     = 1'b0;
    need_wr     = 1'b0;
    rd_main     = 1'b1;
    rd_addr     = '0;
    wr_addr     = '0;
    rd_beats    = '0;
    wr_beats    = '0;
    unique case (state_q)
      // A weight block: FP/BP load one (WeightLoad, SideW), WU stores its dW (StoreW,
      // SideW; with SGD the same block of w goes to the store merge).
      WeightLoad, StoreW, SideW: begin
        need_cmd    = 1'b1;
        cmd.op      = is_wu ? OP_STORE_W : OP_LOAD_W;
        cmd.wb_addr = 16'(wb_region(dbl_q, blk_outer[0]) + 32'(blk_inner) * kk_q);
        cmd.count   = 16'(kk_q * TN);
        if (!is_wu) begin
          need_rd  = 1'b1;
          rd_addr  = desc_q.wgt_addr + (64'(blk_mt) * 64'(ng_q) + 64'(blk_nt)) * block_bytes;
          rd_beats = 32'(block_bytes / BEAT_BYTES);
        end else begin
          need_wr  = 1'b1;
          wr_addr  = desc_q.out_addr + (64'(blk_mt) * 64'(ng_q) + 64'(blk_nt)) * block_bytes;
          wr_beats = 32'(block_bytes / BEAT_BYTES);
          need_rd  = sgd;
          rd_main  = 1'b0;
          rd_addr  = desc_q.wgt_addr + (wr_addr - desc_q.out_addr);
          rd_beats = wr_beats;
        end
      end
      OutLoad: begin
        need_cmd  = 1'b1;
        need_rd   = 1'b1;
        cmd.op    = OP_LOAD_OUT;
        cmd.half  = ob_half_q;
        cmd.count = 16'(32'(tile_rows_q) * 32'(wo_q));
        rd_addr   = desc_q.aux_addr
                    + ((64'(b_q) * 64'(mg_q) + 64'(outer_q)) * 64'(ho_q) + 64'(r0_q)) * 64'(wo_q) * PIXEL_BYTES;
        rd_beats  = (32'(tile_rows_q) * 32'(wo_q)) << PIXEL_BEATS_SHIFT;
      end
      InLoad: begin
        need_cmd  = 1'b1;
        need_rd   = 1'b1;
        cmd.op    = OP_LOAD_IN;
        cmd.half  = ib_half_q;
        cmd.count = 16'(32'(hi_q - lo_q) * 32'(in_img_w_q));
        rd_addr   = desc_q.in_addr
                    + ((64'(b_q) * 64'(in_groups) + 64'(ch)) * 64'(in_img_h_q) + 64'(lo_q)) * 64'(in_img_w_q)
                      * PIXEL_BYTES;
        rd_beats  = (32'(hi_q - lo_q) * 32'(in_img_w_q)) << PIXEL_BEATS_SHIFT;
      end
      Compute: begin
        need_cmd       = 1'b1;
        cmd.op         = OP_COMPUTE;
        cmd.mode       = is_fp ? MODE_FP : (is_bp ? MODE_BP : MODE_WU);
        cmd.k          = 3'(desc_q.k);
        cmd.stride     = 2'(desc_q.stride);
        cmd.pad        = 3'(desc_q.pad);
        cmd.ib_half    = ib_half_q;
        cmd.ob_half    = ob_half_q;
        cmd.in_h       = 12'(in_img_h_q);
        cmd.in_w       = 12'(in_img_w_q);
        cmd.ib_row0    = 12'(lo_q);
        cmd.ib_rows    = 12'(hi_q - lo_q);
        cmd.out_row0   = 12'(r0_q);
        cmd.out_rows   = 12'(tile_rows_q);
        cmd.out_w      = 12'(out_w_q);
        cmd.wb_base    = 16'(wb_region(dbl_q, outer_q[0]) + 32'(inner_q) * kk_q);
        cmd.acc_init   = is_wu ? (b_q == '0 && r0_q == '0) : (inner_q == '0);
        cmd.ob_done    = inner_q == inner_n_q - 16'd1;
        cmd.ib_release = 1'b1;
      end
      StoreOut: begin
        need_cmd  = 1'b1;
        need_wr   = 1'b1;
        cmd.op    = OP_STORE_OUT;
        cmd.half  = ob_half_q;
        cmd.count = 16'(32'(tile_rows_q) * 32'(out_w_q));
        wr_addr   = desc_q.out_addr
                    + ((64'(b_q) * 64'(outer_n_q) + 64'(outer_q)) * 64'(out_h_q) + 64'(r0_q)) * 64'(out_w_q)
                      * PIXEL_BYTES;
        wr_beats  = (32'(tile_rows_q) * 32'(out_w_q)) << PIXEL_BEATS_SHIFT;
        // The ReLU mask: the same tile of the stored activation, to the store merge.
        need_rd   = is_bp && relu_mask;
        rd_main   = 1'b0;
        rd_addr   = desc_q.aux_addr + (wr_addr - desc_q.out_addr);
        rd_beats  = wr_beats;
      end
      PoolPlane: begin
        // FP: the plane's x rows 0 .. 2*Ho-1 in, its y rows out. BP: the dx plane.
        need_wr  = 1'b1;
        need_rd  = is_pool_fp;
        rd_addr  = desc_q.in_addr + plane * 64'(desc_q.h) * 64'(desc_q.w) * PIXEL_BYTES;
        rd_beats = (32'(ho_q) * 2 * 32'(desc_q.w)) << PIXEL_BEATS_SHIFT;
        if (is_pool_fp) begin
          wr_addr  = desc_q.out_addr + plane * 64'(ho_q) * 64'(wo_q) * PIXEL_BYTES;
          wr_beats = (32'(ho_q) * 32'(wo_q)) << PIXEL_BEATS_SHIFT;
        end else begin
          wr_addr  = desc_q.out_addr + plane * 64'(desc_q.h) * 64'(desc_q.w) * PIXEL_BYTES;
          wr_beats = (32'(desc_q.h) * 32'(desc_q.w)) << PIXEL_BEATS_SHIFT;
        end
      end
      PoolRows: begin
        need_rd  = 1'b1;
        rd_addr  = desc_q.aux_addr
                   + (plane * 64'(desc_q.h) + 64'(r0_q) * 2) * 64'(desc_q.w) * PIXEL_BYTES;
        rd_beats = (32'(desc_q.w) * 2) << PIXEL_BEATS_SHIFT;
      end
      PoolDy: begin
        need_rd  = 1'b1;
        rd_addr  = desc_q.in_addr + (plane * 64'(ho_q) + 64'(r0_q)) * 64'(wo_q) * PIXEL_BYTES;
        rd_beats = 32'(wo_q) << PIXEL_BEATS_SHIFT;
      end
      default: ;
    endcase
  end

  // Each emission hands a command to the engine and a request to a DMA; either may be
  // accepted first. A stop waits until no emission is half done (a LOAD without its
  // transfer, or a transfer without its command, would never drain) and the descriptor
  // fetch is complete.
  logic cmd_sent_q, rd_sent_q, wr_sent_q, emitted, partial, can_stop;
  logic stop_pending_q, soft_pending_q;

  assign partial        = cmd_sent_q || rd_sent_q || wr_sent_q;
  // A pool BP plane's dx write waits for all its rows: its reads are issued before a stop.
  assign can_stop       = stop_pending_q && !partial
                          && !(state_q inside {Idle, FetchData, Stop, PoolRows, PoolDy});
  assign cmd_valid_o    = need_cmd && !cmd_sent_q && !can_stop;
  assign cmd_o          = cmd;
  assign wr_req_valid_o = need_wr && !wr_sent_q && !can_stop;
  assign wr_req_addr_o  = AXI_ADDR_WIDTH'(wr_addr);
  assign wr_req_beats_o = wr_beats;
  assign emitted        = (need_cmd || need_rd || need_wr) && !can_stop
                          && (!need_cmd || cmd_sent_q || cmd_ready_i)
                          && (!need_rd || rd_sent_q || rd_req_ready_i)
                          && (!need_wr || wr_sent_q || wr_req_ready_i);

  always_comb begin
    // The read request is either a layer transfer or the descriptor fetch.
    rd_req_valid_o = !can_stop && ((need_rd && !rd_sent_q) || state_q == Fetch);
    rd_req_addr_o  = state_q == Fetch ? AXI_ADDR_WIDTH'(addr_q) : AXI_ADDR_WIDTH'(rd_addr);
    rd_req_beats_o = state_q == Fetch ? 32'(DESC_BEATS) : rd_beats;
    rd_req_dest_o  = state_q == Fetch ? 2'd0 : rd_main ? 2'd1 : 2'd2;
  end

  assign fetch_o         = state_q == FetchData;
  assign rd_data_ready_o = state_q == FetchData;

  // ---- status ----------------------------------------------------------------------
  logic [7:0] stop_code_q;
  logic       stop_report_q;

  assign busy_o      = state_q != Idle;
  assign index_o     = index_q;
  assign desc_done_o = desc_done_q;

  // ---- the state machine ---------------------------------------------------------------
  logic last_inner, last_outer, last_b, last_tile;

  assign last_inner = inner_q == inner_n_q - 16'd1;
  assign last_outer = outer_q == outer_n_q - 16'd1;
  assign last_b     = b_q == desc_q.batch - 16'd1;
  assign last_tile  = 32'(r0_q) + 32'(rows_q) >= 32'(out_h_q);

  task automatic finish(input logic [7:0] code);
    // End of the chain: done, or the error `code` at descriptor index_q.
    done_o    <= code == ERR_NONE;
    error_o   <= code != ERR_NONE;
    code_o    <= code;
    irq_set_o <= 1'b1;
    state_q   <= Idle;
  endtask

  task automatic next_outer();
    // The next outer tile: its COMPUTEs count the pace of the neighbour's blocks anew.
    outer_q <= outer_q + 16'd1;
    pace_q  <= '0;
    side_q  <= '0;
  endtask

  task automatic next_tile();
    // After a row tile: the next tile, the next image, or what follows the batch
    // (WU: the dW stores; FP/BP: the next outer tile's weights, or the end).
    ob_half_q <= !ob_half_q;
    state_q   <= Tile;
    if (!last_tile) begin
      r0_q <= r0_q + rows_q;
    end else begin
      r0_q <= '0;
      if (!last_b) begin
        b_q <= b_q + 16'd1;
      end else begin
        b_q <= '0;
        if (is_wu && (!dbl_q || last_outer)) begin
          state_q <= StoreW;      // dW of this outer tile (double buffered: of the last)
        end else if (!last_outer) begin
          next_outer();
          state_q <= (dbl_q || is_wu) ? Tile : WeightLoad;
        end else begin
          state_q <= Drain;
        end
      end
    end
  endtask

  task automatic after_compute(input logic last);
    // What follows a COMPUTE (`last`: of the last inner tile): the next LOAD_IN, or the
    // end of the row tile.
    if (!last)      state_q <= InLoad;
    else if (is_wu) next_tile();    // WU stores dW only after the batch
    else            state_q <= StoreOut;
  endtask

  task automatic next_plane();
    // After a pool plane: the next channel group, the next image, or the end.
    state_q <= PoolPlane;
    if (outer_q != ng_q - 16'd1) begin
      outer_q <= outer_q + 16'd1;
    end else begin
      outer_q <= '0;
      if (!last_b) b_q <= b_q + 16'd1;
      else         state_q <= Drain;
    end
  endtask

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q       <= Idle;
      done_o        <= 1'b0;
      error_o       <= 1'b0;
      code_o        <= ERR_NONE;
      irq_set_o     <= 1'b0;
      index_q       <= '0;
      desc_done_q   <= '0;
      addr_q        <= '0;
      beat_q        <= '0;
      cmd_sent_q    <= 1'b0;
      rd_sent_q     <= 1'b0;
      wr_sent_q     <= 1'b0;
      dma_drop_o    <= 1'b0;
      dma_clear_o   <= 1'b0;
      dp_reset_o    <= 1'b0;
      stop_code_q   <= ERR_NONE;
      stop_report_q <= 1'b0;
      stop_pending_q <= 1'b0;
      soft_pending_q <= 1'b0;
    end else begin
      irq_set_o   <= 1'b0;
      dma_clear_o <= 1'b0;
      dp_reset_o  <= 1'b0;

      // Partial acceptance of an emission.
      if (cmd_valid_o && cmd_ready_i) cmd_sent_q <= 1'b1;
      if (need_rd && rd_req_valid_o && rd_req_ready_i) rd_sent_q <= 1'b1;
      if (wr_req_valid_o && wr_req_ready_i) wr_sent_q <= 1'b1;
      if (emitted) begin
        cmd_sent_q <= 1'b0;
        rd_sent_q  <= 1'b0;
        wr_sent_q  <= 1'b0;
      end

      // Abort, soft reset and DMA errors during a run are held until it can stop.
      if (state_q != Idle && state_q != Stop && (abort_i || soft_reset_i || rd_error_i || wr_error_i)) begin
        stop_pending_q <= 1'b1;
        if (soft_reset_i) soft_pending_q <= 1'b1;
      end

      if (can_stop) begin
        // Report an abort or DMA error; a soft reset reports nothing.
        state_q        <= Stop;
        dma_drop_o     <= 1'b1;
        stop_pending_q <= 1'b0;
        soft_pending_q <= 1'b0;
        stop_report_q  <= !(soft_pending_q || soft_reset_i);
        stop_code_q    <= rd_error_i ? ERR_AXI_READ_ERROR : wr_error_i ? ERR_AXI_WRITE_ERROR : ERR_ABORTED;
      end else begin
        unique case (state_q)
          // Waiting for the doorbell.
          Idle: begin
            // A stop request that came as the chain ended is settled here: an abort or
            // an error has nothing left to stop, a soft reset still resets.
            stop_pending_q <= 1'b0;
            soft_pending_q <= 1'b0;
            if (soft_reset_i || soft_pending_q) begin
              done_o      <= 1'b0;
              error_o     <= 1'b0;
              code_o      <= ERR_NONE;
              index_q     <= '0;
              desc_done_q <= '0;
              dp_reset_o  <= 1'b1;
            end else if (start_i) begin
              done_o      <= 1'b0;
              error_o     <= 1'b0;
              code_o      <= ERR_NONE;
              index_q     <= '0;
              desc_done_q <= '0;
              dma_clear_o <= 1'b1;
              addr_q      <= chain_addr_i;
              if (chain_addr_i == '0 || chain_addr_i[5:0] != '0) finish(ERR_UNALIGNED_ADDRESS);
              else                                               state_q <= Fetch;
            end
          end
          // Ask the read DMA for the descriptor.
          Fetch: if (rd_req_ready_i) begin
            beat_q  <= '0;
            state_q <= FetchData;
          end
          // Its beats, first beat in the low bits.
          FetchData: if (rd_data_valid_i) begin
            desc_bits_q[32'(beat_q) * AXI_DATA_WIDTH +: AXI_DATA_WIDTH] <= rd_data_i;
            beat_q <= beat_q + 1'b1;
            if (32'(beat_q) == DESC_BEATS - 1) state_q <= Derive;
          end
          // Sizes the checks and the loops need.
          Derive: begin
            ho_q            <= 16'(ho_s);
            wo_q            <= 16'(wo_s);
            ng_q            <= 16'(groups(desc_q.n));
            mg_q            <= 16'(groups(desc_q.m));
            kk_q            <= 32'(desc_q.k) * 32'(desc_q.k);
            out_h_q         <= is_bp ? desc_q.h : 16'(ho_s);
            out_w_q         <= is_bp ? desc_q.w : 16'(wo_s);
            in_img_h_q      <= is_bp ? 16'(ho_s) : desc_q.h;
            in_img_w_q      <= is_bp ? 16'(wo_s) : desc_q.w;
            outer_n_q       <= 16'(is_bp ? groups(desc_q.n) : groups(desc_q.m));
            inner_n_q       <= 16'(is_bp ? groups(desc_q.m) : groups(desc_q.n));
            // (A pool has m = n, checked before these sizes are used.)
            act_in_bytes_q  <= (is_bp || is_pool_bp) ? act_bytes(desc_q.batch, desc_q.m, 16'(ho_s), 16'(wo_s))
                                                     : act_bytes(desc_q.batch, desc_q.n, desc_q.h, desc_q.w);
            act_aux_bytes_q <= is_wu ? act_bytes(desc_q.batch, desc_q.m, 16'(ho_s), 16'(wo_s))
                                     : act_bytes(desc_q.batch, desc_q.n, desc_q.h, desc_q.w);
            act_out_bytes_q <= (is_bp || is_pool_bp) ? act_bytes(desc_q.batch, desc_q.n, desc_q.h, desc_q.w)
                                                     : act_bytes(desc_q.batch, desc_q.m, 16'(ho_s), 16'(wo_s));
            wgt_bytes_q     <= 64'(groups(desc_q.m)) * 64'(groups(desc_q.n))
                               * 64'(desc_q.k) * 64'(desc_q.k) * 64'(TN * TN * 4);
            state_q         <= Ends;
          end
          Ends: begin
            in_end_q  <= 65'(desc_q.in_addr) + 65'(act_in_bytes_q);
            out_end_q <= 65'(desc_q.out_addr) + 65'(is_wu ? wgt_bytes_q : act_out_bytes_q);
            wgt_end_q <= 65'(desc_q.wgt_addr) + 65'(wgt_bytes_q);
            aux_end_q <= 65'(desc_q.aux_addr) + 65'(act_aux_bytes_q);
            state_q   <= Rules;
          end
          Rules: begin
            check_code_q <= check_code;
            state_q      <= Check;
          end
          // Validate; then start the loops.
          Check: begin
            if (check_code_q != ERR_NONE) begin
              finish(check_code_q);
            end else begin
              rows_q    <= 32'(desc_q.tile_rows) < 32'(out_h_q) ? desc_q.tile_rows : out_h_q;
              outer_q   <= '0;
              inner_q   <= '0;
              b_q       <= '0;
              r0_q      <= '0;
              ib_half_q <= 1'b0;
              ob_half_q <= 1'b0;
              pace_q    <= '0;
              side_q    <= '0;
              dbl_q     <= blocks_fit * kk_q <= 32'(WB_DEPTH / 2);
              // Count the row tiles from the first one.
              count_rows_q <= rows_fit;
              row_tiles_q  <= 16'd1;
              state_q      <= is_pool ? PoolPlane : Count;
            end
          end
          // Row tiles (at most out_h cycles; a layer takes far longer): the pace.
          Count: begin
            if (count_rows_q >= 32'(out_h_q)) begin
              pace_n_q <= 32'(desc_q.batch) * 32'(row_tiles_q);
              state_q  <= is_wu ? Tile : WeightLoad;
            end else begin
              count_rows_q <= count_rows_q + 32'(rows_q);
              row_tiles_q  <= row_tiles_q + 16'd1;
            end
          end
          // FP/BP: the weight blocks of this outer tile, once for the whole batch.
          WeightLoad: if (emitted) begin
            if (last_inner) begin
              inner_q <= '0;
              state_q <= Tile;
            end else begin
              inner_q <= inner_q + 16'd1;
            end
          end
          // The next row tile: its rows and the IB rows they read.
          Tile: begin
            tile_rows_q <= tile_rows_d;
            lo_q        <= lo_row;
            hi_q        <= hi_row;
            state_q     <= is_wu ? OutLoad : InLoad;
          end
          OutLoad: if (emitted) state_q <= InLoad;
          InLoad:  if (emitted) state_q <= Compute;
          Compute: if (emitted) begin
            ib_half_q <= !ib_half_q;
            inner_q   <= last_inner ? '0 : inner_q + 16'd1;
            pace_q    <= pace_q == pace_n_q - 32'd1 ? '0 : pace_q + 32'd1;
            if (side_due) state_q <= SideW;
            else          after_compute(last_inner);
          end
          // After it, the neighbour's block; then what follows the COMPUTE.
          SideW: if (emitted) begin
            side_q <= side_q + 16'd1;
            after_compute(inner_q == '0);
          end
          StoreOut: if (emitted) next_tile();
          StoreW: if (emitted) begin
            if (!last_inner) begin
              inner_q <= inner_q + 16'd1;
            end else begin
              inner_q <= '0;
              if (!last_outer) begin
                next_outer();
                state_q <= Tile;
              end else begin
                state_q <= Drain;
              end
            end
          end
          // Pools: planes in layout order (image, channel group); BP: row by row.
          PoolPlane: if (emitted) begin
            if (is_pool_bp) state_q <= PoolRows;
            else            next_plane();
          end
          PoolRows: if (emitted) state_q <= PoolDy;
          PoolDy: if (emitted) begin
            if (r0_q == ho_q - 16'd1) begin
              r0_q <= '0;
              next_plane();
            end else begin
              r0_q    <= r0_q + 16'd1;
              state_q <= PoolRows;
            end
          end
          // The descriptor is complete once every command and transfer has finished.
          // A stop that arrives as the last transfer completes (its error response is what
          // makes the DMA idle) is reported for this descriptor, not lost.
          Drain: if (engine_idle_i && rd_idle_i && wr_idle_i && !stop_pending_q
                     && !(abort_i || soft_reset_i || rd_error_i || wr_error_i)) begin
            desc_done_q <= desc_done_q + 32'd1;
            if (desc_q.next_addr == '0) begin
              finish(ERR_NONE);
            end else begin
              index_q <= index_q + 16'd1;
              addr_q  <= desc_q.next_addr;
              if (desc_q.next_addr[5:0] != '0) finish(ERR_UNALIGNED_ADDRESS);
              else                             state_q <= Fetch;
            end
          end
          // Drop mode until everything emitted has finished, then a clean datapath.
          Stop: if (engine_idle_i && rd_idle_i && wr_idle_i) begin
            dma_drop_o <= 1'b0;
            dp_reset_o <= 1'b1;
            dma_clear_o <= 1'b1;
            cmd_sent_q <= 1'b0;
            rd_sent_q  <= 1'b0;
            wr_sent_q  <= 1'b0;
            if (stop_report_q) begin
              finish(stop_code_q);
            end else begin
              done_o      <= 1'b0;
              error_o     <= 1'b0;
              code_o      <= ERR_NONE;
              index_q     <= '0;
              desc_done_q <= '0;
              state_q     <= Idle;
            end
          end
          default: state_q <= Idle;
        endcase
      end
    end
  end

  // ---- assertions (simulation; every build runs them with --assert) -----------------------
`ifndef SYNTHESIS
  logic armed;  // assertions checked from the first reset on
  assert_armed u_armed (.clk_i, .rst_ni, .armed_o(armed));
  // Every transfer stays inside the tensors of the running descriptor: writes inside its
  // output, reads inside the inputs its opcode and flags use (Descriptor.tensors).
  logic [64:0] wr_lo, wr_hi, rd_lo, rd_hi, out_end;
  assign wr_lo   = 65'(wr_addr);
  assign wr_hi   = 65'(wr_addr) + 65'(wr_beats) * BEAT_BYTES;
  assign rd_lo   = 65'(rd_addr);
  assign rd_hi   = 65'(rd_addr) + 65'(rd_beats) * BEAT_BYTES;
  assign out_end = 65'(desc_q.out_addr) + 65'(is_wu ? wgt_bytes_q : act_out_bytes_q);

  function automatic logic inside_range(logic [64:0] lo, logic [64:0] hi, logic [63:0] base, logic [63:0] bytes);
    return lo >= 65'(base) && hi <= 65'(base) + 65'(bytes);
  endfunction

  a_write_in_output: assert property (@(posedge clk_i) disable iff (!armed)
    wr_req_valid_o |-> wr_lo >= 65'(desc_q.out_addr) && wr_hi <= out_end)
    else $error("layer_ctrl: write [%h, %h) outside the output [%h, %h) of descriptor %0d",
                wr_lo, wr_hi, desc_q.out_addr, out_end, index_q);
  a_read_in_inputs: assert property (@(posedge clk_i) disable iff (!armed)
    rd_req_valid_o && state_q != Fetch |->
      inside_range(rd_lo, rd_hi, desc_q.in_addr, act_in_bytes_q)
      || (uses_wgt && inside_range(rd_lo, rd_hi, desc_q.wgt_addr, wgt_bytes_q))
      || (uses_aux && inside_range(rd_lo, rd_hi, desc_q.aux_addr, act_aux_bytes_q)))
    else $error("layer_ctrl: read [%h, %h) outside the inputs of descriptor %0d", rd_lo, rd_hi, index_q);
  // Transfers are never empty (the DMAs and the read routing count beats from 1).
  a_nonempty: assert property (@(posedge clk_i) disable iff (!armed)
    (rd_req_valid_o |-> rd_req_beats_o != '0) and (wr_req_valid_o |-> wr_req_beats_o != '0))
    else $error("layer_ctrl: empty transfer");
  // Counters that must not wrap.
  a_index_no_wrap: assert property (@(posedge clk_i) disable iff (!armed)
    state_q == Drain && desc_q.next_addr != '0 |-> index_q != '1)
    else $error("layer_ctrl: chain longer than 65535 descriptors");
  a_done_no_wrap: assert property (@(posedge clk_i) disable iff (!armed) desc_done_q != '1)
    else $error("layer_ctrl: DESC_DONE wrapped");
`endif

endmodule

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

  localparam int unsigned AW          = AXI_ADDR_WIDTH;
  localparam int unsigned BEAT_BYTES  = AXI_DATA_WIDTH / 8;
  localparam int unsigned DESC_BEATS  = DESC_BYTES / BEAT_BYTES;
  localparam int unsigned PIXEL_BYTES = TN * 4;           // one channel group of a pixel
  localparam int unsigned LOG_TN      = $clog2(TN);
  localparam int unsigned LOG_PIXEL   = $clog2(PIXEL_BYTES);
  localparam int unsigned LOG_BLOCK   = $clog2(TN * PIXEL_BYTES);   // bytes of a weight block per K*K
  localparam int unsigned PIXEL_BEATS_SHIFT = $clog2(PIXEL_BYTES / BEAT_BYTES);

  typedef logic [AW-1:0] addr_t;

  typedef enum logic [4:0] {
    Idle,       // waiting for CTRL.START
    Fetch,      // request the descriptor
    FetchData,  // collect its beats
    Derive,     // the layer's derived sizes; the rules on the descriptor's own fields
    Sizes,      // products of two dimensions; the output-size rules
    Products,   // an image's elements, the weight blocks, the tile-fit products
    Bytes,      // the tensors' elements, the per-descriptor address steps
    Ends,       // the tensors' bytes
    Range,      // the end address of every tensor (for the range rule)
    Rules,      // the first failing rule into a register
    Check,      // act on the verdict: stop with its code, or start the loops
    Count,      // count the row tiles (the pace of a double-buffered WB)
    WeightLoad, // FP/BP: LOAD_W of every block of this outer tile
    Tile,       // the next row tile: its rows, the first IB row before clipping
    TileHi,     // the last IB row before clipping; the output tile's addresses
    TileIb,     // the IB rows after clipping; the output tile's element count
    TileSize,   // the IB rows' offset and element count
    TileAddr,   // the address of the first LOAD_IN of the tile
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
  logic [15:0]              index_q;
  logic [31:0]              desc_done_q;

  assign desc_q = desc_t'(desc_bits_q);

  // Descriptor and tensor addresses are 64-bit fields; the AXI address has AW bits, and
  // every tensor of a valid descriptor ends below 2^AW (the range rule), so the address
  // arithmetic of the loops is done in AW bits.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [63:0] in_addr64, out_addr64, wgt_addr64, aux_addr64;
  /* verilator lint_on UNUSEDSIGNAL */
  addr_t       in_base, out_base, wgt_base, aux_base;
  assign in_addr64  = desc_q.in_addr;
  assign out_addr64 = desc_q.out_addr;
  assign wgt_addr64 = desc_q.wgt_addr;
  assign aux_addr64 = desc_q.aux_addr;
  assign in_base    = in_addr64[AW-1:0];
  assign out_base   = out_addr64[AW-1:0];
  assign wgt_base   = wgt_addr64[AW-1:0];
  assign aux_base   = aux_addr64[AW-1:0];

  logic        is_fp, is_bp, is_wu, is_pool_fp, is_pool_bp, is_pool, is_conv;
  logic        relu, relu_mask, sgd;
  // The input of an FP/WU pass and the output of a BP one have the shape of x
  // (batch, n, h, w); the others that of y (batch, m, ho, wo). BP and pool BP read a
  // y-shaped tensor and write an x-shaped one.
  logic        reads_y;

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
  assign reads_y    = is_bp || is_pool_bp;

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
  function automatic logic [15:0] groups(logic [15:0] c);
    return 16'((17'(c) + 17'(TN - 1)) >> LOG_TN);
  endfunction

  /// The low 12 bits of a dimension: a valid descriptor's dimensions are at most
  /// MAX_DIM (4095), and the products below only matter once the dimension rule has
  /// passed, so they multiply 12-bit operands (one DSP48E2 each).
  /* verilator lint_off UNUSEDSIGNAL */
  function automatic logic [11:0] dim(logic [15:0] d);
    return d[11:0];
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  // Dimensions (registered in Derive).
  logic signed [19:0] ho_s_q, wo_s_q;
  logic [15:0] ho_q, wo_q, ng_q, mg_q, out_h_q, out_w_q, in_img_h_q, in_img_w_q, rows_q;
  logic [15:0] outer_n_q, inner_n_q, in_groups_q;
  logic [7:0]  kk_q;                      // K*K

  // Products (Sizes, Products, Bytes), widths those of 12-bit dimensions.
  logic [23:0] hw_x_q, hw_y_q, ho_w_q, mn_q;
  logic [35:0] img_x_q, img_y_q;
  logic [47:0] bytes_x_q, bytes_y_q;
  logic [19:0] ng_kk_q;
  logic [23:0] blocks_kk_q;
  logic [31:0] wgt_blocks_q;
  logic [63:0] act_in_bytes_q, act_aux_bytes_q, wgt_bytes_q;
  logic [63:0] out_bytes_q;             // of the tensor out_addr names (WU: dW)

  // ---- validation (eftrain.descriptor.validate, same order) -------------------------
  // The rules take registered cycles from Derive to Rules, each rule's condition in a
  // flop of its own, so that no path runs from the descriptor through a product, a
  // 64-bit sum, a compare and the rule priority at once.
  logic [64:0] limit;
  assign limit = 65'd1 << AXI_ADDR_WIDTH;

  logic bad_magic_q, bad_version_q, bad_opcode_q, bad_flags_q, bad_kernel_q, bad_stride_q, bad_pad_q;
  logic bad_dim_fields_q, bad_dim_out_q, unaligned_q;
  // The tile-fit rule (eftrain.descriptor.tile_misfit), one flop per clause.
  logic tile_zero_q, pool_wide_q, ob_over_q, ib_over_q, wb_over_q, bp_odd_q, dbl_fit_q;
  logic [15:0] rows_fit_q;
  logic [31:0] ob_fill_q, ib_rows_need_q, ib_rows_fit_q, ib_fill_q;

  logic [64:0] in_end_q, out_end_q, wgt_end_q, aux_end_q;
  logic [7:0]  check_code, check_code_q;

  // Tensors each opcode uses beyond in_addr and out_addr (Descriptor.tensors).
  logic uses_wgt, uses_aux;
  assign uses_wgt = is_fp || is_bp || (is_wu && sgd);
  assign uses_aux = is_wu || (is_bp && relu_mask) || is_pool_bp;

  logic stride_shift;   // log2(stride) of a valid stride
  assign stride_shift = desc_q.stride == 4'd2;

  logic bad_tile, bad_range;
  assign bad_tile  = is_pool ? pool_wide_q : (tile_zero_q || ob_over_q || ib_over_q || wb_over_q || bp_odd_q);
  assign bad_range = in_end_q > limit || out_end_q > limit || (uses_wgt && wgt_end_q > limit)
                     || (uses_aux && aux_end_q > limit);

  always_comb begin
    check_code = ERR_NONE;
    if (bad_magic_q)                          check_code = ERR_BAD_MAGIC;
    else if (bad_version_q)                   check_code = ERR_BAD_VERSION;
    else if (bad_opcode_q)                    check_code = ERR_BAD_OPCODE;
    else if (bad_flags_q)                     check_code = ERR_BAD_FLAGS;
    else if (bad_kernel_q)                    check_code = ERR_BAD_KERNEL;
    else if (bad_stride_q)                    check_code = ERR_BAD_STRIDE;
    else if (bad_pad_q)                       check_code = ERR_BAD_PAD;
    else if (bad_dim_fields_q || bad_dim_out_q) check_code = ERR_BAD_DIMENSION;
    else if (bad_tile)                        check_code = ERR_TILE_TOO_LARGE;
    else if (unaligned_q)                     check_code = ERR_UNALIGNED_ADDRESS;
    else if (bad_range)                       check_code = ERR_ADDRESS_RANGE;
  end

  // The setup pipeline: each stage reads only registers of the stages before it.
  always_ff @(posedge clk_i) begin
    unique case (state_q)
      // Sizes the checks and the loops need; the rules on the descriptor's own fields.
      Derive: begin
        ho_s_q      <= ho_s;
        wo_s_q      <= wo_s;
        ho_q        <= 16'(ho_s);
        wo_q        <= 16'(wo_s);
        ng_q        <= groups(desc_q.n);
        mg_q        <= groups(desc_q.m);
        kk_q        <= 8'(desc_q.k) * 8'(desc_q.k);
        out_h_q     <= is_bp ? desc_q.h : 16'(ho_s);
        out_w_q     <= is_bp ? desc_q.w : 16'(wo_s);
        in_img_h_q  <= is_bp ? 16'(ho_s) : desc_q.h;
        in_img_w_q  <= is_bp ? 16'(wo_s) : desc_q.w;
        outer_n_q   <= is_bp ? groups(desc_q.n) : groups(desc_q.m);
        inner_n_q   <= is_bp ? groups(desc_q.m) : groups(desc_q.n);
        in_groups_q <= is_bp ? groups(desc_q.m) : groups(desc_q.n);
        bad_magic_q   <= desc_q.magic != MAGIC;
        bad_version_q <= desc_q.version != VERSION;
        bad_opcode_q  <= !(is_conv || is_pool);
        bad_flags_q   <= (desc_q.flags & ~flags_allowed) != '0;
        bad_kernel_q  <= is_pool ? desc_q.k != 4'd2 : (desc_q.k == 4'd0 || 32'(desc_q.k) > KMAX);
        bad_stride_q  <= is_pool ? desc_q.stride != 4'd2 : !(desc_q.stride inside {4'd1, 4'd2});
        bad_pad_q     <= is_pool ? desc_q.pad != 4'd0 : desc_q.pad >= desc_q.k;
        bad_dim_fields_q <= desc_q.batch == '0 || desc_q.n == '0 || desc_q.m == '0 || desc_q.h == '0
                            || desc_q.w == '0 || 32'(desc_q.batch) > MAX_DIM || 32'(desc_q.n) > MAX_DIM
                            || 32'(desc_q.m) > MAX_DIM || 32'(desc_q.h) > MAX_DIM || 32'(desc_q.w) > MAX_DIM
                            || (is_pool && desc_q.m != desc_q.n);
        unaligned_q   <= desc_q.in_addr[5:0] != '0 || desc_q.out_addr[5:0] != '0
                         || (uses_wgt && desc_q.wgt_addr[5:0] != '0) || (uses_aux && desc_q.aux_addr[5:0] != '0);
        tile_zero_q   <= desc_q.tile_rows == '0;
      end
      // Products of two dimensions; the output-size rules; what the tile-fit rule needs.
      Sizes: begin
        bad_dim_out_q <= ho_s_q < 1 || wo_s_q < 1 || ho_s_q > $signed(20'(MAX_DIM)) || wo_s_q > $signed(20'(MAX_DIM));
        pool_wide_q   <= 32'(wo_q) > POOL_MAX_WO;
        rows_fit_q    <= desc_q.tile_rows < out_h_q ? desc_q.tile_rows : out_h_q;
        hw_x_q        <= dim(desc_q.h) * dim(desc_q.w);
        hw_y_q        <= dim(ho_q) * dim(wo_q);
        ho_w_q        <= dim(ho_q) * dim(desc_q.w);
        mn_q          <= dim(mg_q) * dim(ng_q);
        ng_kk_q       <= dim(ng_q) * kk_q;
        // (The tile rule compares the full 16-bit count of blocks.)
        blocks_kk_q   <= in_groups_q * kk_q;
      end
      // An image's elements, the weight blocks, the tile-fit products.
      Products: begin
        img_x_q        <= dim(ng_q) * hw_x_q;
        img_y_q        <= dim(mg_q) * hw_y_q;
        wgt_blocks_q   <= mn_q * kk_q;
        ob_fill_q      <= rows_fit_q * out_w_q;
        // Stride is 1 or 2 once this matters (the stride rule comes first): a divide or
        // multiply by it is a shift, not a run-time divider or multiplier.
        ib_rows_need_q <= is_bp ? (32'(rows_fit_q) + 32'(desc_q.k) - 32'd1 + 32'(desc_q.stride) - 32'd1) >> stride_shift
                                : ((32'(rows_fit_q) - 32'd1) << stride_shift) + 32'(desc_q.k);
        bp_odd_q       <= is_bp && desc_q.stride == 4'd2 && rows_fit_q[0] && rows_fit_q < out_h_q;
        wb_over_q      <= 32'(blocks_kk_q) > WB_DEPTH;
        dbl_fit_q      <= 32'(blocks_kk_q) <= WB_DEPTH / 2;
      end
      Bytes: begin
        bytes_x_q     <= dim(desc_q.batch) * img_x_q;
        bytes_y_q     <= dim(desc_q.batch) * img_y_q;
        ib_rows_fit_q <= ib_rows_need_q > 32'(in_img_h_q) ? 32'(in_img_h_q) : ib_rows_need_q;
        ob_over_q     <= ob_fill_q > OB_DEPTH;
      end
      Ends: begin
        // (A pool has m = n, checked before these sizes are used.)
        act_in_bytes_q  <= 64'(reads_y ? bytes_y_q : bytes_x_q) << LOG_PIXEL;
        act_aux_bytes_q <= 64'(is_wu ? bytes_y_q : bytes_x_q) << LOG_PIXEL;
        wgt_bytes_q     <= 64'(wgt_blocks_q) * 64'(TN * TN * 4);
        out_bytes_q     <= is_wu ? 64'(wgt_blocks_q) * 64'(TN * TN * 4)
                                 : 64'(reads_y ? bytes_x_q : bytes_y_q) << LOG_PIXEL;
        ib_fill_q       <= ib_rows_fit_q * 32'(in_img_w_q);
      end
      Range: begin
        in_end_q  <= 65'(desc_q.in_addr) + 65'(act_in_bytes_q);
        out_end_q <= 65'(desc_q.out_addr) + 65'(out_bytes_q);
        wgt_end_q <= 65'(desc_q.wgt_addr) + 65'(wgt_bytes_q);
        aux_end_q <= 65'(desc_q.aux_addr) + 65'(act_aux_bytes_q);
        ib_over_q <= ib_fill_q > IB_DEPTH;
      end
      Rules: check_code_q <= check_code;
      default: ;
    endcase
  end

  // ---- address steps of the loops (per descriptor) -----------------------------------
  // The loops never multiply: every transfer address is a cursor that steps by one of
  // these when its loop counter does (as NVDLA's and Gemmini's address generators do).
  addr_t plane_in_q, img_in_q;        // a channel group's plane and an image of the input
  addr_t plane_out_q, img_out_q;      // the same of the output tile's tensor (FP/BP: the
                                      // output, WU: dy)
  addr_t row_step_q;                  // a full row tile of the output tile's tensor
  addr_t outer_step_q, inner_step_q;  // the next weight block of the outer / inner loop
  addr_t nbr_step_q;                  // from an outer tile's blocks to its neighbour's
  addr_t pool_aux_step_q, pool_in_step_q;   // pool BP: x and dy rows of an output row
  logic [31:0] block_beats_q, pool_rd_beats_q, pool_wr_beats_q, pool_rows_beats_q, pool_dy_beats_q;
  // The first IB row of a tile (before clipping) and its last (before clipping), as
  // (row + bias) scaled by the stride (schedule._Geometry.ib_rows).
  logic signed [19:0] lo_bias_q, hi_bias_in_q, hi_bias_out_q;

  always_ff @(posedge clk_i) begin
    if (state_q == Bytes) begin
      plane_in_q      <= AW'(reads_y ? hw_y_q : hw_x_q) << LOG_PIXEL;
      plane_out_q     <= AW'(reads_y ? hw_x_q : hw_y_q) << LOG_PIXEL;
      img_in_q        <= AW'(reads_y ? img_y_q : img_x_q) << LOG_PIXEL;
      img_out_q       <= AW'(reads_y ? img_x_q : img_y_q) << LOG_PIXEL;
      row_step_q      <= AW'(ob_fill_q) << LOG_PIXEL;
      // Block (mt, nt) is at (mt * ng + nt) blocks; FP and WU run mt outside, BP inside.
      outer_step_q    <= is_bp ? AW'(kk_q) << LOG_BLOCK : AW'(ng_kk_q) << LOG_BLOCK;
      inner_step_q    <= is_bp ? AW'(ng_kk_q) << LOG_BLOCK : AW'(kk_q) << LOG_BLOCK;
      block_beats_q   <= (32'(kk_q) * 32'(TN * TN * 4)) / 32'(BEAT_BYTES);
      pool_rd_beats_q <= (32'(ho_w_q) * 2) << PIXEL_BEATS_SHIFT;
      pool_wr_beats_q <= 32'(reads_y ? hw_x_q : hw_y_q) << PIXEL_BEATS_SHIFT;
      pool_rows_beats_q <= (32'(desc_q.w) * 2) << PIXEL_BEATS_SHIFT;
      pool_dy_beats_q <= 32'(wo_q) << PIXEL_BEATS_SHIFT;
      pool_aux_step_q <= (AW'(desc_q.w) * 2) << LOG_PIXEL;
      pool_in_step_q  <= AW'(wo_q) << LOG_PIXEL;
      // BP: dx row y reads dy row (y + pad - i) / s where that is an integer, so the
      // first is ceil((y + pad - k + 1) / s), the last floor((y + pad) / s).
      // FP/WU: output row y reads rows y * s - pad .. y * s - pad + k - 1.
      lo_bias_q       <= is_bp ? $signed({16'd0, desc_q.pad}) - $signed({16'd0, desc_q.k}) + 20'sd1
                                 + (stride_shift ? 20'sd1 : 20'sd0)
                               : -$signed({16'd0, desc_q.pad});
      hi_bias_in_q    <= is_bp ? $signed({16'd0, desc_q.pad}) - 20'sd1 : -20'sd1;
      hi_bias_out_q   <= is_bp ? 20'sd1 : $signed({16'd0, desc_q.k}) - $signed({16'd0, desc_q.pad});
    end
    if (state_q == Ends) nbr_step_q <= is_wu ? -outer_step_q : outer_step_q;
  end

  // ---- loop counters and the tile geometry -------------------------------------------
  logic [15:0] outer_q, inner_q, b_q, r0_q, tile_rows_q, tile_end_q, lo_q, ib_rows_q;
  logic        ib_half_q, ob_half_q;
  // WB double buffering (eftrain.schedule.conv_program): when an outer tile's blocks fit
  // in half of WB, outer tiles alternate between the halves, and the blocks of the
  // neighbouring outer tile move after every pace-th COMPUTE (pace = batch x row tiles).
  logic        dbl_q;
  logic [31:0] pace_n_q, pace_q, count_rows_q;
  logic [15:0] side_q, row_tiles_q;
  // inner_q * K*K and side_q * K*K: the WB entry of a block within its outer tile.
  logic [15:0] inner_kk_q, side_kk_q;

  /// First WB entry of the blocks of an outer tile of parity `odd`.
  function automatic logic [15:0] wb_region(logic dbl, logic odd);
    return (dbl && odd) ? 16'(WB_DEPTH / 2) : 16'd0;
  endfunction


  // Rows [lo, hi) of the IB image that output rows [r0, r0 + rows) read
  // (schedule._Geometry.ib_rows), over the Tile states, a step a cycle.
  logic signed [19:0] r0_s, tile_end_s, img_h_s, lo_div, hi_div, lo_clip_q, hi_div_q, hi_clip;
  logic [15:0]        tile_rows_d, tile_end_d;
  logic               lo_empty;

  // Rows of the next tile: rows_q, or what is left of the image.
  assign tile_rows_d = 32'(r0_q) + 32'(rows_q) > 32'(out_h_q) ? out_h_q - r0_q : rows_q;
  assign tile_end_d  = 32'(r0_q) + 32'(rows_q) > 32'(out_h_q) ? out_h_q : r0_q + rows_q;
  assign r0_s        = $signed({4'd0, r0_q});
  assign tile_end_s  = $signed({4'd0, tile_end_q});
  assign img_h_s     = $signed({4'd0, in_img_h_q});
  assign lo_div      = is_bp ? (r0_s + lo_bias_q) >>> (stride_shift ? 1 : 0)
                             : (r0_s <<< (stride_shift ? 1 : 0)) + lo_bias_q;
  assign hi_div      = is_bp ? ((tile_end_s + hi_bias_in_q) >>> (stride_shift ? 1 : 0)) + hi_bias_out_q
                             : ((tile_end_s + hi_bias_in_q) <<< (stride_shift ? 1 : 0)) + hi_bias_out_q;
  assign hi_clip     = hi_div_q > img_h_s ? img_h_s : hi_div_q;
  // No kernel position reaches these rows (stride-2 BP): COMPUTE still needs a full IB
  // half, so load the last row, which every position misses.
  assign lo_empty    = lo_clip_q >= hi_clip;

  // ---- transfer cursors ----------------------------------------------------------------
  // Input: the image of b_q; the LOAD_IN of channel tile inner_q of this row tile.
  addr_t in_image_q, in_load_q;
  logic [31:0] lo_elems_q;            // lo_q * in_w: the first IB row's offset in elements
  // Output tile (FP/BP STORE_OUT, WU LOAD_OUT of dy): offsets of the outer tile, of
  // (image, outer tile), of the row tile; the tile's output address and its second
  // operand's (the ReLU mask's activation, WU's dy).
  addr_t out_outer_q, out_image_q, out_row_q, out_tile_q, tile_wr_q, tile_rd_q;
  // Weight blocks, read (FP/BP w, WU SGD w) and write (WU dW): the first block of this
  // outer tile, the block LOAD_W / STORE_W moves next, and the same of the neighbour.
  addr_t w_outer_rd_q, w_outer_wr_q, w_cur_rd_q, w_cur_wr_q;
  addr_t w_nbr_rd_q, w_nbr_wr_q, w_side_rd_q, w_side_wr_q;
  // Pools: the plane's x / y / dx / dy and the rows of pool BP.
  addr_t pool_in_q, pool_out_q, pool_aux_q, pool_rows_q, pool_dy_q;
  logic [31:0] in_elems_q, out_elems_q;   // elements of a LOAD_IN and of an output tile

  // ---- the emission --------------------------------------------------------------------
  // Each emission is prepared into registers in the first cycle of its state and driven
  // from them until accepted, so that the command, the DMA requests and their routing
  // leave the controller from flops.
  engine_cmd_t cmd, em_cmd_q;
  logic        emitting, need_cmd_d, need_rd_d, need_wr_d, rd_main_d, side;
  addr_t       rd_addr, wr_addr;
  logic [31:0] rd_beats, wr_beats;
  logic        em_ready_q, em_need_cmd_q, em_need_rd_q, em_need_wr_q;
  logic [1:0]  em_rd_dest_q;
  addr_t       em_rd_addr_q, em_wr_addr_q;
  logic [31:0] em_rd_beats_q, em_wr_beats_q;
  logic        need_cmd, need_rd, need_wr;

  assign emitting = state_q inside {WeightLoad, StoreW, SideW, OutLoad, InLoad, Compute, StoreOut,
                                    PoolPlane, PoolRows, PoolDy};
  assign side     = state_q == SideW;

  always_comb begin
    cmd        = '0;
    need_cmd_d = 1'b0;
    need_rd_d  = 1'b0;
    need_wr_d  = 1'b0;
    rd_main_d  = 1'b1;
    rd_addr    = '0;
    wr_addr    = '0;
    rd_beats   = '0;
    wr_beats   = '0;
    unique case (state_q)
      // A weight block: FP/BP load one (WeightLoad, SideW), WU stores its dW (StoreW,
      // SideW; with SGD the same block of w goes to the store merge). SideW moves the
      // neighbouring outer tile's, whose parity is the other one.
      WeightLoad, StoreW, SideW: begin
        need_cmd_d  = 1'b1;
        cmd.op      = is_wu ? OP_STORE_W : OP_LOAD_W;
        cmd.mode    = is_bp ? MODE_BP : MODE_FP;   // BP's LOAD_W writes the block transposed
        cmd.wb_addr = wb_region(dbl_q, outer_q[0] ^ side) + (side ? side_kk_q : inner_kk_q);
        cmd.count   = 16'(kk_q) << LOG_TN;
        rd_addr     = side ? w_side_rd_q : w_cur_rd_q;
        rd_beats    = block_beats_q;
        wr_addr     = side ? w_side_wr_q : w_cur_wr_q;
        wr_beats    = block_beats_q;
        need_rd_d   = !is_wu || sgd;
        need_wr_d   = is_wu;
        rd_main_d   = !is_wu;
      end
      OutLoad: begin
        need_cmd_d = 1'b1;
        need_rd_d  = 1'b1;
        cmd.op     = OP_LOAD_OUT;
        cmd.half   = ob_half_q;
        cmd.count  = 16'(out_elems_q);
        rd_addr    = tile_rd_q;
        rd_beats   = out_elems_q << PIXEL_BEATS_SHIFT;
      end
      InLoad: begin
        need_cmd_d = 1'b1;
        need_rd_d  = 1'b1;
        cmd.op     = OP_LOAD_IN;
        cmd.half   = ib_half_q;
        cmd.count  = 16'(in_elems_q);
        rd_addr    = in_load_q;
        rd_beats   = in_elems_q << PIXEL_BEATS_SHIFT;
      end
      Compute: begin
        need_cmd_d     = 1'b1;
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
        cmd.ib_rows    = 12'(ib_rows_q);
        cmd.out_row0   = 12'(r0_q);
        cmd.out_rows   = 12'(tile_rows_q);
        cmd.out_w      = 12'(out_w_q);
        cmd.wb_base    = wb_region(dbl_q, outer_q[0]) + inner_kk_q;
        cmd.acc_init   = is_wu ? (b_q == '0 && r0_q == '0) : (inner_q == '0);
        cmd.ob_done    = inner_q == inner_n_q - 16'd1;
        cmd.ib_release = 1'b1;
      end
      StoreOut: begin
        need_cmd_d = 1'b1;
        need_wr_d  = 1'b1;
        cmd.op     = OP_STORE_OUT;
        cmd.half   = ob_half_q;
        cmd.count  = 16'(out_elems_q);
        wr_addr    = tile_wr_q;
        wr_beats   = out_elems_q << PIXEL_BEATS_SHIFT;
        // The ReLU mask: the same tile of the stored activation, to the store merge.
        need_rd_d  = is_bp && relu_mask;
        rd_main_d  = 1'b0;
        rd_addr    = tile_rd_q;
        rd_beats   = wr_beats;
      end
      PoolPlane: begin
        // FP: the plane's x rows 0 .. 2*Ho-1 in, its y rows out. BP: the dx plane.
        need_wr_d = 1'b1;
        need_rd_d = is_pool_fp;
        rd_addr   = pool_in_q;
        rd_beats  = pool_rd_beats_q;
        wr_addr   = pool_out_q;
        wr_beats  = pool_wr_beats_q;
      end
      PoolRows: begin
        need_rd_d = 1'b1;
        rd_addr   = pool_rows_q;
        rd_beats  = pool_rows_beats_q;
      end
      PoolDy: begin
        need_rd_d = 1'b1;
        rd_addr   = pool_dy_q;
        rd_beats  = pool_dy_beats_q;
      end
      default: ;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (emitting && !em_ready_q) begin
      em_cmd_q      <= cmd;
      em_need_cmd_q <= need_cmd_d;
      em_need_rd_q  <= need_rd_d;
      em_need_wr_q  <= need_wr_d;
      em_rd_dest_q  <= rd_main_d ? 2'd1 : 2'd2;
      em_rd_addr_q  <= rd_addr;
      em_rd_beats_q <= rd_beats;
      em_wr_addr_q  <= wr_addr;
      em_wr_beats_q <= wr_beats;
    end else if (state_q == Idle || state_q == Drain) begin
      // The descriptor fetch that may follow: the chain's first, or the next one.
      em_rd_dest_q  <= 2'd0;
      em_rd_addr_q  <= state_q == Idle ? chain_addr_i[AW-1:0] : desc_q.next_addr[AW-1:0];
      em_rd_beats_q <= 32'(DESC_BEATS);
    end
  end

  // Each emission hands a command to the engine and a request to a DMA; either may be
  // accepted first. A stop waits until no emission is half done (a LOAD without its
  // transfer, or a transfer without its command, would never drain) and the descriptor
  // fetch is complete.
  logic cmd_sent_q, rd_sent_q, wr_sent_q, emitted, partial, can_stop;
  logic stop_pending_q, soft_pending_q;

  assign need_cmd       = em_ready_q && em_need_cmd_q;
  assign need_rd        = em_ready_q && em_need_rd_q;
  assign need_wr        = em_ready_q && em_need_wr_q;
  assign partial        = cmd_sent_q || rd_sent_q || wr_sent_q;
  // A pool BP plane's dx write waits for all its rows: its reads are issued before a stop.
  assign can_stop       = stop_pending_q && !partial
                          && !(state_q inside {Idle, FetchData, Stop, PoolRows, PoolDy});
  assign cmd_valid_o    = need_cmd && !cmd_sent_q && !can_stop;
  assign cmd_o          = em_cmd_q;
  assign wr_req_valid_o = need_wr && !wr_sent_q && !can_stop;
  assign wr_req_addr_o  = em_wr_addr_q;
  assign wr_req_beats_o = em_wr_beats_q;
  assign emitted        = (need_cmd || need_rd || need_wr) && !can_stop
                          && (!need_cmd || cmd_sent_q || cmd_ready_i)
                          && (!need_rd || rd_sent_q || rd_req_ready_i)
                          && (!need_wr || wr_sent_q || wr_req_ready_i);

  // The read request is either a layer transfer or the descriptor fetch.
  assign rd_req_valid_o  = !can_stop && ((need_rd && !rd_sent_q) || state_q == Fetch);
  assign rd_req_addr_o   = em_rd_addr_q;
  assign rd_req_beats_o  = em_rd_beats_q;
  assign rd_req_dest_o   = em_rd_dest_q;

  assign fetch_o         = state_q == FetchData;
  assign rd_data_ready_o = state_q == FetchData;

  // ---- status ----------------------------------------------------------------------
  logic [7:0] stop_code_q;
  logic       stop_report_q;

  assign busy_o      = state_q != Idle;
  assign index_o     = index_q;
  assign desc_done_o = desc_done_q;

  // ---- the state machine ---------------------------------------------------------------
  // The engine's and the DMAs' idle flags come from deep logic in the engine: Drain and
  // Stop act on them a cycle late, registered. They are sampled only in those states, so
  // that the first cycle of either never sees an idle from before the last emission was
  // accepted.
  logic all_idle_q;
  always_ff @(posedge clk_i) begin
    if (!rst_ni) all_idle_q <= 1'b0;
    else         all_idle_q <= state_q inside {Drain, Stop} && engine_idle_i && rd_idle_i && wr_idle_i;
  end

  // ---- what follows an emission ---------------------------------------------------------
  // The loop counters change only as an emission is accepted (or before the loops start),
  // and every emitting state spends its first cycle preparing its emission: in that
  // cycle the controller also decides what the emission's acceptance will do (the next
  // state, the counters and cursors that step), into `plan_q`. Acceptance then only
  // commits the plan, so the DMAs' and the engine's ready reach the state and the
  // cursors through an enable, not through the loop compares.
  logic last_inner, last_outer, last_b, last_tile, first_inner, last_group, last_pool_row;
  logic side_due, pace_wrap;

  assign last_inner    = inner_q == inner_n_q - 16'd1;
  assign last_outer    = outer_q == outer_n_q - 16'd1;
  assign last_b        = b_q == desc_q.batch - 16'd1;
  assign last_tile     = 32'(r0_q) + 32'(rows_q) >= 32'(out_h_q);
  assign first_inner   = inner_q == '0;
  assign last_group    = outer_q == ng_q - 16'd1;     // pools: the plane's channel group
  assign last_pool_row = r0_q == ho_q - 16'd1;
  // After this COMPUTE, a block of the neighbouring outer tile (FP/BP: the next, WU: the
  // previous) moves.
  assign side_due  = dbl_q && pace_q == '0 && (is_wu ? outer_q != '0 : !last_outer);
  assign pace_wrap = pace_q == pace_n_q - 32'd1;

  typedef struct packed {
    state_e next;           // the state after the emission
    logic   ib_flip;        // COMPUTE: the other IB half
    logic   pace_step;      // COMPUTE: count the pace of the neighbour's blocks
    logic   pace_wrap;      //   ... back to 0
    logic   inner_next;     // the next block or channel tile
    logic   inner_reset;    //   ... back to the first
    logic   side_next;      // the neighbour's next block
    logic   ob_flip;        // after a row tile: the other OB half
    logic   tile_next;      // the next row tile of the image
    logic   tile_reset;     //   ... back to the first
    logic   image_next;     // the next image
    logic   image_reset;    //   ... back to the first
    logic   outer_next;     // the next outer tile
    logic   plane_next;     // pools: the next plane
    logic   group_next;     // pools: the next channel group
    logic   group_reset;    //   ... back to the first
    logic   pool_row_next;  // pool BP: the next output row
    logic   pool_row_reset; //   ... back to the first
  } plan_t;

  plan_t plan, plan_q;

  /// After a row tile: the next tile, the next image, or what follows the batch (WU: the
  /// dW stores; FP/BP: the next outer tile's weights, or the end).
  function automatic plan_t plan_next_tile(plan_t p);
    p.ob_flip = 1'b1;
    p.next    = Tile;
    if (!last_tile) begin
      p.tile_next = 1'b1;
    end else begin
      p.tile_reset = 1'b1;
      if (!last_b) begin
        p.image_next = 1'b1;
      end else begin
        p.image_reset = 1'b1;
        if (is_wu && (!dbl_q || last_outer)) begin
          p.next = StoreW;        // dW of this outer tile (double buffered: of the last)
        end else if (!last_outer) begin
          p.outer_next = 1'b1;
          p.next       = (dbl_q || is_wu) ? Tile : WeightLoad;
        end else begin
          p.next = Drain;
        end
      end
    end
    return p;
  endfunction

  /// What follows a COMPUTE (`last`: of the last inner tile): the next LOAD_IN, or the
  /// end of the row tile (WU stores dW only after the batch).
  function automatic plan_t plan_after_compute(plan_t p, logic last);
    if (!last)      p.next = InLoad;
    else if (is_wu) p = plan_next_tile(p);
    else            p.next = StoreOut;
    return p;
  endfunction

  /// After a pool plane: the next channel group, the next image, or the end.
  function automatic plan_t plan_next_plane(plan_t p);
    p.plane_next = 1'b1;
    p.next       = PoolPlane;
    if (!last_group) begin
      p.group_next = 1'b1;
    end else begin
      p.group_reset = 1'b1;
      if (!last_b) p.image_next = 1'b1;
      else         p.next = Drain;
    end
    return p;
  endfunction

  always_comb begin
    plan      = '0;
    plan.next = state_q;
    unique case (state_q)
      // FP/BP: the weight blocks of this outer tile, once for the whole batch.
      WeightLoad: begin
        plan.inner_next  = !last_inner;
        plan.inner_reset = last_inner;
        plan.next        = last_inner ? Tile : WeightLoad;
      end
      OutLoad: plan.next = InLoad;
      InLoad:  plan.next = Compute;
      Compute: begin
        plan.ib_flip     = 1'b1;
        plan.inner_next  = !last_inner;
        plan.inner_reset = last_inner;
        plan.pace_step   = 1'b1;
        plan.pace_wrap   = pace_wrap;
        if (side_due) plan.next = SideW;
        else          plan = plan_after_compute(plan, last_inner);
      end
      // After it, the neighbour's block; then what follows the COMPUTE (inner_q has
      // stepped already).
      SideW: begin
        plan.side_next = 1'b1;
        plan = plan_after_compute(plan, first_inner);
      end
      StoreOut: plan = plan_next_tile(plan);
      StoreW: begin
        if (!last_inner) begin
          plan.inner_next = 1'b1;
        end else begin
          plan.inner_reset = 1'b1;
          if (!last_outer) begin
            plan.outer_next = 1'b1;
            plan.next       = Tile;
          end else begin
            plan.next = Drain;
          end
        end
      end
      // Pools: planes in layout order (image, channel group); BP: row by row.
      PoolPlane: begin
        if (is_pool_bp) plan.next = PoolRows;
        else            plan = plan_next_plane(plan);
      end
      PoolRows: plan.next = PoolDy;
      PoolDy: begin
        if (last_pool_row) begin
          plan.pool_row_reset = 1'b1;
          plan = plan_next_plane(plan);
        end else begin
          plan.pool_row_next = 1'b1;
          plan.next          = PoolRows;
        end
      end
      default: ;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (emitting && !em_ready_q) plan_q <= plan;
  end

  task automatic finish(input logic [7:0] code);
    // End of the chain: done, or the error `code` at descriptor index_q.
    done_o    <= code == ERR_NONE;
    error_o   <= code != ERR_NONE;
    code_o    <= code;
    irq_set_o <= 1'b1;
    state_q   <= Idle;
  endtask

  task automatic inner_next();
    // The next block or channel tile of the inner loop.
    inner_q    <= inner_q + 16'd1;
    inner_kk_q <= inner_kk_q + 16'(kk_q);
    w_cur_rd_q <= w_cur_rd_q + inner_step_q;
    w_cur_wr_q <= w_cur_wr_q + inner_step_q;
    in_load_q  <= in_load_q + plane_in_q;
  endtask

  task automatic inner_reset();
    // Back to the first block or channel tile (the row tile's LOAD_IN address is set
    // anew by TileAddr).
    inner_q    <= '0;
    inner_kk_q <= '0;
    w_cur_rd_q <= w_outer_rd_q;
    w_cur_wr_q <= w_outer_wr_q;
  endtask

  task automatic next_outer();
    // The next outer tile: its COMPUTEs count the pace of the neighbour's blocks anew.
    // Called with the inner loop at (or reset to) its first tile in the same cycle, and
    // after inner_reset(), whose block cursors these assignments override.
    outer_q      <= outer_q + 16'd1;
    pace_q       <= '0;
    side_q       <= '0;
    side_kk_q    <= '0;
    w_outer_rd_q <= w_outer_rd_q + outer_step_q;
    w_outer_wr_q <= w_outer_wr_q + outer_step_q;
    w_cur_rd_q   <= w_outer_rd_q + outer_step_q;
    w_cur_wr_q   <= w_outer_wr_q + outer_step_q;
    w_nbr_rd_q   <= w_nbr_rd_q + outer_step_q;
    w_nbr_wr_q   <= w_nbr_wr_q + outer_step_q;
    w_side_rd_q  <= w_nbr_rd_q + outer_step_q;
    w_side_wr_q  <= w_nbr_wr_q + outer_step_q;
    out_outer_q  <= out_outer_q + plane_out_q;
    out_image_q  <= out_outer_q + plane_out_q;   // image 0 of the next outer tile
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
      beat_q        <= '0;
      em_ready_q    <= 1'b0;
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

      // The emission registers hold this state's emission from its second cycle on.
      if (emitting && !em_ready_q) em_ready_q <= 1'b1;
      if (emitted) em_ready_q <= 1'b0;

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
        em_ready_q     <= 1'b0;
        dma_drop_o     <= 1'b1;
        stop_pending_q <= 1'b0;
        soft_pending_q <= 1'b0;
        stop_report_q  <= !(soft_pending_q || soft_reset_i);
        stop_code_q    <= rd_error_i ? ERR_AXI_READ_ERROR : wr_error_i ? ERR_AXI_WRITE_ERROR : ERR_ABORTED;
      end else if (emitted) begin
        // The emission is accepted: commit its plan (inner_reset before next_outer, whose
        // block cursors override it; the pace step before next_outer's reset of it).
        state_q <= plan_q.next;
        if (plan_q.ib_flip)    ib_half_q <= !ib_half_q;
        if (plan_q.pace_step)  pace_q <= plan_q.pace_wrap ? '0 : pace_q + 32'd1;
        if (plan_q.inner_next) inner_next();
        if (plan_q.inner_reset) inner_reset();
        if (plan_q.side_next) begin
          side_q      <= side_q + 16'd1;
          side_kk_q   <= side_kk_q + 16'(kk_q);
          w_side_rd_q <= w_side_rd_q + inner_step_q;
          w_side_wr_q <= w_side_wr_q + inner_step_q;
        end
        if (plan_q.ob_flip) ob_half_q <= !ob_half_q;
        if (plan_q.tile_next) begin
          r0_q      <= r0_q + rows_q;
          out_row_q <= out_row_q + row_step_q;
        end
        if (plan_q.tile_reset) begin
          r0_q      <= '0;
          out_row_q <= '0;
        end
        if (plan_q.image_next) begin
          b_q         <= b_q + 16'd1;
          in_image_q  <= in_image_q + img_in_q;
          out_image_q <= out_image_q + img_out_q;
        end
        if (plan_q.image_reset) begin
          // (out_image_q moves to the next outer tile with next_outer.)
          b_q        <= '0;
          in_image_q <= in_base;
        end
        if (plan_q.outer_next) next_outer();
        if (plan_q.plane_next) begin
          // Planes are consecutive in layout order: every cursor steps by one plane.
          pool_in_q   <= pool_in_q + plane_in_q;
          pool_dy_q   <= pool_in_q + plane_in_q;
          pool_out_q  <= pool_out_q + plane_out_q;
          pool_aux_q  <= pool_aux_q + plane_out_q;   // pool BP: x has the shape of dx
          pool_rows_q <= pool_aux_q + plane_out_q;
        end
        if (plan_q.group_next)  outer_q <= outer_q + 16'd1;
        if (plan_q.group_reset) outer_q <= '0;
        if (plan_q.pool_row_next) begin
          r0_q        <= r0_q + 16'd1;
          pool_rows_q <= pool_rows_q + pool_aux_step_q;
          pool_dy_q   <= pool_dy_q + pool_in_step_q;
        end
        if (plan_q.pool_row_reset) r0_q <= '0;
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
          // The setup pipeline (above), a stage a cycle.
          Derive:   state_q <= Sizes;
          Sizes:    state_q <= Products;
          Products: state_q <= Bytes;
          Bytes:    state_q <= Ends;
          Ends:     state_q <= Range;
          Range:    state_q <= Rules;
          Rules:    state_q <= Check;
          // Act on the verdict; then start the loops.
          Check: begin
            if (check_code_q != ERR_NONE) begin
              finish(check_code_q);
            end else begin
              rows_q      <= rows_fit_q;
              outer_q     <= '0;
              inner_q     <= '0;
              b_q         <= '0;
              r0_q        <= '0;
              ib_half_q   <= 1'b0;
              ob_half_q   <= 1'b0;
              pace_q      <= '0;
              side_q      <= '0;
              dbl_q       <= dbl_fit_q;
              inner_kk_q  <= '0;
              side_kk_q   <= '0;
              in_image_q  <= in_base;
              out_outer_q <= '0;
              out_image_q <= '0;
              out_row_q   <= '0;
              w_outer_rd_q <= wgt_base;
              w_cur_rd_q   <= wgt_base;
              w_outer_wr_q <= out_base;
              w_cur_wr_q   <= out_base;
              w_nbr_rd_q   <= wgt_base + nbr_step_q;
              w_side_rd_q  <= wgt_base + nbr_step_q;
              w_nbr_wr_q   <= out_base + nbr_step_q;
              w_side_wr_q  <= out_base + nbr_step_q;
              pool_in_q   <= in_base;
              pool_dy_q   <= in_base;
              pool_out_q  <= out_base;
              pool_aux_q  <= aux_base;
              pool_rows_q <= aux_base;
              // Count the row tiles from the first one.
              count_rows_q <= 32'(rows_fit_q);
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
          // The next row tile, over five cycles: its rows and the first IB row.
          Tile: begin
            tile_rows_q <= tile_rows_d;
            tile_end_q  <= tile_end_d;
            lo_clip_q   <= lo_div < 0 ? 20'sd0 : lo_div;
            out_tile_q  <= out_image_q + out_row_q;
            state_q     <= TileHi;
          end
          // The last IB row; the output tile's addresses.
          TileHi: begin
            hi_div_q  <= hi_div;
            tile_wr_q <= out_base + out_tile_q;
            tile_rd_q <= aux_base + out_tile_q;
            state_q   <= TileIb;
          end
          // The IB rows, clipped to the image.
          TileIb: begin
            lo_q        <= 16'(lo_empty ? img_h_s - 20'sd1 : lo_clip_q);
            ib_rows_q   <= 16'(lo_empty ? 20'sd1 : hi_clip - lo_clip_q);
            out_elems_q <= 32'(tile_rows_q) * 32'(out_w_q);
            state_q     <= TileSize;
          end
          TileSize: begin
            lo_elems_q <= 32'(lo_q) * 32'(in_img_w_q);
            in_elems_q <= 32'(ib_rows_q) * 32'(in_img_w_q);
            state_q    <= TileAddr;
          end
          // The first LOAD_IN of the tile: channel tile 0 of this image.
          TileAddr: begin
            in_load_q <= in_image_q + (AW'(lo_elems_q) << LOG_PIXEL);
            state_q   <= is_wu ? OutLoad : InLoad;
          end
          // The emitting states wait for the emission's acceptance (below).
          WeightLoad, OutLoad, InLoad, Compute, SideW, StoreOut, StoreW, PoolPlane, PoolRows, PoolDy: ;
          // The descriptor is complete once every command and transfer has finished.
          // A stop that arrives as the last transfer completes (its error response is what
          // makes the DMA idle) is reported for this descriptor, not lost.
          Drain: if (all_idle_q && !stop_pending_q
                     && !(abort_i || soft_reset_i || rd_error_i || wr_error_i)) begin
            desc_done_q <= desc_done_q + 32'd1;
            if (desc_q.next_addr == '0) begin
              finish(ERR_NONE);
            end else begin
              index_q <= index_q + 16'd1;
              if (desc_q.next_addr[5:0] != '0) finish(ERR_UNALIGNED_ADDRESS);
              else                             state_q <= Fetch;
            end
          end
          // Drop mode until everything emitted has finished, then a clean datapath.
          Stop: if (all_idle_q) begin
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
  assign wr_lo   = 65'(wr_req_addr_o);
  assign wr_hi   = 65'(wr_req_addr_o) + 65'(wr_req_beats_o) * BEAT_BYTES;
  assign rd_lo   = 65'(rd_req_addr_o);
  assign rd_hi   = 65'(rd_req_addr_o) + 65'(rd_req_beats_o) * BEAT_BYTES;
  assign out_end = 65'(desc_q.out_addr) + 65'(out_bytes_q);

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
  // An emission's payload holds until it is accepted (the DMAs and the engine queue
  // take it at their ready).
  a_payload_stable: assert property (@(posedge clk_i) disable iff (!armed)
    em_ready_q && !emitted && !can_stop |=> $stable({em_cmd_q, em_rd_addr_q, em_rd_beats_q, em_wr_addr_q, em_wr_beats_q}))
    else $error("layer_ctrl: emission changed before it was accepted");
  // The plan is made in an emission's first cycle from counters that hold until it is
  // accepted.
  a_plan_current: assert property (@(posedge clk_i) disable iff (!armed)
    em_ready_q && !emitted && !can_stop |=> $stable({outer_q, inner_q, b_q, r0_q, side_q, pace_q}))
    else $error("layer_ctrl: a loop counter changed under a prepared emission");
  // Counters that must not wrap.
  a_index_no_wrap: assert property (@(posedge clk_i) disable iff (!armed)
    state_q == Drain && desc_q.next_addr != '0 |-> index_q != '1)
    else $error("layer_ctrl: chain longer than 65535 descriptors");
  a_done_no_wrap: assert property (@(posedge clk_i) disable iff (!armed) desc_done_q != '1)
    else $error("layer_ctrl: DESC_DONE wrapped");
`endif

endmodule

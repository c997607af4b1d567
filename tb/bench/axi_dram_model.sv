// DRAM model for the benchmarks: an AXI4 slave memory with a fixed access latency and a
// bandwidth limit, so that `make bench` measures the core against a memory like the
// ZCU102's (one HP port into the PS DDR4) at full simulation speed. The regression uses
// cocotbext-axi's AxiRam instead; this model exists because a Python memory on every
// beat caps a 16x16 top-level simulation far below the speed benchmarks need.
//
// Timing, per direction (reads and writes have their own channels and budgets):
// - latency: a burst's first R beat (a write's B response) comes `cfg_latency_i` cycles
//   after its AR (its last W beat) at the earliest;
// - bandwidth: a token bucket filled with `cfg_bytes_per_cycle_i / 256` bytes per cycle
//   (8.8 fixed point), capped at two beats; every data beat spends DW/8 bytes.
// Up to MAX_BURSTS bursts are queued per direction; bursts are served in order. Only
// INCR bursts of full-width beats (what the core issues) are modelled; anything else,
// or an address outside the memory, stops the simulation.
//
// The test bench fills and reads `mem` through VPI (cocotb), before and after a run.
module axi_dram_model #(
  parameter int unsigned DW         = 512,
  parameter int unsigned AW         = 40,
  parameter int unsigned IDW        = 4,
  parameter int unsigned WORDS      = 1 << 20,  // DW-bit words
  parameter int unsigned MAX_BURSTS = 8
) (
  input  logic           clk,
  input  logic           rst_n,
  input  logic [15:0]    cfg_latency_i,
  input  logic [15:0]    cfg_bytes_per_cycle_i,  // 8.8 fixed point
  // AXI4 slave
  input  logic [IDW-1:0] awid,
  input  logic [AW-1:0]  awaddr,
  input  logic [7:0]     awlen,
  input  logic [2:0]     awsize,
  input  logic [1:0]     awburst,
  input  logic           awvalid,
  output logic           awready,
  input  logic [DW-1:0]  wdata,
  input  logic [DW/8-1:0] wstrb,
  input  logic           wlast,
  input  logic           wvalid,
  output logic           wready,
  output logic [IDW-1:0] bid,
  output logic [1:0]     bresp,
  output logic           bvalid,
  input  logic           bready,
  input  logic [IDW-1:0] arid,
  input  logic [AW-1:0]  araddr,
  input  logic [7:0]     arlen,
  input  logic [2:0]     arsize,
  input  logic [1:0]     arburst,
  input  logic           arvalid,
  output logic           arready,
  output logic [IDW-1:0] rid,
  output logic [DW-1:0]  rdata,
  output logic [1:0]     rresp,
  output logic           rlast,
  output logic           rvalid,
  input  logic           rready
);

  localparam int unsigned BEAT_BYTES = DW / 8;
  localparam int unsigned OFFSET     = $clog2(BEAT_BYTES);
  localparam int unsigned QW         = $clog2(MAX_BURSTS);
  localparam int unsigned BEAT_FIXED = BEAT_BYTES * 256;  // a beat in 8.8 bytes

  logic [DW-1:0] mem [WORDS];  // reached through VPI (tb/bench/bench_public.vlt)

  longint unsigned now;
  always_ff @(posedge clk) now <= rst_n ? now + 1 : '0;

  // ---- bandwidth: one token bucket per direction ---------------------------------------
  int unsigned rd_tokens, wr_tokens;
  logic        rd_can, wr_can;
  logic        rd_spend, wr_spend;
  assign rd_can = rd_tokens >= BEAT_FIXED;
  assign wr_can = wr_tokens >= BEAT_FIXED;

  function automatic int unsigned refill(int unsigned tokens, logic spend, logic [15:0] rate);
    int unsigned t = tokens + 32'(rate) - (spend ? BEAT_FIXED : 0);
    return t > 2 * BEAT_FIXED ? 2 * BEAT_FIXED : t;
  endfunction

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      rd_tokens <= 0;
      wr_tokens <= 0;
    end else begin
      rd_tokens <= refill(rd_tokens, rd_spend, cfg_bytes_per_cycle_i);
      wr_tokens <= refill(wr_tokens, wr_spend, cfg_bytes_per_cycle_i);
    end
  end

  function automatic int unsigned word_index(logic [AW-1:0] addr);
    if (64'(addr) >> OFFSET >= 64'(WORDS)) $fatal(1, "axi_dram_model: address %h outside %0d words", addr, WORDS);
    return int'(64'(addr) >> OFFSET);
  endfunction

  // ---- reads ---------------------------------------------------------------------------
  typedef struct packed {
    logic [IDW-1:0]  id;
    logic [31:0]     word;
    logic [7:0]      len;
    logic [63:0]     ready_at;
  } burst_t;

  burst_t          rq [MAX_BURSTS];
  logic [QW:0]     rq_head, rq_tail;
  logic [7:0]      r_beat;
  logic            rq_empty, rq_full;
  assign rq_empty = rq_head == rq_tail;
  assign rq_full  = (rq_tail - rq_head) == (QW + 1)'(MAX_BURSTS);
  assign arready  = !rq_full;

  logic r_next;  // the output register takes the next beat this cycle
  assign r_next   = (!rvalid || rready) && !rq_empty && rd_can && now >= rq[rq_head[QW-1:0]].ready_at;
  assign rd_spend = r_next;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      rq_head <= '0;
      rq_tail <= '0;
      r_beat  <= '0;
      rvalid  <= 1'b0;
    end else begin
      if (arvalid && arready) begin
        if (arburst != 2'b01 || 32'(arsize) != OFFSET) $fatal(1, "axi_dram_model: only full-width INCR bursts");
        rq[rq_tail[QW-1:0]] <= '{id: arid, word: word_index(araddr), len: arlen,
                                 ready_at: now + 64'(cfg_latency_i)};
        rq_tail <= rq_tail + 1'b1;
      end
      if (r_next) begin
        rvalid <= 1'b1;
        rid    <= rq[rq_head[QW-1:0]].id;
        rdata  <= mem[rq[rq_head[QW-1:0]].word + 32'(r_beat)];
        rlast  <= r_beat == rq[rq_head[QW-1:0]].len;
        if (r_beat == rq[rq_head[QW-1:0]].len) begin
          r_beat  <= '0;
          rq_head <= rq_head + 1'b1;
        end else begin
          r_beat <= r_beat + 1'b1;
        end
      end else if (rready) begin
        rvalid <= 1'b0;
      end
    end
  end
  assign rresp = 2'b00;

  // ---- writes --------------------------------------------------------------------------
  burst_t          wq [MAX_BURSTS];   // accepted addresses
  burst_t          bq [MAX_BURSTS];   // responses due
  logic [QW:0]     wq_head, wq_tail, bq_head, bq_tail;
  logic [7:0]      w_beat;
  logic            wq_empty, wq_full, bq_empty, bq_full;
  assign wq_empty = wq_head == wq_tail;
  assign wq_full  = (wq_tail - wq_head) == (QW + 1)'(MAX_BURSTS);
  assign bq_empty = bq_head == bq_tail;
  assign bq_full  = (bq_tail - bq_head) == (QW + 1)'(MAX_BURSTS);
  assign awready  = !wq_full;
  // Data is taken only for an address already accepted (AXI allows the slave to wait).
  assign wready   = !wq_empty && !bq_full && wr_can;
  assign wr_spend = wvalid && wready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wq_head <= '0;
      wq_tail <= '0;
      bq_head <= '0;
      bq_tail <= '0;
      w_beat  <= '0;
      bvalid  <= 1'b0;
    end else begin
      if (awvalid && awready) begin
        if (awburst != 2'b01 || 32'(awsize) != OFFSET) $fatal(1, "axi_dram_model: only full-width INCR bursts");
        wq[wq_tail[QW-1:0]] <= '{id: awid, word: word_index(awaddr), len: awlen, ready_at: '0};
        wq_tail <= wq_tail + 1'b1;
      end
      if (wvalid && wready) begin
        if (&wstrb) begin
          mem[wq[wq_head[QW-1:0]].word + 32'(w_beat)] <= wdata;
        end else begin
          for (int b = 0; b < BEAT_BYTES; b++) begin
            if (wstrb[b]) mem[wq[wq_head[QW-1:0]].word + 32'(w_beat)][8*b +: 8] <= wdata[8*b +: 8];
          end
        end
        if (wlast != (w_beat == wq[wq_head[QW-1:0]].len)) $fatal(1, "axi_dram_model: WLAST on beat %0d of %0d", w_beat, wq[wq_head[QW-1:0]].len + 1);
        if (wlast) begin
          w_beat  <= '0;
          wq_head <= wq_head + 1'b1;
          bq[bq_tail[QW-1:0]] <= '{id: wq[wq_head[QW-1:0]].id, word: '0, len: '0,
                                   ready_at: now + 64'(cfg_latency_i)};
          bq_tail <= bq_tail + 1'b1;
        end else begin
          w_beat <= w_beat + 1'b1;
        end
      end
      if (!bvalid || bready) begin
        bvalid <= !bq_empty && now >= bq[bq_head[QW-1:0]].ready_at;
        bid    <= bq[bq_head[QW-1:0]].id;
        if (!bq_empty && now >= bq[bq_head[QW-1:0]].ready_at) bq_head <= bq_head + 1'b1;
      end
    end
  end
  assign bresp = 2'b00;

endmodule

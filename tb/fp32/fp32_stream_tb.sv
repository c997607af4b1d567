/// Test harness for `fp32_mul` and `fp32_add`: both units see the same operand pairs,
/// either from the ports (`stream_i` low: the test drives every cycle) or, for the bulk
/// random runs, streamed from a stimulus memory at one pair per cycle so that Python
/// stays out of the per-cycle path.
///
/// Stream protocol: the test writes `fp32_vectors.hex` (one 64-bit word `{a, b}` per
/// line) into the simulation directory, sets `count_i`, and raises `stream_i`. The
/// harness reads the file, streams the pairs (with bubbles when `bubbles_i` is set),
/// collects every result in order, writes `fp32_mul_results.hex` and
/// `fp32_add_results.hex`, and raises `done_o` until `stream_i` falls.
module fp32_stream_tb #(
  /// Largest number of pairs one stream can hold.
  parameter int unsigned DEPTH = 1 << 19
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  // Direct drive.
  input  logic        valid_i,
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic        mul_valid_o,
  output logic [31:0] mul_y_o,
  output logic        add_valid_o,
  output logic [31:0] add_y_o,
  // Streaming.
  input  logic        stream_i,
  input  logic        bubbles_i,
  input  logic [31:0] count_i,
  output logic        done_o
);

  logic [63:0] vectors   [DEPTH];
  logic [31:0] mul_results [DEPTH];
  logic [31:0] add_results [DEPTH];

  typedef enum logic [1:0] {Idle, Load, Stream, Drain} state_e;
  state_e      state_q;
  logic [31:0] issued_q, mul_seen_q, add_seen_q;
  logic [15:0] lfsr_q;  // bubble pattern
  logic        issue;

  assign issue = (state_q == Stream) && (issued_q < count_i) && !(bubbles_i && lfsr_q[0]);

  fp32_mul u_mul (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i (stream_i ? issue : valid_i),
    .a_i     (stream_i ? vectors[issued_q][63:32] : a_i),
    .b_i     (stream_i ? vectors[issued_q][31:0]  : b_i),
    .valid_o (mul_valid_o),
    .y_o     (mul_y_o)
  );

  fp32_add u_add (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i (stream_i ? issue : valid_i),
    .a_i     (stream_i ? vectors[issued_q][63:32] : a_i),
    .b_i     (stream_i ? vectors[issued_q][31:0]  : b_i),
    .valid_o (add_valid_o),
    .y_o     (add_y_o)
  );

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q    <= Idle;
      issued_q   <= '0;
      mul_seen_q <= '0;
      add_seen_q <= '0;
      lfsr_q     <= 16'hACE1;
      done_o     <= 1'b0;
    end else begin
      lfsr_q <= {lfsr_q[14:0], lfsr_q[15] ^ lfsr_q[13] ^ lfsr_q[12] ^ lfsr_q[10]};
      unique case (state_q)
        // Waiting for the test to ask for a stream.
        Idle: if (stream_i && !done_o) state_q <= Load;
              else if (!stream_i) done_o <= 1'b0;
        // Read the stimulus file the test has just written.
        Load: begin
          if (count_i > DEPTH) $fatal(1, "fp32_stream_tb: count_i %0d > DEPTH %0d", count_i, DEPTH);
          $readmemh("fp32_vectors.hex", vectors, 0, count_i - 1);
          issued_q   <= '0;
          mul_seen_q <= '0;
          add_seen_q <= '0;
          state_q    <= Stream;
        end
        // One pair per cycle into both units.
        Stream: begin
          if (issue) issued_q <= issued_q + 1;
          if (mul_valid_o) begin
            mul_results[mul_seen_q] <= mul_y_o;
            mul_seen_q <= mul_seen_q + 1;
          end
          if (add_valid_o) begin
            add_results[add_seen_q] <= add_y_o;
            add_seen_q <= add_seen_q + 1;
          end
          if (mul_seen_q == count_i && add_seen_q == count_i) state_q <= Drain;
        end
        // Hand the results to the test.
        Drain: begin
          $writememh("fp32_mul_results.hex", mul_results, 0, count_i - 1);
          $writememh("fp32_add_results.hex", add_results, 0, count_i - 1);
          done_o  <= 1'b1;
          state_q <= Idle;
        end
        default: state_q <= Idle;
      endcase
    end
  end

endmodule

rtl/assert_armed.sv
rtl/stream_fifo.sv
rtl/axi_burst_split.sv
rtl/axi_dma_wr.sv

-f rtl/conv_engine.f
rtl/eftrain_desc_pkg.sv
rtl/axi_burst_split.sv
rtl/axi_dma_rd.sv
rtl/axi_dma_wr.sv
rtl/stream_upsize.sv
rtl/stream_downsize.sv
rtl/eftrain_csr.sv
rtl/layer_ctrl.sv
rtl/pool_unit.sv
rtl/store_merge.sv
rtl/eftrain_top.sv

rtl/eftrain_pkg.sv
rtl/fp32_fast_pkg.sv
rtl/fp32_round.sv
rtl/fp32_mul.sv

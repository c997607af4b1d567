# ZCU102 evaluation board (Zynq UltraScale+ XCZU9EG): the board the core targets first.
# Returns the settings fpga/common/ reads (eftrain::board_settings).
dict create \
  name        zcu102 \
  display     "ZCU102 (XCZU9EG-2FFVB1156E)" \
  part        xczu9eg-ffvb1156-2-e \
  board_part  "xilinx.com:zcu102:part0:*"

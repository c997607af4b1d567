# ZCU104 evaluation board (Zynq UltraScale+ XCZU7EV). Returns the settings fpga/common/
# reads (eftrain::board_settings).
dict create \
  name        zcu104 \
  display     "ZCU104 (XCZU7EV-2FFVC1156E)" \
  part        xczu7ev-ffvc1156-2-e \
  board_part  "xilinx.com:zcu104:part0:*"

# OpenWrt x86_64 (PC Engines APU, VMs): runs natively here, no emulation.
CROSS = x86_64-linux-gnu-
ARCH_CFLAGS =
# Generic elliptic-curve code (params.h, WITH_SMALL_EC): 10 KB, for 2 ms more per handshake.
CPPFLAGS += -DWITH_SMALL_EC=1
SIZE_BUDGET = 300000
include board/cross.mk

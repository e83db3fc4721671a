# OpenWrt x86_64 (PC Engines APU, VMs): runs natively here, no emulation.
CROSS = x86_64-linux-gnu-
ARCH_CFLAGS =
SIZE_BUDGET = 300000
include board/cross.mk

# OpenWrt aarch64_cortex-a53 (mediatek filogic, ipq807x, bcm27xx 64-bit): 4 KB pages, so no
# 64 KB segment padding (LDFLAGS in the Makefile) and no unwind tables.
CROSS = aarch64-linux-gnu-
ARCH_CFLAGS = -mcpu=cortex-a53
QEMU_ARCH = aarch64
QEMU_CPU = cortex-a53
SIZE_BUDGET = 328704
include board/cross.mk

# OpenWrt arm_cortex-a7_neon-vfpv4 (ipq40xx, sunxi): Cortex-A7 with hardware divide and VFPv4.
CROSS = arm-linux-gnueabihf-
ARCH_CFLAGS = -mcpu=cortex-a7 -mfpu=neon-vfpv4 -mfloat-abi=hard
QEMU_ARCH = arm
QEMU_CPU = cortex-a7
SIZE_BUDGET = 233472
include board/cross.mk

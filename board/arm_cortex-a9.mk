# OpenWrt arm_cortex-a9 (bcm53xx; mvebu's Cortex-A9 runs it too): no hardware divide and
# no FPU, so soft float with the armel toolchain and both banned in the linked binary.
CROSS = arm-linux-gnueabi-
ARCH_CFLAGS = -mcpu=cortex-a9 -mfloat-abi=soft
# Thumb-2 for mailnook and BearSSL: a third smaller than ARM code.
CODE_CFLAGS = -mthumb
QEMU_ARCH = arm
QEMU_CPU = cortex-a9
SIZE_BUDGET = 257024
BANNED_INSNS = [[:space:]]([su]div|v[a-z][a-z0-9.]*)[[:space:]]
include board/cross.mk

# OpenWrt arm_arm1176jzf-s_vfp (bcm2708, the first Raspberry Pi): ARMv6, VFPv2, no Thumb-2,
# no MOVW/MOVT, no hardware divide. The armel toolchain's libgcc is ARMv5TE code, which runs
# there; a static binary does not care that the image's ABI passes floats in VFP registers.
CROSS = arm-linux-gnueabi-
ARCH_CFLAGS = -mcpu=arm1176jzf-s -mfpu=vfp -mfloat-abi=softfp -marm
# Thumb (Thumb-1 here) for mailnook's own code: 15% smaller. BearSSL stays ARM code: its
# big-number arithmetic lives on 32x32->64 multiplies, which Thumb-1 lacks.
OWN_CFLAGS = -mthumb
QEMU_ARCH = arm
QEMU_CPU = arm1176
SIZE_BUDGET = 280576
BANNED_INSNS = [[:space:]]([su]div|movw|movt)[[:space:]]
include board/cross.mk

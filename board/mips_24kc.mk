# OpenWrt mips_24kc (ath79 and other Atheros/Qualcomm SoCs): MIPS 24Kc, big-endian, no FPU,
# and OpenWrt kernels there do not emulate one, so every FPU instruction is banned.
CROSS = mips-linux-gnu-
ARCH_CFLAGS = -march=24kc -msoft-float -mno-branch-likely
# MIPS16e for mailnook and BearSSL, as OpenWrt builds packages there: a fifth smaller.
# -mplt: absolute addresses instead of $gp set-up and GOT loads in every function (30 KB).
CODE_CFLAGS = -mips16 -minterlink-mips16 -mplt
# Generic elliptic-curve code (params.h, WITH_SMALL_EC): 12 KB, for slower handshakes.
CPPFLAGS += -DWITH_SMALL_EC=1
QEMU_ARCH = mips
QEMU_CPU = 24Kc
SIZE_BUDGET = 306176
BANNED_INSNS = [$$]f[0-9]|[[:space:]](bc1[ft]l?|cfc1|ctc1)[[:space:]]
# Debian's cross libgcc passes doubles in FPU registers: gcc's soft-fp built here instead.
SYSROOT_EXTRA = softfp
include board/cross.mk

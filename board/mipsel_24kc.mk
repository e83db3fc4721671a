# OpenWrt mipsel_24kc (ramips: MT7620, MT7621, MT76x8): MIPS 24Kc/1004Kc, little-endian,
# no FPU. Linked like the OpenWrt package: the image's shared musl (with crypt(), so bcrypt
# hashes work) and BearSSL static.
CROSS = mipsel-linux-gnu-
ARCH_CFLAGS = -march=24kc -msoft-float -mno-branch-likely
QEMU_ARCH = mipsel
QEMU_CPU = 24Kc
STATIC = 0
WITH_LIBC_CRYPT = 1
SIZE_BUDGET = 204800
BANNED_INSNS = [$$]f[0-9]|[[:space:]](bc1[ft]l?|cfc1|ctc1)[[:space:]]
# Debian's cross libgcc passes doubles in FPU registers: gcc's soft-fp built here instead.
SYSROOT_EXTRA = softfp
include board/cross.mk

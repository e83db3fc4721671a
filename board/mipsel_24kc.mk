# OpenWrt mipsel_24kc (ramips: MT7620, MT7621, MT76x8): MIPS 24Kc/1004Kc, little-endian,
# no FPU. Linked like the OpenWrt package: the image's shared musl (with crypt(), so bcrypt
# hashes work) and BearSSL static.
CROSS = mipsel-linux-gnu-
ARCH_CFLAGS = -march=24kc -msoft-float -mno-branch-likely
# MIPS16e for mailnook and BearSSL, as OpenWrt builds packages there: a third smaller.
# -mplt: calls into musl go through a PLT and its data is copied, so functions don't set
# up $gp and load every address from the GOT (30 KB).
CODE_CFLAGS = -mips16 -minterlink-mips16 -mplt
# Generic elliptic-curve code (params.h, WITH_SMALL_EC): 12 KB, for slower handshakes.
CPPFLAGS += -DWITH_SMALL_EC=1
QEMU_ARCH = mipsel
QEMU_CPU = 24Kc
STATIC = 0
WITH_LIBC_CRYPT = 1
# OpenWrt's aim is 200 KB (204800); this is where it stands.
SIZE_BUDGET = 215040
BANNED_INSNS = [$$]f[0-9]|[[:space:]](bc1[ft]l?|cfc1|ctc1)[[:space:]]
# Debian's cross libgcc passes doubles in FPU registers: gcc's soft-fp built here instead.
SYSROOT_EXTRA = softfp
include board/cross.mk

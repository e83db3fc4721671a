# Shared part of the cross profiles (board/<target>.mk): each names its toolchain prefix
# CROSS, its CPU flags ARCH_CFLAGS and how qemu runs it, then includes this file.
# musl and BearSSL for the profile are built from source by `make BOARD=<target> sysroot`
# (tests/cross/sysroot.sh) into SYSROOT; point SYSROOT elsewhere to use your own.
LIBC = musl
VARIANT = $(BOARD)
SYSROOT ?= $(CURDIR)/build/cross/$(BOARD)/sysroot
# musl's gcc specs (installed with it) swap the toolchain's C library for this musl.
CC = $(CROSS)gcc -specs $(SYSROOT)/lib/musl-gcc.specs
OBJDUMP = $(CROSS)objdump
STRIP = $(CROSS)strip
# Not position-independent (Debian's cross gcc defaults to PIE): PIE code is bigger, most
# of all on MIPS.
CFLAGS = -Os $(ARCH_CFLAGS) $(CODE_CFLAGS) $(OWN_CFLAGS) -fno-pie
LDFLAGS += -no-pie
BEARSSL_INC = $(SYSROOT)/include
BEARSSL_LIB = $(SYSROOT)/lib/libbearssl.a
# CODE_CFLAGS: for mailnook and BearSSL only, not musl (e.g. MIPS16e, as OpenWrt builds them).
CODE_CFLAGS ?=
# OWN_CFLAGS: for mailnook's own code only (e.g. Thumb-1, too slow for BearSSL's arithmetic).
OWN_CFLAGS ?=
# Under emulation: `qemu-$(QEMU_ARCH)-static -cpu $(QEMU_CPU)`; empty QEMU_ARCH runs natively.
QEMU_ARCH ?=
QEMU_CPU ?=

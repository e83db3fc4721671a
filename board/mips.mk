# Cross build for MIPS routers (ath79, ramips: MIPS 24Kc/74Kc, big-endian) with an OpenWrt
# SDK or toolchain:   make BOARD=mips   (output in build/mips/mailnook)
# BearSSL must be built for the same target first, e.g. in a BearSSL checkout:
#   make CONF=mips   with conf/mips.mk setting CC, AR and LD to the $(TRIPLET)- tools.
# Override any path on the command line: make BOARD=mips TOOLCHAIN=... BEARSSL=...
TOOLCHAIN ?= $(HOME)/openwrt-sdk/staging_dir/toolchain-mips_24kc_gcc-12.3.0_musl
TRIPLET = mips-openwrt-linux-musl
CC = $(TOOLCHAIN)/bin/$(TRIPLET)-gcc
BEARSSL ?= $(HOME)/src/BearSSL
BEARSSL_INC = $(BEARSSL)/inc
BEARSSL_LIB = $(BEARSSL)/build-mips/libbearssl.a
VARIANT = mips
CFLAGS = -Os -mips32r2 -mtune=24kc -fno-caller-saves
# OpenWrt's musl has crypt() with bcrypt; a static binary runs on any firmware version.
CPPFLAGS += -DWITH_LIBC_CRYPT=1
LDFLAGS += -static -s

# Cross build for 32-bit ARM routers and boards (ipq40xx, mvebu, bcm27xx: Cortex-A7/A9 with
# hard float) with an OpenWrt SDK or toolchain:   make BOARD=arm   (build/arm/mailnook)
# BearSSL must be built for the same target first, e.g. in a BearSSL checkout:
#   make CONF=arm   with conf/arm.mk setting CC, AR and LD to the $(TRIPLET)- tools.
# Override any path on the command line: make BOARD=arm TOOLCHAIN=... BEARSSL=...
TOOLCHAIN ?= $(HOME)/openwrt-sdk/staging_dir/toolchain-arm_cortex-a7+neon-vfpv4_gcc-12.3.0_musl_eabi
TRIPLET = arm-openwrt-linux-muslgnueabi
CC = $(TOOLCHAIN)/bin/$(TRIPLET)-gcc
BEARSSL ?= $(HOME)/src/BearSSL
BEARSSL_INC = $(BEARSSL)/inc
BEARSSL_LIB = $(BEARSSL)/build-arm/libbearssl.a
VARIANT = arm
CFLAGS = -Os -mcpu=cortex-a7 -mfpu=neon-vfpv4 -mfloat-abi=hard
# OpenWrt's musl has crypt() with bcrypt; a static binary runs on any firmware version.
CPPFLAGS += -DWITH_LIBC_CRYPT=1
LDFLAGS += -static -s

# Stand-in for an OpenWrt SDK's rules.mk (no SDK here): only what board/openwrt/*/Makefile
# use, with the SDK's values for mipsel_24kc (ramips). tests/cross/package.sh gives
# TARGET_CROSS, STANDIN_MUSL (a musl sysroot), STAGING_DIR, BUILD_DIR, DL_DIR and
# PKG_INSTALL_ROOT on the command line.
INCLUDE_DIR:=$(TOPDIR)/include
ARCH:=mipsel
# Debian's cross gcc with musl's specs plays OpenWrt's musl toolchain.
TARGET_CC:=$(TARGET_CROSS)gcc -specs $(STANDIN_MUSL)/lib/musl-gcc.specs
TARGET_AR:=$(TARGET_CROSS)ar
# OpenWrt's flags for mipsel_24kc packages but -fhonour-copts, which only OpenWrt's gcc
# knows (Debian's rejects it). OpenWrt's gcc does not make position-independent
# executables by default: its hardening adds -fPIC and a PIE link only to packages that
# ask (PKG_ASLR_PIE_REGULAR, which this one does not) or to all with CONFIG_PKG_ASLR_PIE_ALL;
# Debian's gcc does by default, hence -fno-pie here and -no-pie at link. Then the
# hardening OpenWrt adds by default: format-string checks, stack protector,
# FORTIFY_SOURCE=1, full RELRO.
TARGET_CFLAGS:=-Os -pipe -mno-branch-likely -mips32r2 -mtune=24kc -fno-caller-saves -fno-plt \
	-msoft-float -mips16 -minterlink-mips16 -Wformat -Werror=format-security -fstack-protector \
	-fno-pie
TARGET_CPPFLAGS:=-I$(STAGING_DIR)/usr/include -I$(STAGING_DIR)/include -D_FORTIFY_SOURCE=1
TARGET_LDFLAGS:=-L$(STAGING_DIR)/usr/lib -L$(STAGING_DIR)/lib -znow -zrelro -no-pie
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR

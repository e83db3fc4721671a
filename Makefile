# mailnook: static musl + BearSSL by default; `make CC=gcc` for a dynamic glibc debug build.
# `make BOARD=x` includes board/x.mk: a cross profile named after its OpenWrt target
# (README.md, Routers); `make cross-check` builds and tests every profile under qemu.

-include $(if $(BOARD),board/$(BOARD).mk)

# The C library is said, not guessed: LIBC=musl (static, with musl-gcc unless CC is given)
# or LIBC=glibc (the default once CC is set: `make CC=gcc`, `make asan`).
ifeq ($(origin CC),default)
LIBC ?= musl
CC = $(if $(filter musl,$(LIBC)),musl-gcc,gcc)
else
LIBC ?= glibc
endif
# STATIC=0 links the C library dynamically (OpenWrt packages use the image's musl);
# BearSSL is linked from its static archive either way.
STATIC ?= $(if $(filter musl,$(LIBC)),1,0)
# bcrypt needs a crypt() from the C library: glibc's libcrypt, or a musl that has one
# (OpenWrt's); Debian's musl has none.
WITH_LIBC_CRYPT ?= $(if $(filter glibc,$(LIBC)),1,0)
OBJDUMP ?= objdump
STRIP ?= strip

PREFIX ?= /usr
DESTDIR ?=
TRIPLET ?= $(shell gcc -print-multiarch 2>/dev/null)
BEARSSL_INC ?= /usr/include/bearssl
BEARSSL_LIB ?= /usr/lib/$(TRIPLET)/libbearssl.a

WARN = -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-align -Wstrict-prototypes \
       -Wmissing-prototypes -Wvla -Wformat=2 -Wno-format-nonliteral
CPPFLAGS += -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -I$(BEARSSL_INC) -DWITH_LIBC_CRYPT=$(WITH_LIBC_CRYPT)
CFLAGS ?= -Os
CFLAGS += -std=c11 $(WARN) -ffunction-sections -fdata-sections -fno-plt

# `make TLS=0` leaves the TLS code out (WITH_TLS in src/params.h): build/notls/mailnook.
ifeq ($(TLS),0)
CPPFLAGS += -DWITH_TLS=0
VARIANT ?= notls
endif

# musl builds are the ones that ship: no unwind tables (nothing unwinds C; board/no-unwind.ld
# also drops those a prebuilt BearSSL brings), no build id, no RELRO page and 4 KB segment
# alignment (routers have 4 KB pages; the default 64 KB on aarch64 and MIPS pads the file).
# A small common page size stops ld from padding the file by up to a page to save a page
# of memory at run time.
ifeq ($(LIBC),musl)
VARIANT ?= release
# Stripped after the instruction check, which needs ARM's code/data mapping symbols.
STRIP_AFTER = $(STRIP)
CFLAGS += -fno-asynchronous-unwind-tables -fno-unwind-tables
# Link-time optimisation of mailnook's own code (3 KB on x86-64). The objects keep their
# normal code too, which the unit tests and replayers link without it (it would redo the
# whole program for each of them).
CFLAGS += -flto=auto -ffat-lto-objects
NO_LTO = -fno-lto
LDFLAGS += -Wl,--gc-sections -Wl,--build-id=none -Wl,-z,norelro \
	-Wl,-z,noseparate-code -Wl,-z,max-page-size=4096 -Wl,-z,common-page-size=64 \
	-Wl,-T,board/no-unwind.ld
# Dynamically linked, the binary exports nothing: its dynamic symbol table holds only what
# it imports (on MIPS it listed every global function, ours and BearSSL's: 16 KB).
ifneq ($(STATIC),1)
LDFLAGS += -Wl,--version-script=board/no-exports.ver
endif
else
VARIANT ?= $(notdir $(CC))
LDFLAGS += -Wl,--gc-sections
endif
ifeq ($(STATIC),1)
# A static binary is not position-independent: Debian's gcc compiles for PIE by default,
# which only makes the code bigger here.
CFLAGS += -fno-pie
LDFLAGS += -static -no-pie
else
LDFLAGS += -Wl,--as-needed
endif
LDLIBS += $(BEARSSL_LIB) $(if $(filter 1,$(WITH_LIBC_CRYPT)),-lcrypt)

# Size budget of the linked binary in bytes (profiles set their own); 0 means none.
# The default static build links Debian's musl and BearSSL, built for speed (-O2; BearSSL
# -fPIC with stack protector): 24 KB more than the x86_64 profile's own, hence more room.
# A session reading message records from the mapped state file instead of keeping them
# costs 3 KB of code and saves 1 MB of memory per session on a 20,000-message folder.
SIZE_BUDGET ?= $(if $(filter release,$(VARIANT)),335872,0)
# Instructions the target's CPU lacks (an extended regex over objdump -d): the build fails
# when the linked binary contains one, e.g. FPU instructions on soft-float MIPS.
BANNED_INSNS ?=

B = build/$(VARIANT)
SRCS = $(wildcard src/*.c)
OBJS = $(SRCS:src/%.c=$(B)/%.o)
LIBOBJS = $(filter-out $(B)/main.o,$(OBJS))
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)

.PHONY: all asan unit check soak run install clean bench fuzz layering size-report sysroot \
	cross-check dist

all: mailnook

mailnook: $(B)/mailnook
	cp $< $@

$(B)/mailnook: $(OBJS) board/no-unwind.ld board/no-exports.ver
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@.tmp $(OBJS) $(LDLIBS)
	tests/cross/binary-check.sh $@.tmp "$(SIZE_BUDGET)" "$(OBJDUMP)" "$(BANNED_INSNS)" "$(STRIP_AFTER)"
	mv $@.tmp $@

# Flags live in these files: a change to them rebuilds.
$(OBJS): Makefile $(if $(BOARD),board/$(BOARD).mk board/cross.mk)

$(B)/%.o: src/%.c src/*.h | $(B)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B) $(B)/unit $(B)/replay:
	mkdir -p $@

# Unit tests: each tests/unit/test_*.c links against every module but main. The fuzz
# entries are built beside them as replayers of saved inputs (their own main, see
# tests/fuzz/replay.h); tests/e2e/fuzz_replay.sh feeds them the committed corpora.
REPLAY_BINS = $(patsubst tests/fuzz/%.c,$(B)/replay/%,$(wildcard tests/fuzz/fuzz_*.c))

unit: $(UNIT_BINS) $(REPLAY_BINS)

$(B)/replay/%: tests/fuzz/%.c tests/fuzz/*.h $(LIBOBJS) | $(B)/replay
	$(CC) $(CPPFLAGS) $(CFLAGS) $(NO_LTO) -Isrc $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

$(B)/unit/%: tests/unit/%.c tests/unit/t.h tests/unit/t_store.h $(LIBOBJS) | $(B)/unit
	$(CC) $(CPPFLAGS) $(CFLAGS) $(NO_LTO) -Isrc $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

# Address and undefined-behaviour sanitizers, with gcc and glibc.
asan:
	$(MAKE) CC=gcc VARIANT=asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" build/asan/mailnook unit

# Fuzz targets tests/fuzz/fuzz_*.c, each linked with every module but main: libFuzzer
# binaries in build/fuzz with clang. `make fuzz FUZZ_CC=gcc FUZZ_FLAGS="-g -fsanitize=address"`
# builds the same files as replayers of saved inputs (their own main).
FUZZ_CC ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined -DMAILNOOK_LIBFUZZER
FUZZ_BINS = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIBSRCS = $(filter-out src/main.c,$(SRCS))

fuzz: $(FUZZ_BINS)

build/fuzz/%: tests/fuzz/%.c tests/fuzz/*.h $(FUZZ_LIBSRCS) src/*.h
	mkdir -p build/fuzz
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(FUZZ_FLAGS) -Isrc -o $@ $< $(FUZZ_LIBSRCS) \
	    $(BEARSSL_LIB) -lcrypt

check:
	tests/check.sh

# The crash harness at every kill point instead of a sample (make check's), release build.
soak: mailnook unit
	CRASH_FULL=1 tests/run.sh build/release/mailnook build/release/unit soak crash_

# Include cycles and store internals used outside the store (doc/architecture.md).
layering:
	python3 tests/layering.py

# musl and BearSSL built from source for a cross profile: make BOARD=<target> sysroot
sysroot:
	tests/cross/deps.sh $(CROSS)
	CODE_CFLAGS="$(CODE_CFLAGS)" STATIC=$(STATIC) tests/cross/sysroot.sh "$(SYSROOT)" "$(CROSS)" "$(ARCH_CFLAGS)" $(SYSROOT_EXTRA)

# Release tarball for the OpenWrt package (PKG_SOURCE): the sources, build and docs, not the
# packaging itself (whose PKG_HASH names this tarball), from the last commit that changed
# them, so that committing the packaging's new PKG_HASH leaves the tarball as it was.
# Prints the PKG_HASH line.
VERSION = $(shell sed -n 's/^\#define MAILNOOK_VERSION "\(.*\)"/\1/p' src/params.h)
dist:
	mkdir -p build
	git archive --format=tar --prefix=mailnook-$(VERSION)/ \
	    "$$(git log -1 --format=%H -- . ':!board/openwrt')" -- . ':!board/openwrt' | \
	    gzip -n -9 >build/mailnook-$(VERSION).tar.gz
	@echo "build/mailnook-$(VERSION).tar.gz"
	@echo "PKG_HASH:=$$(sha256sum build/mailnook-$(VERSION).tar.gz | cut -d' ' -f1)"

# Every cross profile built from source and tested under qemu with its CPU.
PROFILES = mips_24kc mipsel_24kc arm_cortex-a7_neon-vfpv4 arm_cortex-a9 arm_arm1176jzf-s_vfp \
	aarch64_cortex-a53 x86_64
cross-check:
	tests/cross/check.sh $(PROFILES)

print-%:
	@echo '$($*)'

# Where the code's size goes: text+data of each object, biggest last.
size-report: $(OBJS)
	$(CROSS)size $(OBJS) | sort -n -k4 | tail -n 15

run:
	tests/demo.sh

# tests/bench.sh measures build/release/mailnook: build it first (static musl, as `make`),
# whatever CC this make has.
bench:
	$(MAKE) LIBC=musl VARIANT=release build/release/mailnook
	tests/bench.sh

install: mailnook
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 mailnook $(DESTDIR)$(PREFIX)/sbin/mailnook

clean:
	rm -rf build mailnook

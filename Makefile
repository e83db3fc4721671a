# mailnook: static musl + BearSSL by default; `make CC=gcc` for a dynamic debug build.
# `make BOARD=x` includes board/x.mk (cross settings for a target).

-include $(if $(BOARD),board/$(BOARD).mk)

ifeq ($(origin CC),default)
CC = musl-gcc
endif

PREFIX ?= /usr
DESTDIR ?=
TRIPLET ?= $(shell gcc -print-multiarch 2>/dev/null)
BEARSSL_INC ?= /usr/include/bearssl
BEARSSL_LIB ?= /usr/lib/$(TRIPLET)/libbearssl.a

WARN = -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-align -Wstrict-prototypes \
       -Wmissing-prototypes -Wvla -Wformat=2 -Wno-format-nonliteral
CPPFLAGS += -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -I$(BEARSSL_INC)
CFLAGS ?= -Os
CFLAGS += -std=c11 $(WARN) -ffunction-sections -fdata-sections -fno-plt

# `make TLS=0` leaves the TLS code out (WITH_TLS in src/params.h): build/notls/mailnook.
ifeq ($(TLS),0)
CPPFLAGS += -DWITH_TLS=0
VARIANT ?= notls
endif

ifeq ($(notdir $(CC)),musl-gcc)
VARIANT ?= release
LDFLAGS += -static -Wl,--gc-sections -s
LDLIBS += $(BEARSSL_LIB)
else
VARIANT ?= $(notdir $(CC))
LDFLAGS += -Wl,--gc-sections
LDLIBS += $(BEARSSL_LIB) -lcrypt
endif

B = build/$(VARIANT)
SRCS = $(wildcard src/*.c)
OBJS = $(SRCS:src/%.c=$(B)/%.o)
LIBOBJS = $(filter-out $(B)/main.o,$(OBJS))
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)

.PHONY: all asan unit check run install clean bench fuzz layering

all: mailnook

mailnook: $(B)/mailnook
	cp $< $@

$(B)/mailnook: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%.o: src/%.c src/*.h | $(B)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B) $(B)/unit:
	mkdir -p $@

# Unit tests: each tests/unit/test_*.c links against every module but main.
unit: $(UNIT_BINS)

$(B)/unit/%: tests/unit/%.c tests/unit/t.h $(LIBOBJS) | $(B)/unit
	$(CC) $(CPPFLAGS) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

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

build/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.h $(FUZZ_LIBSRCS) src/*.h
	mkdir -p build/fuzz
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(FUZZ_FLAGS) -Isrc -o $@ $< $(FUZZ_LIBSRCS) \
	    $(BEARSSL_LIB) -lcrypt

check:
	tests/check.sh

# Include cycles and store internals used outside the store (doc/architecture.md).
layering:
	python3 tests/layering.py

run:
	tests/demo.sh

# tests/bench.sh measures build/release/mailnook: build it first, whatever CC this make has.
bench:
	$(MAKE) CC=musl-gcc VARIANT=release build/release/mailnook
	tests/bench.sh

install: mailnook
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 mailnook $(DESTDIR)$(PREFIX)/sbin/mailnook

clean:
	rm -rf build mailnook

# libdemi: kernel-bypass TCP/IP for unmodified programs.
#
#   make            library, tools and tests
#   make test       install missing packages, build, run every test (root for device tests)
#   make bench      benchmarks against the kernel
#   make demo       nginx under libdemi on a tap device, side by side with the kernel
#
# Sources are found by wildcard: a new .c under stack/, shim/, tools/ or
# tests/ builds without touching this file.

CC      ?= gcc
B       := build
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
# Include paths: the shim sees the stack only through its public headers
# (stack/include/demi/), so the compiler enforces the boundary; the stack
# does not see the shim; tests and tools see everything.
INC      = -Istack/include -Istack -Ishim
SHIM_INC := -Istack/include -Ishim
STACK_INC := -Istack/include -Istack
CFLAGS_COMMON = $(CSTD) $(WARN) -g -fPIC -fvisibility=hidden -fno-strict-aliasing $(INC)
CFLAGS  += $(OPT) $(CFLAGS_COMMON) -MMD -MP
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CFLAGS = -O1 $(CFLAGS_COMMON) $(SAN) -DDEMI_ASAN=1 -MMD -MP

# DPDK: its pkg-config cflags force -march=corei7 and -include rte_config.h, so
# only the files that talk to DPDK get them. The PMDs are linked statically into
# whatever needs them (EAL would otherwise dlopen 256 plugin objects at start).
DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null)
DPDK_PMDS   := bus_vdev mempool_ring net_memif net_af_xdp net_af_packet net_tap net_ring net_null
DPDK_CORE   := ethdev meter net mbuf mempool rcu ring hash gso eal telemetry kvargs pci
DPDK_LIBS   := -Wl,--whole-archive $(foreach l,$(DPDK_PMDS),-l:librte_$(l).a) -Wl,--no-whole-archive \
	-Wl,--start-group $(foreach l,$(DPDK_CORE),-l:librte_$(l).a) -Wl,--end-group \
	-lxdp -lbpf -lelf -lz -lnuma -lbsd -lm -ldl -pthread

STACK_SRC   := $(filter-out stack/netif/dpdk.c,$(wildcard stack/*.c stack/wire/*.c stack/tcp/*.c stack/netif/*.c stack/rt/*.c))
STACK_ASM   := $(wildcard stack/*.S)
STACK_OBJ   := $(STACK_SRC:%.c=$(B)/obj/%.o) $(STACK_ASM:%.S=$(B)/obj/%.o)
STACK_AOBJ  := $(STACK_SRC:%.c=$(B)/asan/obj/%.o) $(STACK_ASM:%.S=$(B)/asan/obj/%.o)
DPDK_SRC    := $(wildcard stack/netif/dpdk.c stack/netif/xdp/share.c)
# The xdp: kind's XDP program (stack/netif/xdp/*.bpf.c): built with clang's
# BPF target and linked into the DPDK side as bytes (steer_obj.o).
BPF_CC      ?= clang
BPF_CFLAGS  := -target bpf -O2 -g -Wall -Werror -I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)
XDP_OBJ     := $(B)/obj/stack/netif/xdp/steer_obj.o
DPDK_OBJ    := $(DPDK_SRC:%.c=$(B)/obj/%.o) $(XDP_OBJ)
DPDK_AOBJ   := $(DPDK_SRC:%.c=$(B)/asan/obj/%.o) $(XDP_OBJ)
SHIM_SRC    := $(wildcard shim/*.c)
SHIM_OBJ    := $(SHIM_SRC:%.c=$(B)/obj/%.o)
TLIB_SRC    := $(wildcard tests/lib/*.c)
TLIB_OBJ    := $(TLIB_SRC:%.c=$(B)/obj/%.o)
TLIB_AOBJ   := $(TLIB_SRC:%.c=$(B)/asan/obj/%.o)

# cmocka test programs: one per file in tests/unit and tests/proto
TEST_SRC    := $(wildcard tests/unit/*.c tests/proto/*.c)
TESTS       := $(patsubst %.c,$(B)/%,$(TEST_SRC))
ATESTS      := $(patsubst %.c,$(B)/asan/%,$(TEST_SRC))
# small C programs run under the shim and on the kernel
SHIMT_SRC   := $(wildcard tests/shim/*.c)
SHIMTESTS   := $(patsubst %.c,$(B)/%,$(SHIMT_SRC))
# tools: tools/*.c need only the stack; tools/net/*.c also DPDK
TOOLS       := $(patsubst tools/%.c,$(B)/%,$(wildcard tools/*.c))
NET_TOOLS   := $(patsubst tools/net/%.c,$(B)/%,$(wildcard tools/net/*.c))
BENCH_TOOLS := $(patsubst tools/bench/%.c,$(B)/bench/%,$(wildcard tools/bench/*.c))
LIB         := $(if $(SHIM_SRC),$(B)/libdemi.so $(B)/libdemi-stack.so $(B)/asan/libdemi-nort.so \
	$(B)/asan/libdemi.so $(B)/asan/libdemi-stack.so)
SHIM_AOBJ   := $(SHIM_SRC:%.c=$(B)/asan/obj/%.o)

.PHONY: all test soak unit bench demo install uninstall clean deps
all: $(B)/libdemistack.a $(LIB) $(TOOLS) $(NET_TOOLS) $(BENCH_TOOLS) $(TESTS) $(ATESTS) $(SHIMTESTS)

$(B)/obj/shim/%.o $(B)/asan/obj/shim/%.o: INC := $(SHIM_INC)
$(B)/obj/stack/%.o $(B)/asan/obj/stack/%.o: INC := $(STACK_INC)
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(filter stack/netif/dpdk.c tools/net/%,$<),$(DPDK_CFLAGS)) -c $< -o $@
$(B)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(B)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) $(if $(filter stack/netif/dpdk.c,$<),$(DPDK_CFLAGS)) -c $< -o $@
$(B)/asan/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c $< -o $@

$(B)/xdp/%.bpf.o: stack/netif/xdp/%.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CC) $(BPF_CFLAGS) -c $< -o $@
$(XDP_OBJ): $(B)/xdp/steer.bpf.o
	@mkdir -p $(dir $@)
	printf '%s\n' '.section .rodata' '.balign 8' '.globl demi_xdp_steer_obj, demi_xdp_steer_obj_end' \
		'.hidden demi_xdp_steer_obj, demi_xdp_steer_obj_end' 'demi_xdp_steer_obj:' '.incbin "$<"' \
		'demi_xdp_steer_obj_end:' '.section .note.GNU-stack,"",@progbits' | $(CC) -x assembler -c - -o $@

$(B)/libdemistack.a: $(STACK_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/asan/libdemistack.a: $(STACK_AOBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The preload is two libraries, so that a program that opens no bypassed
# socket maps no DPDK (README, "How it works"):
#  libdemi.so: the shim (interposer, config, fd table), the device grammar
#    its config checks (stack/netif/dev*.c, no DPDK) and the runtime that
#    never starts (shim/none/rt_none.c); libc's names only leave it: its
#    version script lists the names of shim/calls.def, nothing else.
#  libdemi-stack.so, installed beside it: the stack, the runtime and DPDK,
#    dlopen'ed by shim/stackload.c when a bypassed socket first needs the
#    stack; it exports one name, the table of the calls the shim makes
#    into it (shim/stacklib/export.c, from shim/stackapi.def).
$(B)/libdemi.map: shim/calls.def
	@mkdir -p $(dir $@)
	{ echo '{ global:'; $(CC) -E -P -x c '-DCALL(r,n,p)=n;' $<; echo 'local: *; };'; } >$@.tmp && mv $@.tmp $@
$(B)/libdemi-stack.map:
	@mkdir -p $(dir $@)
	echo '{ global: demi_stack_api; local: *; };' >$@
LEAN_OBJ    := $(B)/obj/shim/none/rt_none.o $(filter $(B)/obj/stack/netif/dev%.o $(B)/obj/stack/shm_reclaim.o,$(STACK_OBJ))
LEAN_AOBJ   := $(B)/asan/obj/shim/none/rt_none.o $(filter $(B)/asan/obj/stack/netif/dev%.o $(B)/asan/obj/stack/shm_reclaim.o,$(STACK_AOBJ))
LEAN_LIBS   := -linih -ldl -pthread
STACK_LIBS  := -Wl,--version-script=$(B)/libdemi-stack.map -Wl,--exclude-libs,ALL -Wl,-z,nodelete $(DPDK_LIBS)
# -z defs: a call into the stack that bypasses the table (shim/stackapi.h)
# would be an undefined name here.
$(B)/libdemi.so: $(SHIM_OBJ) $(LEAN_OBJ) $(B)/libdemi.map
	$(CC) -shared -o $@ $(SHIM_OBJ) $(LEAN_OBJ) \
		-Wl,--version-script=$(B)/libdemi.map -Wl,-z,defs -Wl,-z,nodelete $(LEAN_LIBS)
$(B)/libdemi-stack.so: $(B)/obj/shim/stacklib/export.o $(DPDK_OBJ) $(B)/libdemistack.a $(B)/libdemi-stack.map
	$(CC) -shared -o $@ $(B)/obj/shim/stacklib/export.o $(DPDK_OBJ) $(B)/libdemistack.a -Wl,-z,defs $(STACK_LIBS)
# The same two with ASan+UBSan (DPDK itself is not instrumented), preloaded
# after libasan.so: runs with sockets really bypassed (tests/shim/fdlife_tap.sh).
$(B)/asan/libdemi.so: $(SHIM_AOBJ) $(LEAN_AOBJ) $(B)/libdemi.map
	$(CC) -shared $(SAN) -o $@ $(SHIM_AOBJ) $(LEAN_AOBJ) \
		-Wl,--version-script=$(B)/libdemi.map -Wl,-z,nodelete $(LEAN_LIBS)
$(B)/asan/libdemi-stack.so: $(B)/asan/obj/shim/stacklib/export.o $(DPDK_AOBJ) $(B)/asan/libdemistack.a $(B)/libdemi-stack.map
	$(CC) -shared $(SAN) -o $@ $(B)/asan/obj/shim/stacklib/export.o $(DPDK_AOBJ) $(B)/asan/libdemistack.a $(STACK_LIBS)
# The ASan shim without a stack library (shim/none/nostack.c): the runtime
# never starts, every bypassed socket falls back (tests/shim/asan.sh).
$(B)/asan/libdemi-nort.so: $(SHIM_AOBJ) $(LEAN_AOBJ) $(B)/asan/obj/shim/none/nostack.o $(B)/libdemi.map
	$(CC) -shared $(SAN) -o $@ $(SHIM_AOBJ) $(LEAN_AOBJ) $(B)/asan/obj/shim/none/nostack.o \
		-Wl,--version-script=$(B)/libdemi.map -Wl,-z,nodelete $(LEAN_LIBS)

$(B)/tests/%: tests/%.c $(TLIB_OBJ) $(B)/libdemistack.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TLIB_OBJ) $(B)/libdemistack.a -lcmocka -lm -pthread
$(B)/asan/tests/%: tests/%.c $(TLIB_AOBJ) $(B)/asan/libdemistack.a
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -o $@ $< $(TLIB_AOBJ) $(B)/asan/libdemistack.a -lcmocka -lm -pthread
# shim test programs are plain libc programs: they must not know about the shim
$(B)/tests/shim/%: tests/shim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(CSTD) $(WARN) -g -o $@ $< -pthread

$(B)/demistat: tools/demistat.c $(B)/libdemistack.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libdemistack.a -lbpf -lm -pthread
$(B)/%: tools/%.c $(B)/libdemistack.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libdemistack.a -lm -pthread
$(B)/bench/%: tools/bench/%.c $(B)/libdemistack.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libdemistack.a -lm -pthread
$(B)/%: tools/net/%.c $(B)/libdemistack.a $(DPDK_OBJ)
	$(CC) $(CFLAGS) $(DPDK_CFLAGS) -o $@ $< $(DPDK_OBJ) $(B)/libdemistack.a $(DPDK_LIBS)

# Coverage-guided fuzzers (libFuzzer, tests/fuzz/fuzz_*.c -> build/fuzz/*):
# built with clang when it is installed, replayed by tests/fuzz/run.sh. The
# stack is compiled once more for them, instrumented, with ASan and UBSan.
FUZZ_CC     ?= clang
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS     := $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),$(patsubst tests/fuzz/fuzz_%.c,$(B)/fuzz/%,$(FUZZ_SRC)))
FUZZ_OBJ    := $(STACK_SRC:%.c=$(B)/fuzz/obj/%.o) $(STACK_ASM:%.S=$(B)/fuzz/obj/%.o)
FUZZ_CFLAGS := -O1 -g $(CSTD) -Wall -Wextra -fno-strict-aliasing $(INC) -DDEMI_ASAN=1 \
	-fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -MMD -MP
.PHONY: fuzz
# make fuzz SECONDS=N: a campaign of N seconds on every fuzzer, growing the
# committed corpus (tools/fuzz-campaign.sh)
fuzz: $(FUZZERS)
	@$(if $(SECONDS),tools/fuzz-campaign.sh $(SECONDS),true)
.SECONDARY: $(FUZZ_OBJ)
all: fuzz
$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) -lm -pthread
# the config parser: the shim's config.c with libinih, over the stack's device grammar
$(B)/fuzz/config: tests/fuzz/fuzz_config.c $(B)/fuzz/obj/shim/config.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(B)/fuzz/obj/shim/config.o $(FUZZ_OBJ) -linih -lm -pthread

deps:
	@tools/deps.sh

# Everything the tests need is installed first, so a fresh machine passes.
test: deps
	@$(MAKE) --no-print-directory all
	@tests/run-all.sh

unit: all
	@tests/run-all.sh --unit

# the long runs, not part of test: hours (tests/soak.sh)
soak: deps
	@$(MAKE) --no-print-directory all
	@tests/soak.sh

bench: deps
	@$(MAKE) --no-print-directory all
	/usr/bin/python3 tools/bench/bench.py $(BENCH_ARGS)

demo: deps
	@$(MAKE) --no-print-directory all
	@tools/demo.sh $(DEMO_ARGS)

# make install PREFIX=/usr/local DESTDIR=/tmp/stage: the libraries (the
# preload and its stack library, side by side), the tools
# that exist, man pages, and the sample configurations. No /etc/demi/demi.conf
# is written: its presence would send every program's sockets to the stack.
PREFIX  ?= /usr/local
SYSCONFDIR ?= /etc
INSTALL_BINS := $(wildcard $(B)/demi-run $(B)/demistat)
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/doc/libdemi/examples \
		$(DESTDIR)$(SYSCONFDIR)/demi
	$(if $(LIB),install -m 0755 $(B)/libdemi.so $(B)/libdemi-stack.so $(DESTDIR)$(PREFIX)/lib/)
	$(if $(INSTALL_BINS),install -m 0755 $(INSTALL_BINS) $(DESTDIR)$(PREFIX)/bin/)
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 conf/*.conf $(DESTDIR)$(PREFIX)/share/doc/libdemi/examples/
	install -m 0644 conf/tap.conf $(DESTDIR)$(SYSCONFDIR)/demi/demi.conf.example

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libdemi.so $(DESTDIR)$(PREFIX)/lib/libdemi-stack.so $(DESTDIR)$(PREFIX)/bin/demi-run $(DESTDIR)$(PREFIX)/bin/demistat
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man5/,$(notdir $(wildcard man/*.5)))
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/libdemi
	rm -f $(DESTDIR)$(SYSCONFDIR)/demi/demi.conf.example
	-rmdir $(DESTDIR)$(SYSCONFDIR)/demi 2>/dev/null

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

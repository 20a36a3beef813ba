# groundcap — one target per stage, plus demo, test, bench.
# The stage engine, not Make, decides what is fresh: every stage target just asks the CLI.

GO        ?= go
CONFIG    ?= configs/demo.yaml
# The artifact root of configs/demo.yaml (where `make demo` finds the report).
DEMO_ROOT ?= artifacts/demo
BIN       ?= bin/groundcap
# TAGS=openblas builds the OpenBLAS backend (cgo; Debian: apt-get install libopenblas-dev).
TAGS      ?=
# Extra flags for stage commands, e.g. BEAMFLAGS='--runner=universal --endpoint=localhost:8099'.
BEAMFLAGS ?=
# Go benchmark selection and duration for `make bench`.
BENCH     ?= .
BENCHTIME ?= 1x

STAGES := synth captions features scan scan-plain align align-plain scan-eval \
          caption-xe caption-xe-scan caption-xe-posscan caption-xe-gt caption-scst caption-scst-scan caption-scst-posscan \
          caption-scst-cider caption-scst-cider-scan caption-scst-cider-posscan caption-scst-gt caption-scst-cider-gt \
          evaluate-xe evaluate-xe-scan evaluate-xe-posscan evaluate-xe-gt evaluate-scst evaluate-scst-scan evaluate-scst-posscan \
          evaluate-scst-cider evaluate-scst-cider-scan evaluate-scst-cider-posscan evaluate-scst-gt evaluate-scst-cider-gt report

.PHONY: all build demo test bench fuzz chaos status gpu-bin clean $(STAGES)

all: build

# cgo link flags for the OpenBLAS backend.
CGO_LDFLAGS_OPENBLAS := $(if $(findstring openblas,$(TAGS)),-lopenblas)

# $(BIN) is the launcher (cmd/groundcap-launcher): it runs score and score-grounding itself and
# hands every other command to the complete command, $(BIN)-core (cmd/groundcap), so that the
# scorers do not pay for the complete command's package initialisation.
build:
	CGO_LDFLAGS='$(CGO_LDFLAGS_OPENBLAS)' $(GO) build -tags '$(TAGS)' -o $(BIN)-core ./cmd/groundcap
	$(GO) build -o $(BIN) ./cmd/groundcap-launcher

demo: build
	$(BIN) run --config $(CONFIG) $(BEAMFLAGS)
	@echo
	$(BIN) status --config $(CONFIG)
	@r=$(DEMO_ROOT)/report/$$(cat $(DEMO_ROOT)/report/LATEST 2>/dev/null); \
	if [ -f $$r/report.md ]; then echo; cat $$r/report.md; echo; echo "Results: $$r (report.md);"; \
	echo "per-variant metrics, attention pictures and curves under $(DEMO_ROOT)/evaluate-*/ and $(DEMO_ROOT)/caption-*/"; fi; \
	if [ -f $$r/report.html ]; then echo "HTML report (tables, curves, per-class grounding, attention gallery): $$r/report.html"; fi

$(STAGES): build
	$(BIN) $@ --config $(CONFIG) $(BEAMFLAGS)

status: build
	$(BIN) status --config $(CONFIG)

test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

# The fuzz targets of the decoders, package:Target. 'make test' runs their seed corpora (the f.Add
# seeds and testdata/fuzz/<Target>); 'make fuzz' fuzzes each for FUZZTIME, one after another.
FUZZ_TARGETS := ./features:FuzzParseNPY ./features:FuzzNPZArray ./features:FuzzParseTSV ./features:FuzzShardMeta \
                ./training/checkpoint:FuzzUnmarshal ./pipelines/captions:FuzzParseSentence \
                ./pipelines/captions:FuzzParseAnnotation ./pipelines/captions:FuzzReadCaptions ./internal/pqcheck:FuzzFooter
FUZZTIME ?= 30s

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn ($(FUZZTIME))"; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) && rc=0 || rc=$$?; \
		echo "$$out" | grep '^fuzz: elapsed' | tail -1; echo "$$out" | grep -v '^fuzz: '; \
		[ $$rc -eq 0 ] || exit $$rc; \
	done

# The chaos tests at soak length: CHAOS_TRIALS trials of the failing-store test (engine) and of
# the kill -9 test over the training chain (cmd/groundcap); 'make test' runs a few of each.
CHAOS_TRIALS ?= 500

chaos:
	@for t in "$(CHAOS_TRIALS) ^TestChaos ./pipelines/engine" "$$(( $(CHAOS_TRIALS) / 50 + 1 )) ^TestKillNineTrainingChain$$ ./cmd/groundcap"; do \
		set -- $$t; echo "== $$3 $$2 ($$1 trials)"; \
		out=$$(GROUNDCAP_CHAOS_TRIALS=$$1 $(GO) test -count=1 -timeout 0 -v -run "$$2" $$3 2>&1) && rc=0 || rc=$$?; \
		echo "$$out" | grep -E '^(---|ok|FAIL)|(chaos|kill)_test.go'; [ $$rc -eq 0 ] || exit $$rc; \
	done

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem ./... | tee bench.out

# A linux/amd64 binary for the GPU machine (no cgo: CUDA libraries are loaded at run time),
# stripped and gzipped so it fits a 64 MiB transfer (docs/gpu.md).
gpu-bin:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -ldflags='-s -w' -o gpu-bin/groundcap ./cmd/groundcap
	gzip -9 -f gpu-bin/groundcap

clean:
	rm -rf bin gpu-bin bench.out

#!/usr/bin/env bash
# check.sh: the device-resident mode's check on a GPU machine, in one go (docs/gpu.md,
# "Device-resident mode"; figures into docs/bench/gpu.md). From the repository root:
#
#   bash scripts/gpu/check.sh            # on the GPU machine: about 3–5 minutes, at most 7.8 (the steps' limits)
#   bash scripts/gpu/check.sh --emulate  # the same steps at small sizes on the CPU emulation
#
# It needs the groundcap binary: $BIN if set, else gpu-bin/groundcap.gz (make gpu-bin; carried
# to the machine) unpacked to a temporary file. It writes one file per step and summary.txt into
# $OUT (default ./gpu-out), and prints everything as it goes:
#   1. kernels-nvrtc.txt     every kernel and product against the CPU, and three training steps
#                            against the gorgonia step, kernels compiled by NVRTC;
#   2. kernels-embedded.txt  the same with the PTX built by clang and embedded in the binary;
#   3. bench.txt             the device-resident figures: paper-shape POS-SCAN and SCAN steps
#                            (first-step loss against the CPU), a 200-step loss curve against the
#                            CPU, validation over 1,000 images × 5,000 captions, alignment of
#                            145,000 captions;
#   4. torch.txt             SCAN's t2i step in PyTorch, looping over captions as the original
#                            code does and vectorised (scripts/gpu/scan_torch.py).
# Each step has its own time limit; the exit status is 1 when a step failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

emulate=0
if [ "${1:-}" = "--emulate" ]; then
	emulate=1
elif [ $# -gt 0 ]; then
	echo "usage: bash scripts/gpu/check.sh [--emulate]" >&2
	exit 2
fi
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
failed=0

bin=${BIN:-}
if [ -z "$bin" ]; then
	if [ ! -f gpu-bin/groundcap.gz ]; then
		echo "check.sh: no \$BIN and no gpu-bin/groundcap.gz (run make gpu-bin)" >&2
		exit 2
	fi
	bin=$(mktemp /tmp/groundcap.XXXXXX)
	trap 'rm -f "$bin"' EXIT
	gunzip -c gpu-bin/groundcap.gz >"$bin" && chmod +x "$bin"
fi

# step NAME LIMIT_S COMMAND...: runs the command with a time limit, its output to the terminal
# and to $OUT/NAME.txt, and records the outcome in the summary.
step() {
	local name=$1 limit=$2
	shift 2
	echo "=== $name: $*"
	local t0=$SECONDS
	timeout --signal=INT --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
	local rc=${PIPESTATUS[0]}
	local status=ok
	if [ "$rc" -eq 124 ]; then
		status="TIMED OUT after ${limit}s"
		failed=1
	elif [ "$rc" -ne 0 ]; then
		status="FAILED (exit $rc)"
		failed=1
	fi
	echo "$name: $status in $((SECONDS - t0))s" | tee -a "$summary"
}

python=/opt/torch/.venv/bin/python
[ -x "$python" ] || python=$(command -v python3 || true)

if [ "$emulate" = 1 ]; then
	step kernels-emulated 300 "$bin" gpu-check --emulate
	step bench 300 "$bin" gpu-check --emulate --bench --bench-preset small
	torch_args=(--device cpu --batch 4 --regions 3 --feat 16 --embed 16 --word-dim 8 --vocab 50 --words 5 --reps 2)
else
	LIB=$("$python" -c 'import nvidia,glob,os; print(":".join(sorted({os.path.dirname(p) for b in nvidia.__path__ for p in glob.glob(b+"/**/lib*.so.1[23]*",recursive=True)})))' 2>/dev/null || true)
	export GROUNDCAP_CUDA_LIB_DIR="$LIB"
	export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	{
		echo "GPU: $(nvidia-smi -L 2>&1 | head -1)"
		echo "driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | head -1)"
		echo "CUDA library dirs: $LIB"
		echo "NVRTC: $(for d in ${LIB//:/ }; do ls "$d" 2>/dev/null | grep -E '^libnvrtc' ; done | tr '\n' ' ')"
	} | tee -a "$summary"
	step kernels-nvrtc 100 "$bin" gpu-check --resident --kernels nvrtc --lib-dir "$LIB"
	step kernels-embedded 45 "$bin" gpu-check --resident --kernels embedded --lib-dir "$LIB"
	step bench 240 "$bin" gpu-check --resident --bench --lib-dir "$LIB"
	torch_args=()
fi

if [ -n "$python" ] && "$python" -c 'import torch' 2>/dev/null; then
	step torch 75 "$python" scripts/gpu/scan_torch.py "${torch_args[@]}"
else
	echo "torch: skipped (no python with torch)" | tee -a "$summary"
fi

echo "=== summary ($OUT/summary.txt)"
cat "$summary"
exit "$failed"

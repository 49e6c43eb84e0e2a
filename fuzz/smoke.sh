#!/usr/bin/env bash
# A bounded run of every fuzz target, for CI and for a quick local check (see TESTING.md):
#
#   bash fuzz/smoke.sh [SECONDS_PER_TARGET]     (default 30)
#
# - A nightly toolchain: cargo-fuzz (installed if missing) with AddressSanitizer, two targets
#   at a time, each from the checked-in seeds.
# - No nightly but cargo-fuzz installed: the same on stable, without a sanitizer.
# - Neither: the targets' bodies on stable (tests/fuzz_replay.rs) over the seeds and
#   FUZZ_REPLAY_INPUTS (default 20000) pseudo-random inputs per target.
# FUZZ_MODE=replay forces the last. A crash fails the run; a missing toolchain or a fuzz build
# that cannot be made does not.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
targets=(envelope_decode auth_frame page_params json_codec push_frame connection protobuf_codec)

replay() {
  echo "fuzz: $1; replaying the target bodies on stable instead"
  cd .. && FUZZ_REPLAY_INPUTS=${FUZZ_REPLAY_INPUTS:-20000} \
    cargo test -q --workspace --all-features --test fuzz_replay
  exit
}

if [ "${FUZZ_MODE:-}" = replay ]; then
  replay "FUZZ_MODE=replay"
elif rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=+nightly sanitizer=address
  if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked --quiet || replay "cargo-fuzz could not be installed"
  fi
elif command -v cargo-fuzz >/dev/null; then
  toolchain=+stable sanitizer=none
else
  replay "no nightly toolchain and no cargo-fuzz"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

started=$SECONDS
if ! cargo "$toolchain" fuzz build --sanitizer "$sanitizer" >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log"
  replay "cargo $toolchain fuzz build failed"
fi
echo "fuzz: targets built with cargo $toolchain fuzz (sanitizer $sanitizer) in $((SECONDS - started)) s"

run() {
  local target=$1 log="$work/$1.log"
  mkdir -p "$work/$target"
  # New inputs go to the scratch directory; the seeds stay as committed.
  if cargo "$toolchain" fuzz run --sanitizer "$sanitizer" "$target" "$work/$target" "corpus/$target" \
    -- -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    local runs cov
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)
    echo "fuzz: $target: ${runs:-?} runs in ${seconds} s, ${cov:-no coverage line}, no crash"
  else
    echo "fuzz: $target FAILED; the end of its log:"
    tail -n 60 "$log"
    return 1
  fi
}

status=0
# Two targets at a time: one per core.
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" &
  first=$!
  # An odd number of targets leaves the last one alone.
  second=
  if ((i + 1 < ${#targets[@]})); then
    run "${targets[i + 1]}" &
    second=$!
  fi
  wait "$first" || status=1
  if [ -n "$second" ]; then
    wait "$second" || status=1
  fi
done
echo "fuzz: done in $((SECONDS - started)) s"
exit "$status"

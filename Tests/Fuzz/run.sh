#!/usr/bin/env bash
# Fuzzes svdbatch's parsers of outside data with libFuzzer (+ AddressSanitizer) and prints one table row per target.
#
#   Tests/Fuzz/run.sh [--seconds S] [--runs N] [--jobs J] [TARGET…]
#
# Targets (default: all): csv safetensors configs recipe checkpoint clip image. Each runs until it has executed
# N inputs (--runs, default 1000000) or for S seconds (--seconds, default 1800), whichever comes first, from seed
# corpora made from the project's fixtures (and clips rendered with the demo model). --jobs J runs J targets at
# once (default 1). Findings (crash-*, timeout-*, oom-*) land in .build-fuzz/findings/TARGET/; replay one with
#   (cd Tests/Fuzz && swift build -c release -Xswiftc -enable-testing) && Tests/Fuzz/.build/release/svdbatch-fuzz TARGET FILE
# Seeds that only svdbatch can make and that no fixture holds (a resume checkpoint) are in Tests/Fuzz/seeds/,
# written by that replay tool's `--seeds DIR`.
# Exit status: 0 when no target found anything, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FUZZ="$ROOT/Tests/Fuzz"
WORK="$ROOT/.build-fuzz"
SECONDS_PER_TARGET=1800
RUNS=1000000
JOBS=1
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_PER_TARGET="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(csv safetensors configs recipe checkpoint clip image)

cd "$FUZZ"
echo "building the fuzzer (libFuzzer + AddressSanitizer) and the replay tool…" >&2
mkdir -p "$WORK"
build_fuzzer() {
    swift build -c release --build-path "$WORK/fuzzer" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
        -Xswiftc -enable-testing > "$WORK/build.log" 2>&1
}
# A failed build must never leave an older fuzzer binary to be run. A build folder that still lists a source
# file since deleted ("missing inputs") is rebuilt from scratch once.
if ! build_fuzzer; then
    if grep -q "missing inputs" "$WORK/build.log"; then
        rm -rf "$WORK/fuzzer"
        build_fuzzer || { grep -E "error" "$WORK/build.log" >&2; echo "build failed (log: $WORK/build.log)" >&2; exit 1; }
    else
        grep -E "error" "$WORK/build.log" >&2; echo "build failed (log: $WORK/build.log)" >&2; exit 1
    fi
fi
grep -E "warning: unre|Build complete" "$WORK/build.log" >&2 || true
FUZZER="$WORK/fuzzer/release/svdbatch-fuzz"
[ -x "$FUZZER" ] || { echo "build failed: no $FUZZER" >&2; exit 1; }
# The seed clips need an svdbatch: whichever build exists (the test suite leaves a debug one), else a release build.
SVDBATCH="$ROOT/.build/release/svdbatch"
[ -x "$SVDBATCH" ] || SVDBATCH="$ROOT/.build/debug/svdbatch"
if [ ! -x "$SVDBATCH" ]; then
    (cd "$ROOT" && swift build -c release --product svdbatch 2>&1 | grep -E "error|Build complete" >&2 || true)
    SVDBATCH="$ROOT/.build/release/svdbatch"
fi

# Seed corpora.
SEEDS="$WORK/seeds"
rm -rf "$SEEDS"
mkdir -p "$SEEDS"/{csv,safetensors,configs,recipe,checkpoint,clip,image}
cp "$ROOT/Samples/jobs.csv" "$SEEDS/csv/samples.csv"
printf '\xef\xbb\xbfimage,seed,name,model,format\r\n"cat.png",42,"a, b",demo,mkv\r\ncat.png,-7,,,webm\r\n' > "$SEEDS/csv/quoted.csv"
printf 'image,seed,width,height,num_frames,num_inference_steps,fps,decode_chunk_size,motion_bucket_id,noise_aug_strength,min_guidance_scale,max_guidance_scale\ncat.png,18446744073709551615,1024,576,25,25,7,8,127,0.02,1.0,3.0\n' > "$SEEDS/csv/all-columns.csv"
cp "$ROOT/Samples/demo-model/image_encoder/model.safetensors" "$SEEDS/safetensors/"
printf '\x40\x00\x00\x00\x00\x00\x00\x00{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}        \x00\x3c\x00\x3c\x00\x3c\x00\x3c' > "$SEEDS/safetensors/tiny"
i=0
for f in model_index.json unet/config.json vae/config.json image_encoder/config.json scheduler/scheduler_config.json feature_extractor/preprocessor_config.json; do
    { printf "\\x$(printf %02x $i)"; cat "$ROOT/Samples/demo-model/$f"; } > "$SEEDS/configs/$i"
    i=$((i + 1))
done
printf '\x06{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}' > "$SEEDS/configs/6"
cp "$FUZZ/seeds/checkpoint/"* "$SEEDS/checkpoint/"
find "$ROOT/Tests/Fixtures/images" -type f \( -name '*.png' -o -name '*.jpg' -o -name '*.webp' \) -size -256k -exec cp {} "$SEEDS/image/" \;
CLIPS="$WORK/clips"
rm -rf "$CLIPS" && mkdir -p "$CLIPS"
printf 'image,seed,name,width,height,num_frames,num_inference_steps,format\n%s,1,a,64,64,2,1,mp4\n%s,1,b,64,64,2,1,mkv\n%s,1,c,64,64,2,1,webm\n' \
    "$ROOT/Samples/cat.png" "$ROOT/Samples/cat.png" "$ROOT/Samples/cat.png" > "$CLIPS/jobs.csv"
"$SVDBATCH" "$CLIPS/jobs.csv" --out "$CLIPS/out" --model demo --quiet
n=0
for clip in a.mp4 b.mkv c.webm; do
    { printf "\\x$(printf %02x $n)"; cat "$CLIPS/out/$clip"; } > "$SEEDS/clip/$clip"
    ffprobe -v error -show_entries format_tags=comment -of default=nw=1:nk=1 "$CLIPS/out/$clip" > "$SEEDS/recipe/$clip.json"
    n=$((n + 1))
done

max_len() {
    case "$1" in csv|configs|recipe) echo 8192 ;; safetensors|checkpoint) echo 131072 ;; *) echo 262144 ;; esac
}

run_target() {
    local t="$1" corpus="$WORK/corpus/$t" findings="$WORK/findings/$t" log="$WORK/logs/$t.log"
    mkdir -p "$corpus" "$findings" "$(dirname "$log")"
    cp -n "$SEEDS/$t"/* "$corpus/" 2>/dev/null || true
    local start=$SECONDS
    SVDBATCH_FUZZ_TARGET="$t" ASAN_OPTIONS=detect_leaks=0 "$FUZZER" "$corpus" -seed=1 -runs="$RUNS" \
        -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=4096 \
        -malloc_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$findings/" > "$log" 2>&1 || true
    local execs rss found
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    found=$(ls "$findings" | wc -l)
    printf '| %s | %s | %s s | %s | %s | %s MB | %s |\n' "$t" "$execs" "$((SECONDS - start))" \
        "$(ls "$findings" | grep -cE "^(crash|oom|leak)-" || true)" "$(ls "$findings" | grep -c '^timeout-' || true)" "$rss" \
        "$(ls "$corpus" | wc -l)" > "$WORK/logs/$t.row"
    [ "$found" -eq 0 ]
}

mkdir -p "$WORK/logs"
status=0
pids=()
for t in "${TARGETS[@]}"; do
    run_target "$t" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done

echo "| target | executions | time | crashes | hangs (>10 s) | peak RSS | corpus |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do cat "$WORK/logs/$t.row"; done
exit $status

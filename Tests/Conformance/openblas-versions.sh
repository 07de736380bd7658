#!/usr/bin/env bash
# Renders the sample batch with other OpenBLAS releases than the system's, to show whether result bits depend on
# the OpenBLAS version. Each release comes from PyPI's scipy-openblas32 wheel (OpenBLAS built with DYNAMIC_ARCH),
# loaded with LD_PRELOAD ahead of the system's; releases whose symbols are prefixed `scipy_` go through a
# four-function shim. The preloaded library reads OPENBLAS_CORETYPE when it loads: svdbatch's own switch to
# Haswell kernels acts on the system library only. Prints each clip's frames_sha256 per release; compare with Tests/Fixtures/golden-frames.json.
#
#   Tests/Conformance/openblas-versions.sh [VERSION ...]     (default: a spread from 0.3.23 to 0.3.34)
# Needs pip, gcc and a release build (.build/release/svdbatch). Not part of the test suite: it downloads wheels.
set -euo pipefail
cd "$(dirname "$0")/../.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(0.3.23.293.2 0.3.27.63.1 0.3.30.0.8 0.3.34.481.3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
binary=.build/release/svdbatch

cat > "$work/shim.c" <<'SHIM'
extern void scipy_cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                              float *, int);
extern void scipy_openblas_set_num_threads(int);
extern char *scipy_openblas_get_corename(void);
extern char *scipy_openblas_get_config(void);
void cblas_sgemm(int o, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc) {
    scipy_cblas_sgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void openblas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }
char *openblas_get_corename(void) { return scipy_openblas_get_corename(); }
char *openblas_get_config(void) { return scipy_openblas_get_config(); }
SHIM

render() {  # $1: label, rest: environment assignments
    local label=$1; shift
    local out="$work/out-$label"
    env "$@" "$binary" run Samples/jobs.csv --out "$out" --model Samples/demo-model --quiet
    for clip in "$out"/*.mp4 "$out"/*.webm "$out"/*.mkv; do
        printf '%-14s %-20s %s\n' "$label" "$(basename "$clip")" \
            "$("$binary" inspect "$clip" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["frames_sha256"])')"
    done
}

render system
for v in "${versions[@]}"; do
    pip download --quiet --no-deps -d "$work/$v" "scipy-openblas32==$v"
    (cd "$work/$v" && python3 -m zipfile -e ./*.whl x)
    lib=$(ls "$work/$v"/x/scipy_openblas32/lib/lib*.so | grep -v -e gfortran -e quadmath)
    if nm -D "$lib" | grep -q ' T scipy_cblas_sgemm$'; then
        gcc -O2 -shared -fPIC "$work/shim.c" -o "$work/$v/libshim.so" "$lib" -Wl,-rpath,"$(dirname "$lib")"
        render "$v" LD_PRELOAD="$work/$v/libshim.so" OPENBLAS_CORETYPE=Haswell
    else  # older wheels export the plain names
        render "$v" LD_PRELOAD="$lib" OPENBLAS_CORETYPE=Haswell
    fi
done

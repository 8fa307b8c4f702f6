#!/usr/bin/env bash
# install.sh - the installed package is usable on its own: `cmake --install`
# of the build tree into a temp prefix, then two consumers of it, built
# against the prefix alone (no source or build tree on their include or
# library paths):
#   (a) pkg-config: cc examples/hook.c $(pkg-config --cflags --libs --static dmvfilter)
#   (b) CMake: find_package(dmvfilter) + target_link_libraries(app dmvfilter::dmvfilter)
# Both binaries run the per-request hook example as tests/run_hook.sh does,
# and the installed `dmvfilter` runs `--version`.
set -u
: "${DMVF_BIN:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE PKG_CONFIG_LIBDIR
P=$T/prefix

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
# step DESCRIPTION CMD...: runs CMD with its output in $T/log; ok or FAIL with the log's tail
step() {
    local desc=$1; shift
    if "$@" >"$T/log" 2>&1; then
        ok "$desc"
        return 0
    fi
    bad "$desc"
    tail -n 15 "$T/log" | sed 's/^/      /'
    return 1
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

version=$(sed -n 's/^project(dmvfilter VERSION \([0-9.]*\).*/\1/p' "$DMVF_SRC/CMakeLists.txt")
[ -n "$version" ] || { bad "read the project version from CMakeLists.txt"; finish; }
cache() { sed -n "s/^$1:[A-Z]*=//p" "$DMVF_BIN/CMakeCache.txt"; }
# a sanitized build installs a sanitized library: its consumers need the flags too
san=()
case $(cache DMVF_SANITIZE) in
ON|on|1|TRUE|true|YES|yes) san=(-fsanitize=address,undefined) ;;
esac
cc=${CC:-cc}

# ---- install ----
step "cmake --install into a temp prefix" cmake --install "$DMVF_BIN" --prefix "$P" || finish
libdir=$(cache CMAKE_INSTALL_LIBDIR)
libdir=${libdir:-lib}
for f in "bin/dmvfilter" "include/dmvfilter/dmvfilter.h" "$libdir/cmake/dmvfilter/dmvfilterConfig.cmake" \
    "$libdir/cmake/dmvfilter/dmvfilterConfigVersion.cmake" "$libdir/pkgconfig/dmvfilter.pc"; do
    if [ -e "$P/$f" ]; then ok "installed $f"; else bad "installed $f"; fi
done
if ls "$P/$libdir"/libdmvfilter.* >/dev/null 2>&1; then
    ok "installed $libdir/libdmvfilter"
else
    bad "installed $libdir/libdmvfilter"
fi
pc=$(find "$P" -name dmvfilter.pc | head -n 1)
[ -n "$pc" ] || { bad "find dmvfilter.pc under the prefix"; finish; }

# ---- the installed command-line tool ----
if out=$("$P/bin/dmvfilter" --version 2>&1) && echo "$out" | grep -q "^dmvfilter $version\b"; then
    ok "installed dmvfilter --version: $out"
else
    bad "installed dmvfilter --version: '$out', want 'dmvfilter $version'"
fi

# ---- the hook's inputs, as tests/run_hook.sh makes them ----
# (the hook judges on the clock: the example's certifications moved past 2027)
sed 's/certified_until: 2027-12-31/certified_until: 2099-12-31/' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
step "installed dmvfilter keys init --unsealed" "$P/bin/dmvfilter" keys init --keyring "$T/kr" --unsealed
"$DMVF_GEN" --count 1 --seed 5 --out "$T/one.bin" || { bad "dmvf-gen"; finish; }
python3 -c 'import sys
d=open(sys.argv[1],"rb").read(); i=0; n=0; s=0
while True:
    b=d[i]; i+=1; n|=(b&0x7f)<<s; s+=7
    if not b&0x80: break
open(sys.argv[2],"wb").write(d[i:i+n])' "$T/one.bin" "$T/rec" || { bad "strip the length prefix"; finish; }

# run_hook NAME BINARY: the hook's output must name the released police
# request and the refused immigration request
run_hook() {
    local out
    if ! out=$("$2" "$T/policy.yaml" "$T/kr" "$T/rec" 2>&1); then
        bad "$1: the hook runs"
        echo "$out" | sed 's/^/      /'
        return
    fi
    if echo "$out" | grep -qE "^police-1: released [0-9]+ of [0-9]+ bytes, rule 'in-state police', epoch 1$" \
        && echo "$out" | grep -qE "^ice-1: refused, reply not-found"; then
        ok "$1: police released, immigration refused as not-found"
    else
        bad "$1: unexpected hook output"
        echo "$out" | sed 's/^/      /'
    fi
}

# ---- (a) pkg-config ----
export PKG_CONFIG_PATH=$(dirname "$pc")
if pcv=$(pkg-config --modversion dmvfilter 2>&1) && [ "$pcv" = "$version" ]; then
    ok "pkg-config --modversion dmvfilter: $pcv"
else
    bad "pkg-config --modversion dmvfilter: '$pcv', want '$version'"
fi
if flags=$(pkg-config --cflags --libs --static dmvfilter 2>"$T/log"); then
    ok "pkg-config --cflags --libs --static dmvfilter: $flags"
    # the -I and -L flags must point into the prefix, wherever it is (compared resolved)
    inc=$(pkg-config --cflags-only-I dmvfilter | tr ' ' '\n' | sed -n 's/^-I//p' | head -n 1)
    lib=$(pkg-config --libs-only-L dmvfilter | tr ' ' '\n' | sed -n 's/^-L//p' | head -n 1)
    if [ -n "$inc" ] && [ -n "$lib" ] \
        && [ "$(readlink -f "$inc")" = "$(readlink -f "$P/include")" ] \
        && [ "$(readlink -f "$lib")" = "$(readlink -f "$P/$libdir")" ]; then
        ok "pkg-config: -I and -L point into the install prefix"
    else
        bad "pkg-config: -I '$inc' and -L '$lib' are not $P/include and $P/$libdir"
    fi
    # shellcheck disable=SC2086 # pkg-config output is a list of words
    if step "pkg-config consumer: $cc examples/hook.c \$(pkg-config ...)" \
        "$cc" "${san[@]}" -o "$T/hook-pc" "$DMVF_SRC/examples/hook.c" $flags; then
        run_hook "pkg-config consumer" "$T/hook-pc"
    fi
else
    bad "pkg-config --cflags --libs --static dmvfilter"
    sed 's/^/      /' "$T/log"
fi
unset PKG_CONFIG_PATH

# ---- (b) CMake ----
mkdir "$T/app"
cp "$DMVF_SRC/examples/hook.c" "$T/app/hook.c"
cat >"$T/app/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(dmvfilter_consumer LANGUAGES C)
find_package(dmvfilter $version REQUIRED)
message(STATUS "dmvfilter_VERSION=\${dmvfilter_VERSION}")
add_executable(app hook.c)
target_link_libraries(app dmvfilter::dmvfilter)
EOF
cmflags=()
if [ ${#san[@]} -gt 0 ]; then
    cmflags=("-DCMAKE_C_FLAGS=${san[*]}" "-DCMAKE_EXE_LINKER_FLAGS=${san[*]}")
fi
if step "CMake consumer: find_package(dmvfilter $version) with CMAKE_PREFIX_PATH=prefix" \
    cmake -S "$T/app" -B "$T/app-build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=Release "${cmflags[@]}"; then
    if grep -q "dmvfilter_VERSION=$version\$" "$T/log"; then
        ok "CMake consumer: dmvfilter_VERSION is $version"
    else
        bad "CMake consumer: dmvfilter_VERSION is not $version"
    fi
    grep -q "^dmvfilter_DIR:PATH=$P/" "$T/app-build/CMakeCache.txt" \
        && ok "CMake consumer: the package comes from the install prefix" \
        || bad "CMake consumer: the package does not come from the install prefix: $(grep '^dmvfilter_DIR' "$T/app-build/CMakeCache.txt")"
    if step "CMake consumer: build app linked to dmvfilter::dmvfilter" cmake --build "$T/app-build"; then
        run_hook "CMake consumer" "$T/app-build/app"
    fi
fi
# a newer major version than installed is not found
cat >"$T/app/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(dmvfilter_consumer LANGUAGES C)
find_package(dmvfilter 99 REQUIRED)
EOF
if cmake -S "$T/app" -B "$T/app-build2" -DCMAKE_PREFIX_PATH="$P" >"$T/log" 2>&1; then
    bad "CMake consumer: find_package(dmvfilter 99) succeeded against $version"
else
    ok "CMake consumer: find_package(dmvfilter 99) is refused"
fi

finish

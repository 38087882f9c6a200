#!/usr/bin/env bash
# Checks for the Debian packages the build and the tests need, and installs
# the missing ones with apt-get when run as root; otherwise prints the exact
# command to run. Extra packages may be passed as arguments, or these groups:
#   --fuzz      clang and its libFuzzer runtime (`make fuzz` only)
#   --valgrind  valgrind (`make valgrind` only)
#   --test      what the test suite needs beyond the build: chromium (renders the
#               HTML report), prometheus (promtool checks the textfile), groff
#               (renders the man pages)
set -eu

need=()
# A header counts as present when the compiler finds it (multiarch paths too).
have_header() { have_cmd cc && printf '#include <%s>\n' "$1" | cc -E -x c - >/dev/null 2>&1; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }

have_cmd cc || need+=(gcc)
have_cmd make || need+=(make)
have_header civetweb.h || need+=(libcivetweb-dev)
have_header cjson/cJSON.h || need+=(libcjson-dev)
have_header curl/curl.h || need+=(libcurl4-openssl-dev)
have_cmd gcovr || need+=(gcovr)
have_cmd python3 || need+=(python3)
extras=()
for arg in "$@"; do
    case "$arg" in
    --fuzz) extras+=(clang libclang-rt-14-dev) ;;
    --valgrind) extras+=(valgrind) ;;
    --test) extras+=(chromium prometheus groff-base) ;;
    *) extras+=("$arg") ;;
    esac
done
for extra in ${extras[@]+"${extras[@]}"}; do
    dpkg -s "$extra" >/dev/null 2>&1 || need+=("$extra")
done

[ "${#need[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]}" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${need[@]}" >&2

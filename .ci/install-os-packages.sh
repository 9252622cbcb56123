#!/usr/bin/env bash
# OS packages, in two sets: `product` (what `make run` needs: the sandbox and the four
# toolchains) and `test` (what only the test suite and the benchmarks need: servers, a
# browser, a container engine and the test cluster's tools). Usage: install-os-packages.sh
# product|test (default product). Installs them when root with apt; otherwise prints the
# exact command to run, and carries on (the tests that need a missing piece fail with a
# message naming it).
set -euo pipefail
PRODUCT=(
  bubblewrap            # local sandbox isolation (namespaces) for the embedded executor
  libseccomp2           # the syscall filter (pyseccomp loads it) for local runs
  g++ openjdk-17-jdk-headless nodejs python3   # the four toolchains the local executor runs
  python3-venv                                 # the .venv is made from the distribution's python3
)
TEST=(
  redis-server postgresql                      # real servers for the API tests
  hyperfine                                    # make bench
  chromium                                     # browser tests (Playwright drives it)
  containerd runc docker.io containernetworking-plugins debootstrap iptables ipset openssl curl  # test cluster
)
case "${1:-product}" in
  product) PACKAGES=("${PRODUCT[@]}") ;;
  test) PACKAGES=("${PRODUCT[@]}" "${TEST[@]}") ;;
  *) echo "usage: $0 product|test" >&2; exit 2 ;;
esac
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing OS packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing OS packages; run: sudo apt-get install -y ${missing[*]}" >&2
fi

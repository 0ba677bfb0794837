#!/usr/bin/env bash
# tools/install-deps.sh - installs, with apt-get, everything etcetera needs to build, run and be
# tested on Debian 12. Idempotent: when every package is already present it changes nothing and
# does not touch the network. Needs root (or sudo).
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config clang libclang-rt-dev clang-format git ca-certificates
    liburing-dev libh2o-evloop-dev libh2o-dev-common libmsgpack-dev libjemalloc-dev liburcu-dev
    libssl-dev libcrypt-dev libcurl4-openssl-dev libcriterion-dev
    # tests: real clients, the reference etcd, load tools
    curl etcd-server etcd-client python3 python3-etcd python3-openssl python3-pytest wrk nginx-light
    procps iproute2 gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Debian's etcd-server package would start a system etcd on 2379; keep package scripts from
# starting services (a user starts etcetera there instead).
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"

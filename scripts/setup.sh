#!/bin/sh
# Installs what is missing, then builds. Used by both README commands (`npm start`, `npm test`).
#   Debian packages (only when root and apt-get exists): capture tools, brokers, eBPF toolchain.
#   npm packages: `npm ci` (exactly the committed lock, which lists every platform's optional
#   native packages) when node_modules is missing or older than the lock.
#   Build: protobuf code generation, the CLI bundle, the eBPF loader (when clang/bpftool exist).
set -e
cd "$(dirname "$0")/.."

PKGS="curl systemd tcpdump tshark mosquitto mosquitto-clients rabbitmq-server clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make gcc iperf3 libpcap-dev python3-pika python3-paho-mqtt python3-grpcio openssh-server openssh-client iproute2 ethtool redis-server redis-tools openssl postgresql libndpi-bin time python3-scapy"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    if ! (apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing) >/tmp/ndr-sensor-apt.log 2>&1; then
      echo "setup: apt-get failed (see /tmp/ndr-sensor-apt.log); continuing with what is installed"
    fi
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

node scripts/build.mjs

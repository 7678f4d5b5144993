#!/usr/bin/env bash
# Installs every Debian package that building, testing and the demo need.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

pkgs=(
	make gcc pkg-config
	clang llvm          # BPF target (clang -target bpf), llvm-strip
	libbpf-dev bpftool  # loader library, skeleton generator, map inspection
	libelf-dev zlib1g-dev
	libyaml-dev         # the Istio manifests
	libmnl-dev          # netlink: which XDP features an interface's driver has
	libmicrohttpd-dev   # the agent's /healthz, /readyz, /metrics endpoint
	libcurl4-openssl-dev # the agent's endpoint health checks (multi interface)
	libcriterion-dev    # unit tests
	iproute2 ethtool util-linux # namespaces, veths, offloads, nsenter
	curl wrk python3    # real clients; python3 runs the test model server
	jq                  # tests read the commands' JSON
	openssl             # TLS tests: the endpoints' certificate, openssl s_client
	python3-yaml python3-requests # tests' Python (/usr/bin/python3): manifests, keep-alive clients
	nginx-light haproxy # endpoint servers and the proxies kanary is benchmarked against
	gnuplot-nox         # the benchmark chart
	podman runc         # make image-test: builds and runs the agent's image
	mmdebstrap          # ... from a Debian base made here, with no registry
	prometheus          # make test: a real Prometheus scrapes kanary's /metrics
)
# The manifests' checker (deploy/test) runs on Node.js; a machine that has
# node from elsewhere keeps it (its npm comes with it).
command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root to install" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Installing nginx or haproxy must not start them as system services: the
# project starts its own, in its own namespaces, with its own configs.
guard=/usr/sbin/policy-rc.d
if [ ! -e "$guard" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$guard"
	chmod +x "$guard"
	trap 'rm -f "$guard"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

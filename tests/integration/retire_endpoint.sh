#!/usr/bin/env bash
# Print a WorkloadEntry that takes the lab endpoint at ADDR out of its
# subset (relabelled version: retired), as an operator would do to drain
# it. The name comes from the lab's workloadentries.yaml.
set -euo pipefail
addr=$1
here=$(cd "$(dirname "$0")" && pwd)
name=$(awk -v a="$addr" '/^  name:/ { n = $2 } $1 == "address:" && $2 == a { print n }' \
	"${KANARY_LAB_DIR:-$here/../../examples/lab}/workloadentries.yaml")
[ -n "$name" ] || { echo "no lab endpoint at $addr" >&2; exit 1; }
cat <<YAML
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: $name
  namespace: default
spec:
  address: $addr
  labels:
    app: image-classifier
    version: retired
  ports:
    tf-serving-http: 8501
YAML

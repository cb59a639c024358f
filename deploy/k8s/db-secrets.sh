#!/usr/bin/env bash
# Creates the database credentials the manifests expect, once per namespace: for each service two
# kubernetes.io/basic-auth Secrets (username, password):
#   tansiq-db-<service>-owner    role <service>, owner of the database; only the migration Job
#   tansiq-db-<service>-runtime  role <service>_runtime, what the running service connects as
# CloudNativePG sets each role's password from its Secret; the pods build their URLs from them.
# Existing Secrets are left alone (rotating a password: edit the Secret; CloudNativePG follows
# it thanks to the reload label; then restart the Deployment, or re-run the Job for the owner).
# Passwords are hex, so they go into a URL unescaped.
#
# Usage: deploy/k8s/db-secrets.sh NAMESPACE
set -euo pipefail

namespace="${1:?usage: $0 NAMESPACE}"
kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace"

make_secret() {
  local secret="$1" role="$2"
  if kubectl -n "$namespace" get secret "$secret" >/dev/null 2>&1; then
    echo "$secret exists, kept"
    return
  fi
  kubectl -n "$namespace" create secret generic "$secret" \
    --type=kubernetes.io/basic-auth \
    --from-literal=username="$role" \
    --from-literal=password="$(openssl rand -hex 24)"
  kubectl -n "$namespace" label secret "$secret" cnpg.io/reload=true app.kubernetes.io/part-of=tansiq
}

for service in registry agreements engagements reporting; do
  make_secret "tansiq-db-$service-owner" "$service"
  make_secret "tansiq-db-$service-runtime" "${service}_runtime"
done

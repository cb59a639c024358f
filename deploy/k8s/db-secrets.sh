#!/usr/bin/env bash
# Creates the four database credentials the manifests expect, once per namespace:
# Secret tansiq-db-<service> (kubernetes.io/basic-auth: username, password). CloudNativePG sets
# each role's password from it; the services build their database URL from it.
# Existing Secrets are left alone (rotating a password: edit the Secret; CloudNativePG follows
# it thanks to the reload label, then restart the Deployment).
# Passwords are hex, so they go into a URL unescaped.
#
# Usage: deploy/k8s/db-secrets.sh NAMESPACE
set -euo pipefail

namespace="${1:?usage: $0 NAMESPACE}"
kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace"

for service in registry agreements engagements reporting; do
  secret="tansiq-db-$service"
  if kubectl -n "$namespace" get secret "$secret" >/dev/null 2>&1; then
    echo "$secret exists, kept"
    continue
  fi
  kubectl -n "$namespace" create secret generic "$secret" \
    --type=kubernetes.io/basic-auth \
    --from-literal=username="$service" \
    --from-literal=password="$(openssl rand -hex 24)"
  kubectl -n "$namespace" label secret "$secret" cnpg.io/reload=true app.kubernetes.io/part-of=tansiq
done

#!/bin/sh
# A self-signed certificate for the nginx of docker-compose.yml, so that one
# `docker compose up` serves an https issuer. For a real deployment put your own
# certificate and key (e.g. from Let's Encrypt) at the same two paths instead.
#   deploy/nginx/make-cert.sh [hostname] [folder]     (default: localhost, deploy/nginx/certs)
# Browsers and clients will not trust it until you add cert.pem to their trust store
# (openid-client, curl: pass it as the CA; never switch verification off).
set -eu
host="${1:-localhost}"
dir="${2:-$(dirname "$0")/certs}"
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 825 \
  -subj "/CN=$host" -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
echo "wrote $dir/cert.pem and $dir/key.pem for $host"

#!/bin/sh
# Write the upstream block from HUB_UPSTREAMS, check the certificate is mounted, start nginx.
set -eu
: "${HUB_UPSTREAMS:=hub-1:8000 hub-2:8000}"
for file in /etc/satukartu/tls/cert.pem /etc/satukartu/tls/key.pem; do
    [ -r "$file" ] || { echo "proxy: mount the TLS certificate and key ($file)" >&2; exit 1; }
done
mkdir -p /etc/nginx/conf.d
awk -v upstreams="$HUB_UPSTREAMS" '
    /@SERVERS@/ {
        n = split(upstreams, hosts, " ")
        for (i = 1; i <= n; i++) printf "    server %s max_fails=1 fail_timeout=5s;\n", hosts[i]
        next
    }
    { print }' /etc/nginx/hub.conf.template > /etc/nginx/conf.d/hub.conf
nginx -t -q
exec "$@"

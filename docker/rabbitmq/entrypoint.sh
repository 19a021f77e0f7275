#!/bin/sh
# Write the broker's user from RABBITMQ_DEFAULT_USER and the password file, then start.
set -eu
: "${RABBITMQ_DEFAULT_PASS_FILE:?the broker password file}"
mkdir -p "$RABBITMQ_CONFIG_FILES"
umask 077
{
    echo "default_user = ${RABBITMQ_DEFAULT_USER:-satukartu}"
    echo "default_pass = $(head -n 1 "$RABBITMQ_DEFAULT_PASS_FILE")"
    echo "listeners.tcp.default = 5672"
} > "$RABBITMQ_CONFIG_FILES/10-satukartu.conf"
exec "$@"

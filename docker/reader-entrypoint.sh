#!/bin/sh
# Start pcscd unless a host's pcscd socket is mounted at /run/pcscd, then run the command
# as the unprivileged satukartu user.
set -eu
if [ ! -S /run/pcscd/pcscd.comm ]; then
    install -d -m 0755 /run/pcscd
    pcscd --foreground 2>&1 &
    tries=0
    until [ -S /run/pcscd/pcscd.comm ]; do
        tries=$((tries + 1))
        [ "$tries" -le 50 ] || { echo "pcscd did not start" >&2; exit 1; }
        sleep 0.1
    done
fi
if [ "$(id -u)" -eq 0 ]; then
    exec setpriv --reuid=satukartu --regid=satukartu --init-groups --no-new-privs "$@"
fi
exec "$@"

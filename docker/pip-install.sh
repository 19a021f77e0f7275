#!/bin/sh
# pip-install VENV ARGS...: pip install into VENV from /wheelhouse alone when it holds
# packages (an offline, reproducible build), else from the package index.
set -eu
venv=$1; shift
if ls /wheelhouse/*.whl /wheelhouse/*.tar.gz >/dev/null 2>&1; then
    exec "$venv/bin/pip" install --no-cache-dir --no-index --find-links /wheelhouse "$@"
fi
exec "$venv/bin/pip" install --no-cache-dir "$@"

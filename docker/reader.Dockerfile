# The reader daemon for a kiosk, an agent's shop or a counter PC: `satukartu reader` with
# pcscd and the CCID driver for real USB readers. Never vpcd (the virtual reader).
#
#   podman build -f docker/reader.Dockerfile -t satukartu-reader .   (from the repository root)
#   podman run --device /dev/bus/usb -p 127.0.0.1:7468:7468 \
#       -e SATUKARTU_HUB_URL=https://hub.city.example -e SATUKARTU_TERMINAL_CLIENT_ID=... \
#       -v /etc/satukartu/terminal-secret:/run/secrets/terminal-secret:ro \
#       -e SATUKARTU_TERMINAL_CLIENT_SECRET_FILE=/run/secrets/terminal-secret satukartu-reader
#
# The container starts its own pcscd (as root: it opens the USB devices), then drops to the
# satukartu user for the daemon. A PC whose pcscd runs on the host mounts its socket
# instead (-v /run/pcscd:/run/pcscd) and the entrypoint uses that one.
ARG BASE=debian:bookworm-slim

# The same first steps as docker/Dockerfile's build stage (a build shares their layers).
FROM ${BASE} AS build
# The compilers are for pyscard (a C extension, published as source only for Linux).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3 python3-venv python3-dev gcc libc6-dev swig libpcsclite-dev \
    && rm -rf /var/lib/apt/lists/*
COPY docker/wheelhouse/ /wheelhouse/
COPY docker/pip-install.sh /usr/local/bin/pip-install
RUN python3 -m venv /opt/satukartu && pip-install /opt/satukartu 'setuptools>=68' wheel
WORKDIR /src
ARG EXTRAS=reader
COPY pyproject.toml setup.cfg docker/requirements.py ./
RUN python3 requirements.py setup.cfg "${EXTRAS}" > /tmp/requirements.txt \
    && pip-install /opt/satukartu --no-build-isolation -r /tmp/requirements.txt
COPY README.md ./
COPY backend backend
COPY services services
COPY admin admin
COPY card_reader card_reader
COPY MANIFEST.in ./
COPY docker/check_wheel.py /tmp/check_wheel.py
RUN /opt/satukartu/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation -w /tmp/dist . \
    && /opt/satukartu/bin/pip install --no-cache-dir --no-deps /tmp/dist/satukartu-*.whl \
    && (cd /tmp && /opt/satukartu/bin/python check_wheel.py /src backend services admin \
        card_reader) \
    && /opt/satukartu/bin/pip uninstall -y -q setuptools wheel \
    && find /opt/satukartu -name __pycache__ -prune -exec rm -rf {} + \
    && /opt/satukartu/bin/python -m compileall -q /opt/satukartu/lib

FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3 pcscd libccid libpcsclite1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ! dpkg -s vsmartcard-vpcd >/dev/null 2>&1 \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/satukartu \
       --create-home --shell /usr/sbin/nologin satukartu
COPY --from=build /opt/satukartu /opt/satukartu
COPY docker/reader-entrypoint.sh /usr/local/bin/reader-entrypoint
ENV PATH=/opt/satukartu/bin:$PATH \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/satukartu
# The local bridge the kiosk's browser reaches; publish it on the PC's loopback only.
EXPOSE 7468
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 7468), 4).close()"]
ENTRYPOINT ["reader-entrypoint"]
CMD ["satukartu", "reader", "--bridge", "0.0.0.0:7468"]

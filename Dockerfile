# CodeRun service image: the API (`coderun serve`) and the operator (`coderun operator`),
# one image, two commands (the Helm chart sets the args).
#
#   docker build -t coderun:dev .                      # from the repo root
#   docker run --rm -p 8000:8000 coderun:dev serve --host 0.0.0.0 --port 8000
#
# Built with the legacy builder too (hack/cluster/cluster.sh sets DOCKER_BUILDKIT=0), so no
# BuildKit-only syntax. BASE_IMAGE is any Debian bookworm root filesystem; without a registry
# the test cluster passes its debootstrap image (coderun-base:bookworm). Python packages come
# from PyPI during the build.
#
# Behind a TLS-intercepting proxy, pass its CA certificates (PEM text) so pip trusts PyPI:
#   --build-arg EXTRA_CA_CERTS="$(cat /usr/local/share/ca-certificates/*.crt)"
# They are trusted in the build stage only; the runtime image does not carry them.
ARG BASE_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------- base: what both stages run on
# Python and the CA bundle, with security updates from bookworm-security when the base image
# does not list it; no apt lists, caches, logs or documentation are kept.
FROM ${BASE_IMAGE} AS base
RUN if ! grep -rqs 'bookworm-security' /etc/apt/sources.list /etc/apt/sources.list.d; then \
         echo 'deb http://deb.debian.org/debian-security bookworm-security main' \
           >/etc/apt/sources.list.d/coderun-security.list; \
       fi \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
         python3 ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
         /usr/share/doc /usr/share/man /usr/share/info

# ---------------------------------------------------------------- build: the venv
FROM base AS build
ARG EXTRA_CA_CERTS=""
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && if [ -n "$EXTRA_CA_CERTS" ]; then \
         printf '%s\n' "$EXTRA_CA_CERTS" >/usr/local/share/ca-certificates/coderun-build-extra.crt \
         && update-ca-certificates >/dev/null; \
       fi
# pip's own CA list does not know an extra CA; the system bundle does.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Dependencies first, from pyproject.toml alone, so that a code change reuses this layer.
WORKDIR /src
COPY pyproject.toml ./
RUN python3 -m venv /opt/coderun/venv \
    && /opt/coderun/venv/bin/pip install -q --upgrade pip \
    && python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
         >/tmp/requirements.txt \
    && /opt/coderun/venv/bin/pip install -q -r /tmp/requirements.txt
COPY . ./
# pyproject.toml names README.md as the long description; the package does not need it.
# The Python client (clients/python, its one dependency httpx is the API's too) is for
# `coderun submit`, so that command works from the image as from a checkout.
RUN test -f README.md || echo '# CodeRun' >README.md \
    && /opt/coderun/venv/bin/pip install -q --no-deps . \
    && /opt/coderun/venv/bin/pip install -q --no-deps ./clients/python \
    && /opt/coderun/venv/bin/python -m compileall -q -j 0 /opt/coderun/venv/lib \
    && /opt/coderun/venv/bin/pip uninstall -q -y setuptools pip \
    && /opt/coderun/venv/bin/coderun --help >/dev/null

# ---------------------------------------------------------------- runtime
FROM base
# The venv's python is a symlink to /usr/bin/python3, the same in both stages (both are base).
COPY --from=build /opt/coderun/venv /opt/coderun/venv
ENV PATH=/opt/coderun/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    HOME=/tmp \
    CODERUN_DATA_DIR=/data
# A named user for uid 10001: kopf names its identity after getpass.getuser(), which fails
# for a uid without a passwd entry. USER/LOGNAME answer it first, for any uid a pod picks.
# /data holds the SQLite database when no CODERUN_DATABASE_URL is given (development only);
# with a read-only root filesystem, mount a volume there and an emptyDir on /tmp.
RUN groupadd --system --gid 10001 coderun \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
         --shell /usr/sbin/nologin coderun \
    && mkdir -p /data && chown 10001:10001 /data && chmod 0700 /data
ENV USER=coderun \
    LOGNAME=coderun
USER 10001:10001
WORKDIR /data
EXPOSE 8000 8080
ENTRYPOINT ["coderun"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

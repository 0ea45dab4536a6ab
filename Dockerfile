# s3dav: a WebDAV server in front of an S3 bucket.
#   docker build -t s3dav .
#   docker run -p 8080:8080 -e S3DAV_SHARES='[{path: /, bucket: my-bucket}]' \
#     -e AWS_ACCESS_KEY_ID=... -e AWS_SECRET_ACCESS_KEY=... s3dav
# Configuration: /etc/s3dav/s3dav.yaml (mount your own over the commented example), and
# S3DAV_<SECTION>__<KEY> environment variables, which win over the file. See docs/DEPLOY.md.
# tests/integration/test_container.py runs this file's install steps and command in a fresh virtualenv.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --home-dir /var/cache/s3dav --shell /usr/sbin/nologin s3dav \
    && mkdir -p /var/cache/s3dav /etc/s3dav \
    && chown s3dav /var/cache/s3dav

WORKDIR /src
COPY pyproject.toml README.md /src/
COPY s3dav /src/s3dav
RUN pip install "/src[replicas]"

COPY config/s3dav.yaml /etc/s3dav/s3dav.yaml

# Inside a container the gateway listens on every interface; the cache lives on a volume.
# (These override the file; the port stays the file's server.port, 8080 by default.)
ENV S3DAV_SERVER__HOST=0.0.0.0 \
    S3DAV_CACHE__DIR=/var/cache/s3dav

VOLUME ["/var/cache/s3dav"]
EXPOSE 8080
USER s3dav
WORKDIR /var/cache/s3dav

HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('S3DAV_SERVER__PORT', '8080'), timeout=4)"]

ENTRYPOINT ["s3dav"]
CMD ["serve", "--config", "/etc/s3dav/s3dav.yaml"]

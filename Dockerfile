# s3gate production image: `docker build -t registry.example.com/s3gate:0.1.0 .`
#
# Two stages: the first installs the package (no dev extra) into a virtual
# environment, the second copies only that environment onto a clean slim
# image, so no build tooling or pip cache ends up in the runtime image.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/s3gate
WORKDIR /src
COPY pyproject.toml README.md ./
COPY s3gate ./s3gate
RUN /opt/s3gate/bin/pip install . \
 && /opt/s3gate/bin/s3gate --help >/dev/null

FROM python:3.11-slim
LABEL org.opencontainers.image.title="s3gate" \
      org.opencontainers.image.description="Policy-enforcing S3 gateway for AI reasoning traces" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/s3gate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# uid/gid 10001, the ids the Helm chart's securityContext expects. The data
# directory belongs to that user; everything else stays read-only for it.
RUN groupadd --system --gid 10001 s3gate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/s3gate --shell /usr/sbin/nologin s3gate \
 && mkdir -p /etc/s3gate /var/lib/s3gate \
 && chown 10001:10001 /var/lib/s3gate
COPY --from=build /opt/s3gate /opt/s3gate
USER 10001:10001
# Relative paths in settings (data_dir ./data, policy.dir ./policies, …)
# resolve here; the chart sets absolute ones.
WORKDIR /var/lib/s3gate
EXPOSE 9000
ENTRYPOINT ["s3gate"]
CMD ["serve", "--config", "/etc/s3gate/s3gate.yaml"]

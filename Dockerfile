# The segstream worker image: `docker compose up` builds it from this repository.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /src
# stream/schemas and stream/ops/kafka/pom.xml are symlinks into these two directories.
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY deploy/kafka/pom.xml ./deploy/kafka/pom.xml
COPY stream ./stream
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/segstream --create-home segstream

USER segstream
ENV SEGSTREAM_STATE_DIR=/var/lib/segstream
VOLUME /var/lib/segstream

ENTRYPOINT ["segstream"]
CMD ["worker", "--rules", "/rules/segments.yaml"]

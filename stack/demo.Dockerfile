# The otel-ml demo for docker-compose.yml: the package with its extras.
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY otel_ml ./otel_ml
RUN pip install --no-cache-dir '.[all]'
USER nobody
CMD ["otel-ml", "demo", "--serve", "--otlp-endpoint", "http://collector:4317"]

# The courier-hub API. Migrations run separately: `courier-hub migrate` (see docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/courier-hub

COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
COPY bench ./bench
RUN pip install . && useradd --system --uid 10001 courierhub
USER courierhub

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["courier-hub", "serve", "--host", "0.0.0.0", "--port", "8000"]

# tracewatch worker image: `docker build -t tracewatch .`, or `docker compose up` (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install . \
    && useradd --system --create-home --home-dir /var/lib/tracewatch tracewatch \
    && install -d -o tracewatch -g tracewatch /var/lib/tracewatch/data

USER tracewatch
WORKDIR /var/lib/tracewatch
# Listen on all interfaces inside the container; state (Faust tables) under the home directory.
ENV TRACEWATCH_WEB_HOST=0.0.0.0 \
    TRACEWATCH_WEB_PORT=6066 \
    TRACEWATCH_DATA_DIR=/var/lib/tracewatch/data
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TRACEWATCH_WEB_PORT', '6066'), timeout=2)"
CMD ["tracewatch", "worker"]

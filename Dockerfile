# The Cloud Run Job image: `jiwa-job` runs the nine waves of $JOB_ID.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
RUN pip install . && rm -rf /app/shared/jiwa/dev \
    && useradd --uid 10001 --no-create-home jiwa
USER 10001
ENTRYPOINT ["jiwa-job"]

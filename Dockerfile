# The Cloud Run Job image: `jiwa-job` runs the nine waves of $JOB_ID.
# It installs exactly uv.lock (docs/decisions/0004-one-lock.md): the runtime set exported
# with its hashes and installed in pip's hash-checking mode, then the project's own wheel
# with no dependencies. jiwa/dev (the local stand-ins) is not in the build context
# (.dockerignore), so no layer of the image has it.

# Stage 1: the hashed requirements and the wheel. Only /out is carried over.
FROM python:3.12-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON=/usr/local/bin/python3 UV_PYTHON_DOWNLOADS=never
WORKDIR /src
# uv only reads uv.lock here. Keep its version equal to UV_VERSION in emulator.sh.
RUN pip install uv==0.13.9
COPY pyproject.toml uv.lock ./
COPY shared ./shared
# --locked: a uv.lock out of date with pyproject.toml fails the build. The wheel is built
# with the locked, hashed setuptools (group `build`), not whatever build isolation fetches.
RUN mkdir /out \
    && uv export --locked --no-dev --no-emit-project --format requirements-txt \
       --output-file /out/requirements.txt \
    && uv export --locked --only-group build --no-emit-project --format requirements-txt \
       --output-file /tmp/build-requirements.txt \
    && pip install --require-hashes --no-deps -r /tmp/build-requirements.txt \
    && pip wheel --no-deps --no-build-isolation --wheel-dir /out .

# Stage 2: the image.
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY --from=wheel /out /tmp/jiwa
# --compile (pip's default, spelled out): the .pyc files are written here, at build time.
# The job runs as 10001, who cannot write to site-packages, so without them every cold
# start would compile each module it imports again before its first progress event.
# The standard library's startup modules are frozen in the python image (frozen_modules=on).
RUN pip install --compile --require-hashes --no-deps -r /tmp/jiwa/requirements.txt \
    && pip install --compile --no-deps /tmp/jiwa/jiwa_onboard-*.whl \
    && rm -rf /tmp/jiwa \
    && useradd --uid 10001 --no-create-home jiwa
USER 10001
ENTRYPOINT ["jiwa-job"]

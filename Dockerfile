# syntax=docker/dockerfile:1
# DeepGuard bots: `docker build -t deepguard . && docker run --env-file .env -v deepguard-models:/models -v deepguard-data:/data deepguard`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/models \
    DEEPGUARD_HEALTH_FILE=/tmp/deepguard-alive \
    DEEPGUARD_DATABASE_URL=sqlite+aiosqlite:////data/deepguard.db

# The CPU build of torch (a few hundred MB instead of several GB of CUDA libraries). Build with
# --build-arg TORCH_INDEX=<a CUDA wheel index> for GPU hosts.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
# Extras: `model` (torch + transformers) runs the classifier here. EXTRAS=model,ray for
# `deepguard serve --ray`; EXTRAS= (empty) builds a small bots-only image without torch, for
# bots that judge through a remote core (DEEPGUARD_CORE_URL).
ARG EXTRAS=model

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin deepguard \
    && mkdir -p /models /app /data \
    && chown deepguard:deepguard /models /data

WORKDIR /app

# Dependencies first, in their own layer, so a source change does not reinstall torch.
RUN case ",$EXTRAS," in *,model,*|*,ray,*|*,onnx,*) \
        pip install --index-url "$TORCH_INDEX" "torch==$TORCH_VERSION" ;; esac
COPY pyproject.toml README.md ./
RUN mkdir config core api bots \
    && touch config/__init__.py core/__init__.py api/__init__.py bots/__init__.py \
    && pip install ".${EXTRAS:+[$EXTRAS]}" \
    && pip uninstall --yes deepguard \
    && rm -rf config core api bots

COPY config ./config
COPY core ./core
COPY api ./api
COPY bots ./bots
RUN pip install --no-deps . && rm -rf build

USER deepguard
# Downloaded weights survive container rebuilds; mount a named volume here. /data holds the
# moderation database (SQLite) unless DEEPGUARD_DATABASE_URL points at PostgreSQL.
VOLUME ["/models", "/data"]

# `deepguard serve` (the inference API) listens here when run with DEEPGUARD_SERVE__HOST=0.0.0.0;
# its health check is GET /healthz (see compose.yaml). The default command runs the bots.
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["deepguard", "health"]

# Tokens come from the environment (--env-file .env) or a mounted .env; never baked in.
CMD ["deepguard", "run"]

# Framegate gateway image. CPU by default:
#   docker build -t framegate .
# CUDA (pick the PyTorch wheel index that matches your driver):
#   docker build -t framegate:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
#   docker run --gpus all -p 8000:8000 -v framegate:/data framegate:cuda
ARG PYTHON=3.11
FROM python:${PYTHON}-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Optional extras: "s3" (artifacts in a bucket), "ray" (GPU pools on Ray Serve), e.g. --build-arg EXTRAS=s3,ray
ARG EXTRAS=s3

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    FRAMEGATE_DATA_DIR=/data \
    FRAMEGATE_HOST=0.0.0.0 \
    FRAMEGATE_PORT=8000

WORKDIR /app
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY local_models ./local_models
COPY router ./router
COPY billing ./billing
RUN pip install ".[${EXTRAS}]"

RUN useradd --create-home framegate && mkdir -p /data && chown framegate /data
USER framegate
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["framegate", "serve"]

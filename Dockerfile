# kexue_dist on GPU nodes: CUDA runtime + the same pins as pyproject.toml.
# Build: docker build -t kexue-dist:0.1.0 .   (cluster.yaml runs this image on every node)
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    KEXUE_DIST_CACHE=/var/cache/kexue_dist \
    TORCH_EXTENSIONS_DIR=/opt/venv/.torch_extensions

# The Debian packages the project needs are listed in one file, shared with scripts/setup.sh.
COPY debian-packages.txt /tmp/debian-packages.txt
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -v '^#' /tmp/debian-packages.txt | xargs apt-get install -y --no-install-recommends \
       python3 python3-venv python3-dev build-essential openssh-client rsync \
    && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv /opt/venv
WORKDIR /opt/kexue_dist
COPY pyproject.toml README.md ./
COPY kexue_dist ./kexue_dist
COPY configs ./configs
COPY jobs ./jobs
COPY benchmarks ./benchmarks
# torch: the CUDA build from PyPI, at the version scripts/setup.sh pins for CPU machines. Every other
# version is pinned in pyproject.toml. Editable, so configs/ resolves next to the package.
# hadolint ignore=DL3013
RUN pip install torch==2.13.0 && pip install -e ".[test]"

CMD ["bash"]

# poselift for CPUs: video in, 3D skeletons out. Build from the repository root:
#     docker build -t poselift .
# Process a folder of videos (outputs go to videos/out on the host):
#     docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/videos:/data" poselift infer /data -o /data/out
# The lifting models ship inside the poselift package and BlazePose inside the mediapipe
# wheel: nothing is downloaded when the image is built (beyond the pip packages) or run.
FROM python:3.11-slim-bookworm

# OpenCV (imported by MediaPipe) links libGL and GLib even when no window is opened.
# Debian's versions are not pinned: a point release of bookworm removes the old ones.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GLOG_minloglevel=2 \
    HOME=/tmp

# torch's CPU build: the default wheel pulls several GB of CUDA libraries.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

WORKDIR /opt/poselift
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# The inference install (no test extra), at the versions poselift is tested with.
RUN pip install --no-cache-dir --extra-index-url "$TORCH_INDEX" -c constraints.txt . \
    && python -c "import poselift.lift.weights as w; assert w.list_models(), 'no shipped models'"

RUN useradd --create-home --uid 1000 poselift
USER 1000:1000
WORKDIR /data
ENTRYPOINT ["poselift"]
CMD ["--help"]

# PartScope web app.
#   docker build -t partscope .                       # CPU image
#   docker build -t partscope --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .   # CUDA
#   docker run --rm -p 7860:7860 -v partscope-data:/data partscope        # add --gpus all for CUDA
# Fitted objects and model weights live in the /data volume and survive restarts.
FROM python:3.11-slim

# torch comes from this index (the pin itself is in constraints.txt); the CPU
# index keeps the image small (PyPI's torch for Linux is the CUDA build, with
# gigabytes of NVIDIA libraries), a CUDA index makes it use the GPU. The
# README's first command takes the same index on a machine without a GPU.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    PARTSCOPE_CACHE_DIR=/data/cache \
    HF_HOME=/data/huggingface

RUN useradd --create-home --uid 1000 partscope \
 && mkdir -p /data \
 && chown partscope:partscope /data

WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --extra-index-url "${TORCH_INDEX}" -c constraints.txt -r requirements.txt

# FBX and .blend are read by Blender's Python module (core/blender.py), which
# pins numpy below 2: a virtualenv of its own and the X11/GL libraries it
# links (it draws nothing). --build-arg BLENDER=0 leaves it out (about 1 GB);
# such files are then refused with a sentence that says how to add it.
ARG BLENDER=1
RUN if [ "${BLENDER}" = "1" ]; then \
      apt-get update && apt-get install -y --no-install-recommends libx11-6 libxrender1 libxfixes3 libxi6 \
        libxkbcommon0 libsm6 libxext6 libgl1 && rm -rf /var/lib/apt/lists/* \
      && python -m venv /opt/blender && /opt/blender/bin/pip install bpy==5.0.1; fi
ENV PARTSCOPE_BLENDER_PYTHON=/opt/blender/bin/python

COPY app.py ./
COPY core ./core
COPY webapp ./webapp
COPY assets ./assets

USER partscope
VOLUME ["/data"]
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"
CMD ["python", "app.py"]

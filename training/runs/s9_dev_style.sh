#!/bin/bash
# dev pair, session 9: 10-min fine-tunes from the shipped default, differing only in --style-prob.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
P=${P:-0}
TAG=${TAG:-dev_style$P}
nice -n -10 poselift train --init default --retarget h36m --h36m-camera-share 0.5 \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob $P -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 1e-4 --lr-schedule time --lr-final 0.1 --time-limit 10 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/s9/$TAG.safetensors --checkpoint-dir /work/runs/s9/$TAG.ckpt "$@" >> /work/runs/s9/$TAG.log 2>&1

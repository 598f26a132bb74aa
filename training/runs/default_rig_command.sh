#!/bin/bash
# poselift 'default', issue 9, session 8: fine-tuned from the shipped retargeted 'default' (105.1 min,
# default_retarget_command.sh) with a share of the Human3.6M chunks seen through that subject's
# real cameras (--h36m-camera-share; 0 = the unchanged recipe, for the dev baseline).
# SHARE, MIN and TAG choose the run. Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
SHARE=${SHARE:-0.5}
MIN=${MIN:-44}
TAG=${TAG:-default_rig}
nice -n -10 poselift train --init default --retarget h36m --h36m-camera-share $SHARE \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 1e-4 --lr-schedule time --lr-final 0.1 --time-limit $MIN --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/s8/$TAG.safetensors --checkpoint-dir /work/runs/s8/$TAG.ckpt "$@" >> /work/runs/s8/$TAG.log 2>&1

#!/bin/bash
# poselift 'default' model, issue 9 recipe. Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 --lr-schedule time --lr-final 0.01 --time-limit 108 --velocity-weight 2 --threads 2 --compile \
  --no-progress -o /work/runs/default.safetensors --checkpoint-dir /work/runs/default.ckpt "$@" >> /work/runs/default.log 2>&1

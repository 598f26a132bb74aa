#!/bin/bash
# poselift 'causal', issue 9 recipe: fine-tuned from the shipped issue-9 'default' (108.1 min) with causal convolutions.
# Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --causal --init default --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 3e-4 --lr-schedule time --lr-final 0.03 --time-limit 41 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/causal.safetensors --checkpoint-dir /work/runs/causal.ckpt "$@" >> /work/runs/causal.log 2>&1

#!/bin/bash
# poselift 'default', issue 9, second run: fine-tuned 41 min from the 108.1-min run (default_issue9_command.sh)
# with every training clip rescaled to Human3.6M's leg length (--leg-length 0.897: the frame-weighted mix
# averaged 0.854 m, so the model's bodies came out small); otherwise the same data, style, noise and loss.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --init default --leg-length 0.897 \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 1e-4 --lr-schedule time --lr-final 0.1 --time-limit 41 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/default_size.safetensors --checkpoint-dir /work/runs/default_size.ckpt "$@" >> /work/runs/default_size.log 2>&1

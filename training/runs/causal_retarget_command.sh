#!/bin/bash
# poselift 'causal', issue 9, recipe 3: fine-tuned 25 min from the shipped retargeted 'default'
# (105.1 min, default_retarget_command.sh) with causal convolutions and the same data recipe.
# Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --causal --init default --retarget h36m --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 3e-4 --lr-schedule time --lr-final 0.03 --time-limit 25 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/s6/causal_rt.safetensors --checkpoint-dir /work/runs/s6/causal_rt.ckpt "$@" >> /work/runs/s6/causal_rt.log 2>&1

#!/bin/bash
# poselift 'default' candidate, issue 9, session 9: from scratch with the retargeted recipe of
# default_retarget_command.sh plus three inputs measured in 10-min dev runs this session:
# --h36m-camera-share 0.5 (session 8), --pose-balance 0.5 (rare poses drawn more often) and
# --keypoint-definition-input (the network told whether its 2D is detector-style or joint centres).
# 150 min in all; the checkpoint lives in training/checkpoints/default_v3 so a session that ends
# mid-run can commit it. Resume: same command with --resume added.
# Outcome (session 10): 88 epochs in 150.1 min (115-s epochs on that machine), val 62.8 mm; not shipped:
# S8 noisy P1 61.9 vs 61.6 for the shipped default, multi-view cross-view 131.0 vs 117.1 (default_v3_* records).
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --retarget h36m --h36m-camera-share 0.5 --pose-balance 0.5 --keypoint-definition-input \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 --lr-schedule time --lr-final 0.01 --time-limit 150 --velocity-weight 2 --threads 2 --compile \
  --no-progress -o /work/runs/s9/default_v3.safetensors --checkpoint-dir training/checkpoints/default_v3 "$@" \
  >> /work/runs/s9/default_v3.log 2>&1

#!/bin/bash
# poselift 'trajectory', issue 9, recipe 3: backbone from the retargeted 'default' (105.1 min; never saw S8),
# fresh output layer (one root joint), trained 41 min on the default's data on the Human3.6M skeleton
# (--retarget h36m), its cameras, detector noise and BlazePose keypoint style; S8 held out.
# Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --trajectory --init /work/runs/s7/default_105.safetensors --retarget h36m \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 5e-4 --lr-schedule time --lr-final 0.03 --time-limit 41 --threads 2 \
  --no-progress -o /work/runs/s7/trajectory.safetensors --checkpoint-dir /work/runs/s7/trajectory.ckpt "$@" >> /work/runs/s7/trajectory.log 2>&1

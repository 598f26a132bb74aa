#!/bin/bash
# poselift 'causal', issue 9, session 8: fine-tuned 19.5 min from the shipped 'causal' (130.2 min:
# causal_retarget_command.sh on default_retarget_command.sh) with the recipe of default_rig_command.sh
# (half of the Human3.6M chunks through that subject's real cameras). 130.2 + 19.5 stays within 150 min.
# Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --causal --init causal --retarget h36m --h36m-camera-share 0.5 \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 1e-4 --lr-schedule time --lr-final 0.1 --time-limit 19.5 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/s8/causal_rig.safetensors --checkpoint-dir /work/runs/s8/causal_rig.ckpt "$@" >> /work/runs/s8/causal_rig.log 2>&1

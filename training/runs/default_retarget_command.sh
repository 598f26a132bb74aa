#!/bin/bash
# poselift 'default', issue 9, recipe 3: from scratch, every clip put on the Human3.6M skeleton
# (--retarget h36m: bone lengths replaced, directions kept), otherwise the recipe of
# default_issue9_command.sh. Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --retarget h36m \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 --lr-schedule time --lr-final 0.01 --time-limit 105 --velocity-weight 2 --threads 2 --compile \
  --no-progress -o /work/runs/s6/default_rt.safetensors --checkpoint-dir /work/runs/s6/default_rt.ckpt "$@" >> /work/runs/s6/default_rt.log 2>&1

#!/bin/bash
# poselift 'default', issue 9 recipe, second run: resumes the 108.1-min run (default_issue9_command.sh) from its
# last checkpoint up to 149 min in all. Same data and recipe; --time-limit counts the whole run, so the time
# schedule restarts at the learning rate it gives at 108/149 of the budget (3.6e-5) and ends at its tail (1e-5).
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob 0.75 -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 --lr-schedule time --lr-final 0.01 --time-limit 149 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/default.safetensors --checkpoint-dir /work/runs/default.ckpt --resume "$@" >> /work/runs/default_resume.log 2>&1

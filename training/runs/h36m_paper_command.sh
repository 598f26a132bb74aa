#!/bin/bash
# poselift 'h36m', paper protocol (issue 9): the dev-run recipe (h36m_issue9_command.sh) with S8 added to training.
# Fine-tuned from the shipped issue-9 'default' (108.1 min) on Human3.6M S1,S5,S6,S7,S8 through the 4 Human3.6M
# cameras with clean 2D; S8 validates in-sample (the paper trains on every subject it has; S9/S11 are not shared).
# Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
nice -n -10 poselift train --init default --dataset h36m --subjects-train S1,S5,S6,S7,S8 --subjects-val S8 --cameras h36m --noise clean \
  -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 3e-4 --lr-schedule time --lr-final 0.03 --time-limit 41 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/h36m_paper.safetensors --checkpoint-dir /work/runs/h36m_paper.ckpt "$@" >> /work/runs/h36m_paper.log 2>&1

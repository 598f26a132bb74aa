#!/bin/bash
# poselift 'h36m' dev run, issue 9, recipe 4: the retargeted 'default' (105.1 min; never saw S8) widened to
# $CH channels (function-preserving, train --init with more channels), fine-tuned on Human3.6M S1,S5,S6,S7
# through the 4 Human3.6M cameras with clean 2D; S8 held out. SUBJECTS=S1,S5,S6,S7,S8 gives the paper run.
# Resume: same command with --resume added.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
CH=${CH:-512}
SUBJECTS=${SUBJECTS:-S1,S5,S6,S7}
TAG=${TAG:-h36m_dev}
nice -n -10 poselift train --init /work/runs/s7/default_105.safetensors --dataset h36m --subjects-train $SUBJECTS \
  --subjects-val S8 --cameras h36m --noise clean \
  -arc 3,3,3,3 -ch $CH -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 3e-4 --lr-schedule time --lr-final 0.03 --time-limit 41 --velocity-weight 2 --threads 2 \
  --no-progress -o /work/runs/s7/$TAG.safetensors --checkpoint-dir /work/runs/s7/$TAG.ckpt "$@" >> /work/runs/s7/$TAG.log 2>&1

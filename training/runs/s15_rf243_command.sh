#!/bin/bash
# Issue 9, session 15: does a 243-frame receptive field pay at equal compute? Two from-scratch dev runs
# of the Human3.6M protocol (train S1,S5,S6,S7 through the 4 Human3.6M cameras, clean 2D; S8 held out),
# the same wall time each (MIN, default 30), one after the other on both cores:
#   ARC=3,3,3,3   -b 64 --chunk 32  --compile   (the shipped models' shape: 293 ms per step, 6983 frames/s)
#   ARC=3,3,3,3,3 -b 16 --chunk 128             (243 frames: 348 ms per step, 5887 frames/s; at chunk 32 it
#                                                 would be 930 ms, 2201 frames/s)
# (step figures: benchmarks/train_step.py --threads 2 --dropout 0 [--compile] on an idle machine, one run each).
# Score: poselift evaluate --dataset h36m-expmap --subjects S8 --input gt --model <run>.safetensors
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
MIN=${MIN:-30}
RUNS=${RUNS:-/work/runs/s15}
mkdir -p $RUNS
run() {
  TAG=$1; shift
  nice -n -10 poselift train --dataset h36m --subjects-train S1,S5,S6,S7 --subjects-val S8 --cameras h36m \
    --noise clean -ch 256 -drop 0 --epoch-size 12800 -e 100000 --lr-schedule time --lr-final 0.01 \
    --time-limit $MIN --velocity-weight 2 --threads 2 --no-progress \
    -o $RUNS/$TAG.safetensors --checkpoint-dir $RUNS/$TAG.ckpt "$@" >> $RUNS/$TAG.log 2>&1
}
run rf81 -arc 3,3,3,3 -b 64 --chunk 32 --compile
run rf243 -arc 3,3,3,3,3 -b 16 --chunk 128

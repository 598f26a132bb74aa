#!/bin/bash
# Issue 9, session 15 dev trio: 10-min fine-tunes of the shipped default (session 14's file; the same weights
# ship today with a new card) with default_balance_command.sh's recipe, one change each:
#   dev_base   unchanged;   dev_h36m   --dataset h36m (Human3.6M only);   dev_clean   --noise clean (no detector
#   noise, no keypoint style). Scored with poselift evaluate ... --subjects S8 --input noisy and
#   benchmarks/multiview.py (records s15_dev_*). Not shipped.
cd /work/main
I=${I:-/work/main/src/poselift/lift/weights/default.safetensors}
MIN=10 RUNS=/work/runs/s15 TAG=dev_base INIT=$I bash training/runs/default_balance_command.sh
MIN=10 RUNS=/work/runs/s15 TAG=dev_h36m INIT=$I bash training/runs/default_balance_command.sh --dataset h36m
MIN=10 RUNS=/work/runs/s15 TAG=dev_clean INIT=$I bash training/runs/default_balance_command.sh --noise clean

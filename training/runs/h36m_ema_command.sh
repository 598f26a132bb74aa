#!/bin/bash
# poselift 'h36m' dev run, issue 9, session 16 (not shipped): session 12's 41-min Human3.6M stage (h36m_balance_command.sh) with a weight average (--ema 0.999)
# from the same 108.1-min 'default' start (commit 462cca5, sha256 0d1355855da3...; never saw S8) with pose-balanced draws
# (--pose-balance 0.5) and --compile. Human3.6M cameras, clean 2D.
#   dev run (S8 held out):        TAG=h36m_ema_dev bash training/runs/h36m_ema_command.sh
#   paper protocol (S8 trained):  SUBJECTS=S1,S5,S6,S7,S8 TAG=h36m_ema_paper bash training/runs/h36m_ema_command.sh
# Resume: same command with --resume added.
# Result (session 16): 48 epochs in 41.1 min (session 12: 63); S8 --input gt P1 44.90 mm averaged, 44.84 mm live
# (training/runs/s16_h36m_ema_dev_*); the shipped h36m's dev run: 43.81. Not shipped.
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
INIT=/work/runs/s12/default_108.safetensors
if [ ! -f "$INIT" ]; then
  mkdir -p "$(dirname "$INIT")"
  git show 462cca5:src/poselift/lift/weights/default.safetensors > "$INIT"
  git show 462cca5:src/poselift/lift/weights/default.json > "${INIT%.safetensors}.json"
fi
SUBJECTS=${SUBJECTS:-S1,S5,S6,S7}
TAG=${TAG:-h36m_ema_dev}
nice -n -10 poselift train --init "$INIT" --dataset h36m --subjects-train $SUBJECTS --subjects-val S8 \
  --cameras h36m --noise clean --pose-balance 0.5 \
  -arc 3,3,3,3 -ch 256 -drop 0 --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 3e-4 --lr-schedule time --lr-final 0.03 --time-limit 41 --velocity-weight 2 --threads 2 --compile --ema 0.999 \
  --no-progress -o /work/runs/s16/$TAG.safetensors --checkpoint-dir /work/runs/s16/$TAG.ckpt "$@" >> /work/runs/s16/$TAG.log 2>&1

#!/bin/bash
# poselift 'default', issue 9, session 11: the session-8 fine-tune (default_rig_command.sh) repeated from the
# same 105.1-min start (default_retarget_command.sh; the model of commit 64f5152, sha256 f381746e...) with
# pose-balanced chunk draws (--pose-balance 0.5) and torch.compile, for the 44.5 min that keep the model
# within 150 min in total. Session 9's 10-min dev run of the balance on top of the shipped default
# (s9_dev_balance.sh) was better on every multi-view column and on S8.
# Resume: same command with --resume added. STYLE, RUNS, TAG and INIT select a variant (default_style25_command.sh).
. /work/venv/bin/activate
export OMP_NUM_THREADS=2
cd /work/main
MIN=${MIN:-44.5}
STYLE=${STYLE:-0.75}
RUNS=${RUNS:-/work/runs/s11}
TAG=${TAG:-default_balance}
INIT=${INIT:-$RUNS/default_rt.safetensors}
if [ ! -f "$INIT" ]; then   # the 105.1-min start is the shipped default of commit 64f5152
  mkdir -p "$(dirname "$INIT")"
  git show 64f5152:src/poselift/lift/weights/default.safetensors > "$INIT"
  git show 64f5152:src/poselift/lift/weights/default.json > "${INIT%.safetensors}.json"
fi
mkdir -p $RUNS
nice -n -10 poselift train --init $INIT --retarget h36m --h36m-camera-share 0.5 \
  --dataset all --subjects-val S8 --cameras virtual --noise detector \
  --keypoint-style blazepose --style-prob $STYLE -arc 3,3,3,3 -ch 256 -drop 0 --pose-balance 0.5 \
  --epoch-size 12800 -b 64 --chunk 32 \
  -e 100000 -lr 1e-4 --lr-schedule time --lr-final 0.1 --time-limit $MIN --velocity-weight 2 --threads 2 \
  --compile --no-progress -o $RUNS/$TAG.safetensors --checkpoint-dir $RUNS/$TAG.ckpt "$@" >> $RUNS/$TAG.log 2>&1

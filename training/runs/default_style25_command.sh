#!/bin/bash
# poselift 'default' candidate, issue 9, session 12: session 11's fine-tune (default_balance_command.sh) from
# the same 105.1-min start (commit 64f5152, sha256 f381746e...) with the BlazePose keypoint-style share
# lowered from 0.75 to 0.25. Session 9's 10-min dev runs: style share 0 gave the best multi-view cross-view
# (111.0 against 120.6 for the control) and S8 noisy P1 (59.6 against 60.2), at +1.3 deg of |knee|; the pose
# balance gave the best P2 and |knee|. This combines the two within the same 44.5 min (150 min in total).
# Resume: same command with --resume added.
STYLE=${STYLE:-0.25} RUNS=${RUNS:-/work/runs/s12} TAG=${TAG:-default_style25} \
  exec bash "$(dirname "$0")/default_balance_command.sh" "$@"

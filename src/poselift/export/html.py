"""A self-contained interactive HTML viewer for a result (``--export html``).

One file, no network: the data is embedded as compact JSON (3D in millimetres, 2D in
pixels, integers; invalid frames are ``null``) and drawn by a small inline script on a
``<canvas>`` with its own perspective projection. The page plays the skeletons at the
source frame rate (requestAnimationFrame and elapsed time), orbits on mouse drag, zooms
on the wheel, pauses on the button or the space bar, scrubs with a slider and shows the
2D keypoints in image coordinates in a panel that can be toggled (button or ``k``).
Under the scrubber each step shows its source video frame and time (``frame_index``,
``time_s``), so a clip analysed from ``--start`` keeps the video's numbering.
People are labelled ``P0``, ``P1``... (their index in the npz) in the colours of the
rendered mp4 (light = left limbs, dark = right limbs, explained by a legend); the
keyboard and mouse controls are listed on the page.

With ``poses_world`` (``--world``) the scene is the world frame: Y up, the floor at
Y = 0, the same floor and the same people positions as the mp4; without it, the camera
frame with a floor under the lowest joints.

For tests and scripting the page exposes ``window.poseliftViewer`` (``frame``,
``playing``, ``numFrames``, ``errors``) and mirrors it in a hidden
``<pre id="status" hidden>`` element (not shown on the page).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from poselift.fsutil import atomic_write


def _frames_or_none(a: np.ndarray, ok: np.ndarray, scale: float) -> list:
    """[T, J, C] floats -> per frame a flat list of rounded ints, or None where not ``ok``."""
    out: list = []
    flat = np.round(np.nan_to_num(a, nan=0.0) * scale).astype(np.int64).reshape(len(a), -1)
    for t in range(len(a)):
        out.append(flat[t].tolist() if ok[t] else None)
    return out


def viewer_data(arrays: Mapping[str, Any], title: str = "poselift") -> dict:
    """The JSON document the page embeds (also handy for tests).

    ``people[p]["p3"]`` holds per frame the joints in millimetres in the viewer's frame:
    x right, y down, z away from the camera. That is the camera frame itself, or, with
    ``poses_world``, the world frame turned to match (``(X, -Y, -Z)`` of the world's X
    right, Y up, Z toward the camera), so the page draws both the same way; ``world``
    says which, and ``floorY`` is the floor's y there (0 in the world frame).
    """
    from poselift.render._draw import limb_shades, person_colors

    poses = np.asarray(arrays["poses_3d"], dtype=np.float64)  # [P,T,J,3]
    traj = np.asarray(arrays.get("trajectory", np.zeros(poses.shape[:2] + (3,))), dtype=np.float64)
    kp = np.asarray(arrays["keypoints_2d"], dtype=np.float64)  # [P,T,J,2]
    p_count, t_count, j_count = poses.shape[:3]
    valid = np.asarray(arrays.get("valid", np.ones((p_count, t_count), bool)), dtype=bool)
    in_world = "poses_world" in arrays
    if in_world:
        world = np.asarray(arrays["poses_world"], dtype=np.float64) * np.array([1.0, -1.0, -1.0])
    else:
        traj = np.where(np.isfinite(traj), traj, 0.0)
        world = poses + traj[:, :, None, :]  # camera frame, metres
    ok3 = valid & np.isfinite(world).all(axis=(2, 3))
    ok2 = valid & np.isfinite(kp).all(axis=(2, 3))
    fps = float(arrays.get("fps", 0.0) or 0.0)
    if not np.isfinite(fps) or fps <= 0:
        fps = 25.0
    size = [int(v) for v in np.asarray(arrays.get("image_size", [0, 0])).ravel()[:2]]
    if size[0] <= 0 or size[1] <= 0:  # fall back to the keypoints' extent
        pts = kp[ok2] if ok2.any() else np.zeros((1, j_count, 2))
        size = [int(max(1, np.ceil(pts[..., 0].max()))), int(max(1, np.ceil(pts[..., 1].max())))]
    names = [str(n) for n in arrays.get("joint_names", [str(j) for j in range(j_count)])]
    parents = [int(p) for p in arrays["parents"]]
    side = [1 if n.startswith("left") else (-1 if n.startswith("right") else 0) for n in names]

    # Scene framing: floor = the world's Y = 0, else the lowest point (largest y); centre = mean root.
    if ok3.any():
        pts = world[ok3]  # [N,J,3]
        floor_y = 0.0 if in_world else float(np.percentile(pts[..., 1].max(axis=1), 98))
        roots = pts[:, 0, :]
        centre = roots.mean(axis=0)
        # the middle 80 % of root positions: one stray frame must not push the view far out
        spread = float((np.percentile(roots[:, [0, 2]], 90, axis=0)
                        - np.percentile(roots[:, [0, 2]], 10, axis=0)).max()) if len(roots) > 1 else 0.0
    else:
        floor_y, centre, spread = (0.0 if in_world else 1.0), np.zeros(3), 0.0
    # Where the video's camera is, in the page's y-up space (x, -y, z of the embedded frame).
    if in_world and "camera_to_world" in arrays:
        c2w = np.asarray(arrays["camera_to_world"], dtype=np.float64)
        eye = c2w[:3, 3] * np.array([1.0, 1.0, -1.0])
        fwd = c2w[:3, 2] * np.array([1.0, 1.0, -1.0])
    else:
        eye, fwd = np.zeros(3), np.array([0.0, 0.0, 1.0])
    focal = float(np.asarray(arrays.get("focal_length", 0.0)))
    fov = 2 * np.arctan(size[1] / 2 / focal) if focal > 0 else 0.9
    camera = {"eye": [round(float(v), 4) for v in eye], "yaw": round(float(np.arctan2(-fwd[0], fwd[2])), 4),
              "pitch": round(float(np.arcsin(np.clip(-fwd[1], -1, 1))), 4), "fov": round(float(fov), 4)}
    # The mp4's colours: (centre, left, right) shades of each person's base colour.
    shades = [[f"rgb({c[0]},{c[1]},{c[2]})" for c in limb_shades(b)] for b in person_colors(p_count)]
    # Each step's source frame and time (the video's clock), shown under the scrubber.
    frame_index = (np.asarray(arrays["frame_index"], np.int64).ravel() if "frame_index" in arrays
                   else np.arange(t_count))
    times = (np.asarray(arrays["time_s"], np.float64).ravel() if "time_s" in arrays
             else frame_index / fps)
    return {
        "title": title,
        "fps": fps,
        "numFrames": int(t_count),
        "frameIndex": [int(v) for v in frame_index],
        "timeS": [round(float(v), 4) if np.isfinite(v) else None for v in times],
        "numPeople": int(p_count),
        "imageSize": size,
        "jointNames": names,
        "parents": parents,
        "side": side,
        "world": in_world,
        "floorY": round(floor_y, 3),
        "centre": [round(float(v), 3) for v in centre],
        "spread": round(spread, 3),
        "labels": [f"P{p}" for p in range(p_count)],
        "camera": camera,
        "colors": shades,
        "people": [{"p3": _frames_or_none(world[p], ok3[p], 1000.0),
                    "p2": _frames_or_none(kp[p], ok2[p], 1.0)} for p in range(p_count)],
    }


def write_html(path: str | Path, arrays: Mapping[str, Any], title: str = "poselift viewer") -> Path:
    """Write the viewer for the npz contract's ``arrays`` to ``path`` (atomically)."""
    doc = viewer_data(arrays, title)
    blob = json.dumps(doc, separators=(",", ":")).replace("</", "<\\/")
    page = (_PAGE.replace("@@TITLE@@", html.escape(title))
            .replace("@@DATA@@", blob))
    return atomic_write(Path(path), lambda p: p.write_text(page, encoding="utf-8"))


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@TITLE@@</title>
<style>
html,body{margin:0;height:100%;background:#f4f4f4;color:#333;font:13px system-ui,sans-serif;overflow:hidden}
#bar{display:flex;gap:8px;align-items:center;padding:6px 10px;background:#2a2e35;color:#eee;height:28px}
#bar button{background:#3b414b;color:#eee;border:1px solid #555;border-radius:4px;padding:3px 10px;cursor:pointer}
#scrub{flex:1}
#title{font-weight:600;margin-right:6px;white-space:nowrap}
#time{font-variant-numeric:tabular-nums;white-space:nowrap;min-width:130px}
#view{position:absolute;top:40px;left:0;right:0;bottom:0}
#c3{width:100%;height:100%;display:block;cursor:grab}
#c2{position:absolute;top:10px;right:10px;background:#fff;border:1px solid #bbb}
.box{position:absolute;left:10px;background:rgba(255,255,255,0.85);border:1px solid #ccc;border-radius:4px;
  padding:6px 9px;font-size:12px;line-height:1.5}
#legend{top:10px}
#legend .sw{display:inline-block;width:18px;height:4px;vertical-align:middle;margin:0 3px 0 8px;border-radius:2px}
#legend b{display:inline-block;min-width:26px}
#help{bottom:10px}
#help kbd{font:11px ui-monospace,monospace;background:#eee;border:1px solid #bbb;border-radius:3px;padding:0 3px}
#help.hidden ul{display:none}
#help ul{margin:2px 0 0 0;padding-left:16px}
#status{display:none}
</style></head>
<body>
<div id="bar"><span id="title">@@TITLE@@</span>
<button id="play" title="play / pause (space)">Pause</button>
<input id="scrub" type="range" min="0" max="0" value="0" step="1" aria-label="frame">
<span id="time"></span>
<button id="camview" title="look from the video's camera (c)">Camera view</button>
<button id="toggle2d" title="2D keypoints panel (k)">2D</button></div>
<div id="view"><canvas id="c3"></canvas><canvas id="c2"></canvas>
<div id="legend" class="box"></div>
<div id="help" class="box"><b>Controls</b> (<kbd>h</kbd> hides this)
<ul>
<li>Mouse: drag to orbit, wheel to zoom, double-click to reset the view</li>
<li><kbd>Space</kbd> play / pause &middot; <kbd>&larr;</kbd> <kbd>&rarr;</kbd> previous / next frame &middot;
<kbd>Home</kbd> <kbd>End</kbd> first / last frame</li>
<li><kbd>c</kbd> camera view (from the video's camera) &middot; <kbd>r</kbd> reset view &middot;
<kbd>f</kbd> follow the people &middot; <kbd>k</kbd> 2D keypoints panel</li>
</ul></div>
<pre id="status" hidden>loading</pre></div>
<script type="application/json" id="poselift-data">@@DATA@@</script>
<script>
(function(){
"use strict";
var errors=[];
var statusEl=document.getElementById("status");
function showStatus(){
  var v=window.poseliftViewer||{};
  v.errors=errors.length;
  statusEl.textContent="frame="+v.frame+" playing="+v.playing+" numFrames="+v.numFrames+
    " errors="+errors.length+(errors.length?"\n"+errors.join("\n"):"");
}
window.onerror=function(msg,src,line,col){errors.push(String(msg)+" @"+line+":"+col);showStatus();};
var D=JSON.parse(document.getElementById("poselift-data").textContent);
var T=D.numFrames, P=D.numPeople, J=D.parents.length, fps=D.fps;
var V=window.poseliftViewer={frame:0,playing:T>1,numFrames:T,errors:0,world:D.world};
function colour(p,side){
  var c=D.colors[p%D.colors.length];
  return side>0?c[1]:(side<0?c[2]:c[0]);
}
var HEAD=D.jointNames.indexOf("head"); if(HEAD<0) HEAD=J-1;
// page space (y up, z away from the camera) from the embedded frame (y down), metres
var FY=-D.floorY, C=[D.centre[0],-D.centre[1],D.centre[2]];
var home={target:[C[0],FY+0.9,C[2]], yaw:0.35, pitch:0.3, dist:Math.max(3.2,2.2+1.6*D.spread), fov:0.9};
var target, yaw, pitch, dist, FOV, follow=false;
function resetView(){target=home.target.slice(); yaw=home.yaw; pitch=home.pitch; dist=home.dist; FOV=home.fov;}
function cameraView(){
  // eye at the video's camera, looking along its axis, with its field of view
  var cam=D.camera; yaw=cam.yaw; pitch=cam.pitch; FOV=cam.fov; follow=false;
  dist=Math.max(1,Math.hypot(C[0]-cam.eye[0],FY+0.9-cam.eye[1],C[2]-cam.eye[2]));
  var cp=Math.cos(pitch);
  target=[cam.eye[0]-dist*Math.sin(yaw)*cp, cam.eye[1]-dist*Math.sin(pitch), cam.eye[2]+dist*Math.cos(yaw)*cp];
}
resetView();
var c3=document.getElementById("c3"), g=c3.getContext("2d");
var c2=document.getElementById("c2"), g2=c2.getContext("2d");
var show2d=true;
var scrub=document.getElementById("scrub"), playBtn=document.getElementById("play");
var timeEl=document.getElementById("time");
scrub.max=String(Math.max(0,T-1));
(function legend(){
  var h="";
  for(var p=0;p<P;p++){
    h+="<div><b style=\"color:"+colour(p,0)+"\">"+D.labels[p]+"</b>"+
       "<span class=\"sw\" style=\"background:"+colour(p,1)+"\"></span>left"+
       "<span class=\"sw\" style=\"background:"+colour(p,-1)+"\"></span>right</div>";
  }
  h+="<div>"+(D.world?"world frame: y up, floor at y = 0, z toward the camera":
     "camera frame (no --world): floor under the lowest joints")+"</div>";
  h+="<div>grid: 0.5 m squares, darker lines every 1 m</div>";
  document.getElementById("legend").innerHTML=h;
})();
function resize(){
  var r=c3.getBoundingClientRect(), dpr=window.devicePixelRatio||1;
  c3.width=Math.max(1,Math.round(r.width*dpr)); c3.height=Math.max(1,Math.round(r.height*dpr));
  var w=Math.max(120,Math.round(r.width*0.3)), s=w/D.imageSize[0];
  c2.width=w; c2.height=Math.max(1,Math.round(D.imageSize[1]*s));
  c2.style.display=show2d?"block":"none";
}
window.addEventListener("resize",function(){resize();draw();});
function basis(){
  var cp=Math.cos(pitch), eye=[target[0]+dist*Math.sin(yaw)*cp, target[1]+dist*Math.sin(pitch),
                             target[2]-dist*Math.cos(yaw)*cp];
  var f=[target[0]-eye[0],target[1]-eye[1],target[2]-eye[2]], n=Math.hypot(f[0],f[1],f[2]);
  f=[f[0]/n,f[1]/n,f[2]/n];
  var r=[f[2],0,-f[0]], rn=Math.hypot(r[0],r[2])||1; r=[r[0]/rn,0,r[2]/rn];  // up x f
  var u=[f[1]*r[2]-f[2]*r[1], f[2]*r[0]-f[0]*r[2], f[0]*r[1]-f[1]*r[0]];     // f x r
  return {e:eye,f:f,r:r,u:u};
}
function project(B,x,y,z){
  var dx=x-B.e[0], dy=y-B.e[1], dz=z-B.e[2];
  var zc=dx*B.f[0]+dy*B.f[1]+dz*B.f[2];
  if(zc<0.05) return null;
  var F=0.5*c3.height/Math.tan(FOV/2);
  return [c3.width/2+F*(dx*B.r[0]+dy*B.r[1]+dz*B.r[2])/zc,
          c3.height/2-F*(dx*B.u[0]+dy*B.u[1]+dz*B.u[2])/zc, zc];
}
function drawGrid(B){
  var half=Math.max(2,Math.ceil(D.spread/2+1.5)), step=0.5, cx=Math.round(target[0]),
      cz=Math.round(target[2]);
  g.lineWidth=1;
  for(var i=-half/step;i<=half/step;i++){
    var major=(i%2===0);
    g.strokeStyle=major?"#b4b4b4":"#d8d8d8";
    line3(B,cx+i*step,FY,cz-half,cx+i*step,FY,cz+half);
    line3(B,cx-half,FY,cz+i*step,cx+half,FY,cz+i*step);
  }
  // labelled axes at a grid crossing: x red, y (up) blue, z green (toward the camera in the world frame)
  var dpr=window.devicePixelRatio||1, o=[cx,FY,cz];
  var axes=[[[0.5,0,0],"#dc3c3c","x"],[[0,0.5,0],"#3c5adc",D.world?"y up":"up"],
            [[0,0,D.world?-0.5:0.5],"#3caa3c",D.world?"z":"depth"]];
  g.font=(12*dpr)+"px system-ui,sans-serif"; g.lineWidth=2*dpr;
  for(var k=0;k<3;k++){
    var a=axes[k], e=[o[0]+a[0][0],o[1]+a[0][1],o[2]+a[0][2]];
    g.strokeStyle=a[1]; line3(B,o[0],o[1],o[2],e[0],e[1],e[2]);
    var q=project(B,e[0],e[1],e[2]); if(q){g.fillStyle=a[1]; g.fillText(a[2],q[0]+3,q[1]-3);}
  }
  // metre ticks along the x axis line of the grid
  g.fillStyle="#777";
  for(var m=-half;m<=half;m++){
    var t=project(B,cx+m,FY,cz); if(t&&m%1===0) g.fillText((m>=0?"":"")+(m)+" m",t[0]+2,t[1]+12*dpr);
  }
}
function line3(B,x0,y0,z0,x1,y1,z1){  // clipped against the near plane by subdividing
  var n=8, prev=null;
  g.beginPath();
  for(var k=0;k<=n;k++){
    var t=k/n, q=project(B,x0+(x1-x0)*t,y0+(y1-y0)*t,z0+(z1-z0)*t);
    if(q&&prev) g.lineTo(q[0],q[1]); else if(q) g.moveTo(q[0],q[1]);
    prev=q;
  }
  g.stroke();
}
function followTarget(f){
  var n=0, x=0, z=0;
  for(var p=0;p<P;p++){var a=D.people[p].p3[f]; if(a){x+=a[0]/1000; z+=a[2]/1000; n++;}}
  if(n){target[0]+=0.15*(x/n-target[0]); target[2]+=0.15*(z/n-target[2]);}
}
function draw(){
  var f=V.frame, dpr=window.devicePixelRatio||1;
  if(follow) followTarget(f);
  var B=basis();
  g.fillStyle="#f4f4f4"; g.fillRect(0,0,c3.width,c3.height);
  drawGrid(B);
  var segs=[], dots=[], tags=[];
  for(var p=0;p<P;p++){
    var a=D.people[p].p3[f];
    if(!a) continue;
    var q=[];
    for(var j=0;j<J;j++) q.push(project(B,a[3*j]/1000,-a[3*j+1]/1000,a[3*j+2]/1000));
    for(j=0;j<J;j++){
      var pa=D.parents[j];
      if(q[j]) dots.push([q[j],p,D.side[j]]);
      if(pa<0||!q[j]||!q[pa]) continue;
      segs.push([q[pa],q[j],p,D.side[j]]);
    }
    // a shadow of the root on the floor
    var s=project(B,a[0]/1000,FY,a[2]/1000);
    if(s){g.fillStyle="rgba(0,0,0,0.15)";g.beginPath();g.arc(s[0],s[1],Math.max(2,30*dpr/s[2]),0,7);g.fill();}
    var top=project(B,a[3*HEAD]/1000,-a[3*HEAD+1]/1000+0.22,a[3*HEAD+2]/1000);
    if(top) tags.push([top,p]);
  }
  segs.sort(function(x,y){return (y[0][2]+y[1][2])-(x[0][2]+x[1][2]);});
  g.lineCap="round";
  for(var i=0;i<segs.length;i++){
    var sg=segs[i];
    g.strokeStyle=colour(sg[2],sg[3]);
    g.lineWidth=Math.max(1.5,14*dpr/((sg[0][2]+sg[1][2])/2));
    g.beginPath(); g.moveTo(sg[0][0],sg[0][1]); g.lineTo(sg[1][0],sg[1][1]); g.stroke();
  }
  for(i=0;i<dots.length;i++){
    var d=dots[i];
    g.fillStyle=colour(d[1],0);
    g.beginPath(); g.arc(d[0][0],d[0][1],Math.max(1.5,12*dpr/d[0][2]),0,7); g.fill();
  }
  g.font="bold "+(14*dpr)+"px system-ui,sans-serif"; g.textAlign="center";
  for(i=0;i<tags.length;i++){
    g.lineWidth=3*dpr; g.strokeStyle="#fff"; g.strokeText(D.labels[tags[i][1]],tags[i][0][0],tags[i][0][1]);
    g.fillStyle=colour(tags[i][1],0); g.fillText(D.labels[tags[i][1]],tags[i][0][0],tags[i][0][1]);
  }
  g.textAlign="start";
  if(show2d) draw2d(f);
  scrub.value=String(f);
  var ts=D.timeS[f];
  timeEl.textContent="frame "+D.frameIndex[f]+"  "+(ts===null?"":ts.toFixed(2)+" s")+"  ("+(f+1)+"/"+T+")";
  showStatus();
}
function draw2d(f){
  var s=c2.width/D.imageSize[0];
  g2.fillStyle="#fff"; g2.fillRect(0,0,c2.width,c2.height);
  g2.lineWidth=2; g2.lineCap="round"; g2.font="bold 12px system-ui,sans-serif"; g2.textAlign="center";
  for(var p=0;p<P;p++){
    var a=D.people[p].p2[f];
    if(!a) continue;
    var top=1e9;
    for(var j=0;j<J;j++){
      top=Math.min(top,a[2*j+1]*s);
      var pa=D.parents[j];
      if(pa<0) continue;
      g2.strokeStyle=colour(p,D.side[j]);
      g2.beginPath(); g2.moveTo(a[2*pa]*s,a[2*pa+1]*s); g2.lineTo(a[2*j]*s,a[2*j+1]*s); g2.stroke();
    }
    g2.fillStyle=colour(p,0); g2.fillText(D.labels[p],a[2*HEAD]*s,Math.max(12,top-4));
  }
  g2.textAlign="start";
}
// playback: the frame shown is the one whose time (index / fps) has been reached
var clock=0, last=null;
function setPlaying(on){
  V.playing=!!on&&T>1; last=null; playBtn.textContent=V.playing?"Pause":"Play"; showStatus();
}
function seek(f){V.frame=Math.max(0,Math.min(T-1,f)); clock=V.frame/fps; last=null; draw();}
function advance(now){
  if(V.playing){
    if(last!==null) clock+=Math.max(0,now-last)/1000;
    last=now;
    var dur=T/fps;
    if(clock>=dur) clock=clock%dur;
    var f=Math.min(T-1,Math.floor(clock*fps+1e-6));
    if(f!==V.frame){V.frame=f; draw();}
  }
}
var rafSeen=performance.now();
function tick(now){rafSeen=performance.now(); advance(now); window.requestAnimationFrame(tick);}
// fallback clock when animation frames are not delivered (headless browsers, some hidden views)
setInterval(function(){var now=performance.now(); if(now-rafSeen>250) advance(now);},40);
playBtn.addEventListener("click",function(){setPlaying(!V.playing);});
document.getElementById("toggle2d").addEventListener("click",function(){show2d=!show2d;resize();draw();});
document.getElementById("camview").addEventListener("click",function(){cameraView();draw();});
scrub.addEventListener("input",function(){seek(parseInt(scrub.value,10)||0);});
window.addEventListener("keydown",function(e){
  if(e.target&&e.target.tagName==="INPUT"&&e.key!==" ") return;
  var k=e.key;
  if(e.code==="Space"||k===" "){e.preventDefault(); setPlaying(!V.playing);}
  else if(k==="k"||k==="K"){show2d=!show2d; resize(); draw();}
  else if(k==="ArrowRight"){setPlaying(false); seek(V.frame+1);}
  else if(k==="ArrowLeft"){setPlaying(false); seek(V.frame-1);}
  else if(k==="Home"){seek(0);} else if(k==="End"){seek(T-1);}
  else if(k==="c"||k==="C"){cameraView(); draw();}
  else if(k==="r"||k==="R"){follow=false; resetView(); draw();}
  else if(k==="f"||k==="F"){follow=!follow; draw();}
  else if(k==="h"||k==="H"){document.getElementById("help").classList.toggle("hidden");}
});
var drag=null;
c3.addEventListener("pointerdown",function(e){drag=[e.clientX,e.clientY]; c3.setPointerCapture(e.pointerId);
  c3.style.cursor="grabbing";});
c3.addEventListener("pointermove",function(e){
  if(!drag) return;
  yaw-=(e.clientX-drag[0])*0.008;
  pitch=Math.max(-1.4,Math.min(1.4,pitch+(e.clientY-drag[1])*0.008));
  drag=[e.clientX,e.clientY]; draw();
});
function endDrag(){drag=null; c3.style.cursor="grab";}
c3.addEventListener("pointerup",endDrag); c3.addEventListener("pointercancel",endDrag);
c3.addEventListener("dblclick",function(){follow=false; resetView(); draw();});
c3.addEventListener("wheel",function(e){
  e.preventDefault(); dist=Math.max(0.5,Math.min(100,dist*Math.exp(e.deltaY*0.001))); draw();
},{passive:false});
resize(); setPlaying(T>1); draw();
window.requestAnimationFrame(tick);
})();
</script>
</body></html>
"""

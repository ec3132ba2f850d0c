#!/bin/bash
# The quality-fraud corpus of docs/transcode.md ("Measured"), driven through the verdict
# tool. Usage (from the repository root, after
# `cargo build --release -p gpu-encode --example verdict`):
#   crates/gpu-encode/examples/fraud_corpus.sh DIR
# Writes DIR/results.txt: one line per (source, rendition, secret): verdict and fault kinds.
set -euo pipefail
DIR=${1:?usage: fraud_corpus.sh DIR}
V=${VERDICT:-${CARGO_TARGET_DIR:-target}/release/examples/verdict}
V=$(realpath "$V")
mkdir -p "$DIR" && cd "$DIR"
F="ffmpeg -hide_banner -loglevel error -y"
# gen NAME GRAPH SRCSIZE W H KBPS: a 1 s CRF 8 source and its renditions of the W×H profile.
gen() {
  local n=$1 g=$2 s=$3 W=$4 H=$5 BR=$6
  $F -f lavfi -i "$g" -t 1 -s "$s" -c:v libx264 -preset ultrafast -crf 8 -pix_fmt yuv420p -r 30 "$n.src.ts"
  e() { local out=$1 vf=$2; shift 2; $F -i "$n.src.ts" -vf "$vf" -r 30 -c:v libx264 -pix_fmt yuv420p "$@" -f mpegts "$n.$out.ts"; }
  # Honest: independent ffmpeg invocations (presets, rate control, scalers).
  e h1 "scale=$W:$H:flags=bicubic" -preset medium -b:v ${BR}k -maxrate ${BR}k -bufsize ${BR}k
  e h2 "scale=$W:$H:flags=lanczos" -preset veryfast -crf 23
  e h3 "scale=$W:$H:flags=bilinear" -preset fast -b:v ${BR}k
  e h4 "scale=$W:$H:flags=area" -preset slow -b:v ${BR}k -tune film
  e h5 "scale=$W:$H:flags=bicubic" -preset ultrafast -b:v ${BR}k
  # Tampered: encoded at 1/2, 2/3 and 1/4 of the size and scaled up, box blur 2,
  # 25 fps content re-timed to 30 (a duplicate every sixth frame).
  e up2 "scale=$((W/2)):$((H/2)),scale=$W:$H:flags=bicubic" -preset veryfast -b:v ${BR}k
  e up23 "scale=-2:$((H*2/3)),scale=$W:$H:flags=lanczos" -preset veryfast -b:v ${BR}k
  e up4 "scale=$((W/4)):$((H/4)),scale=$W:$H:flags=bicubic" -preset veryfast -b:v ${BR}k
  e blur "scale=$W:$H,boxblur=2" -preset medium -b:v ${BR}k
  e retime "fps=25,fps=30,scale=$W:$H" -preset medium -b:v ${BR}k
}
run() {
  local P=$1; shift
  for n in "$@"; do for f in "$n".h?.ts "$n".up*.ts "$n".blur.ts "$n".retime.ts; do for s in 1 2 3; do
    k=${f#"$n".}; k=${k%.ts}
    out=$("$V" "$n.src.ts" "$f" "$P" --secret $s 2>/dev/null | tail -1 || echo '{"verdict": "error", "faults": []}')
    echo "$n $k $s $(echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["verdict"], ",".join(sorted(set(x.split(" ")[0] for x in j["faults"]))))')"
  done; done; done
}
gen tst testsrc2=rate=30 1280x720 640 360 1200
gen man mandelbrot=rate=30:size=1280x720 1280x720 640 360 1200
gen grain "gradients=size=1280x720:rate=30:speed=0.05,noise=alls=30:allf=t" 1280x720 640 360 1200
gen life "life=size=1280x720:rate=30:mold=10:ratio=0.3:death_color=#202020:life_color=#c0ff40" 1280x720 640 360 1200
gen cell "cellauto=size=1280x720:rate=30:rule=110" 1280x720 640 360 1200
gen pan "testsrc=size=2560x720:rate=30,crop=1280:720:x='t*200':y=0" 1280x720 640 360 1200
gen htst testsrc2=rate=30 1920x1080 1280 720 4000
gen hman mandelbrot=rate=30:size=1920x1080 1920x1080 1280 720 4000
{ run P360P30 tst man grain life cell pan; run P720P30 htst hman; } > results.txt
awk '{print $2, $4, $5}' results.txt | sort | uniq -c

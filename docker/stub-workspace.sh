#!/bin/sh
# stub-workspace.sh DIR
# The image copies only the workspace's Cargo manifests and Cargo.lock, so
# that `cargo fetch` (which downloads the crates) is redone only when those
# change, never after a source change. cargo refuses manifests whose targets
# have no file; this creates an empty one for every target a manifest names
# or implies.
set -eu
cd "$1"
find . -name Cargo.toml | while read -r manifest; do
  dir=$(dirname "$manifest")
  mkdir -p "$dir/src"
  touch "$dir/src/lib.rs" "$dir/build.rs"
  # path = "..." of explicit targets (and anything else with a path).
  sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' "$manifest" |
    while read -r p; do mkdir -p "$dir/$(dirname "$p")"; touch "$dir/$p"; done
  # [[bench]]/[[bin]]/[[example]]/[[test]] with only a name: cargo's default path.
  awk '/^\[\[(bench|bin|example|test)\]\]/ {kind = $0; gsub(/[][]/, "", kind); next}
       /^\[/ {kind = ""}
       kind != "" && /^[[:space:]]*name[[:space:]]*=/ {
         n = $0; sub(/^[^"]*"/, "", n); sub(/".*/, "", n)
         d = (kind == "bench") ? "benches" : (kind == "bin") ? "src/bin" : (kind == "example") ? "examples" : "tests"
         print d "/" n ".rs"; kind = ""
       }' "$manifest" |
    while read -r p; do mkdir -p "$dir/$(dirname "$p")"; touch "$dir/$p"; done
done

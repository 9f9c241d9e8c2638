#!/usr/bin/env bash
# Clean debug build of a sync hello world with #[cleanup::graceful_main]
# against the same with #[tokio::main], alternating, and their ratio.
#
#   bash integration/benches/compile_time.sh    # ROUNDS=5 for more rounds
#
# Dependencies are fetched first, so only compiling is timed. Budget
# (DESIGN.md): the graceful_main build takes at most half of tokio's.
set -euo pipefail
rounds=${ROUNDS:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset CARGO_TARGET_DIR
# Dependencies from crates.io are built without incremental compilation;
# `cleanup` is a path dependency here, so say so for it too.
export CARGO_INCREMENTAL=0

mkdir -p "$work/graceful/src" "$work/tokio/src"
cat > "$work/graceful/Cargo.toml" <<TOML
[package]
name = "hello-graceful"
version = "0.1.0"
edition = "2021"
[dependencies]
cleanup = { package = "graceful-cleanup", path = "$root" }
[workspace]
TOML
cat > "$work/graceful/src/main.rs" <<'RS'
#[cleanup::graceful_main]
fn main() {
    println!("hello");
}
RS
cat > "$work/tokio/Cargo.toml" <<'TOML'
[package]
name = "hello-tokio"
version = "0.1.0"
edition = "2021"
[dependencies]
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
[workspace]
TOML
cat > "$work/tokio/src/main.rs" <<'RS'
#[tokio::main]
async fn main() {
    println!("hello");
}
RS

for project in graceful tokio; do
    (cd "$work/$project" && cargo fetch --quiet)
done

build() {
    local dir=$work/$1 start end
    rm -rf "$dir/target"
    start=$(date +%s.%N)
    (cd "$dir" && cargo build --quiet --offline)
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

declare -a graceful tokio
for round in $(seq "$rounds"); do
    graceful+=("$(build graceful)")
    tokio+=("$(build tokio)")
    echo "round $round: graceful_main ${graceful[-1]} s, tokio::main ${tokio[-1]} s"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
g=$(median "${graceful[@]}")
t=$(median "${tokio[@]}")
echo "median: graceful_main ${g} s, tokio::main ${t} s, ratio $(echo "scale=2; $g / $t" | bc)"

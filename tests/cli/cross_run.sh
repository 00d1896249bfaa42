#!/bin/bash
# Inputs of two runs crossed (src/base/lineage.h): run A scores, selects, trains, evaluates and
# specialises in the micro space on a slice of Fashion-MNIST; run B in a narrower space on the
# same images under other class names. Every stage given one input of each run refuses the
# pair in one line that names both files and what differs, exit 2, nothing written; the
# un-crossed pairs are accepted, and so is a pair whose artefact predates /meta/lineage.
source "$(dirname "$0")/lib.sh"
start_scratch

fmnist_slice 128 64 32
cp "$work/data.h5" "$work/other.h5"
"$py" - "$work/other.h5" <<'EOF'
import sys, h5py, numpy
with h5py.File(sys.argv[1], "r+") as f:
    classes = f["classes"]
    classes[...] = numpy.array([f"digit {i}" for i in range(len(classes))], dtype=classes.dtype)
EOF
sed 's/mlp_ratio = \[3.0, 3.5, 4.0\]/mlp_ratio = [3.0, 4.0]/; s/name = "micro"/name = "narrow"/' \
    "$src/configs/spaces/micro.cfg" >"$work/narrow.cfg"
spaceA=$src/configs/spaces/micro.cfg spaceB=$work/narrow.cfg dataA=$work/data.h5 dataB=$work/other.h5
train=(--recipe "$src/configs/recipes/micro-fmnist.cfg" --set batch=32 --set eval.every_epochs=0
    --set warmup_epochs=0 --steps 2)

ok() { # ok WHAT CMD...: an un-crossed pair, accepted
    local what=$1
    shift
    run "$@"
    expect_status 0 "$what"
}
# refused WHAT MESSAGE OUT CMD...: exit 2, one line with MESSAGE, OUT not written
refused() {
    local what=$1 message=$2 out=$3
    shift 3
    run "$@"
    expect_status 2 "$what"
    expect_error_line "$message" "$what"
    [ ! -e "$out" ] && [ ! -e "$out.tmp" ] && pass || fail "$what left $out behind"
}

# The two runs, each of its own inputs.
for r in A B; do
    space=space$r data=data$r
    ok "score $r" "$bin/prenas-score" --config "${!space}" --data "${!data}" --batch 16 \
        --out "$work/scores$r.h5"
    ok "select $r" "$bin/prenas-select" --in "$work/scores$r.h5" --out "$work/preferred$r.h5"
    ok "train $r" "$bin/prenas-train" --config "${!space}" "${train[@]}" --data "${!data}" \
        --preferred "$work/preferred$r.h5" --out "$work/run$r"
    ok "evaluate $r" "$bin/prenas-evaluate" --supernet "$work/run$r/supernet.h5" --data "${!data}" \
        --out "$work/eval$r.h5" --images 32 --latency-repeats 0 --no-plot
done
ok "specialize A" "$bin/prenas-specialize" --supernet "$work/runA/supernet.h5" \
    --eval "$work/evalA.h5" --data "$dataA" --max-params 1M --out "$work/modelA.h5"
ok "analyze A" "$bin/prenas-analyze" --in "$work/scoresA.h5" --eval "$work/evalA.h5"
ok "predict A" "$bin/prenas-predict" --model "$work/modelA.h5" --data "$dataA" --out "$work/p.csv"
small=(--images 16 --population 2 --parents 1 --mutations 1 --crossovers 1 --generations 1)
ok "search A" "$bin/prenas-search" --supernet "$work/runA/supernet.h5" --data "$dataA" \
    "${small[@]}" --out "$work/searchA.h5"
# scores of space A on B's classes, for analyze's classes pair
ok "score A on B's data" "$bin/prenas-score" --config "$spaceA" --data "$dataB" --batch 16 \
    --out "$work/scoresAB.h5"

# Every pair crossed.
refused "select: --config of B, scores of A" \
    "the scores were computed for the space 'micro' recorded in $work/scoresA.h5, not for $spaceB" \
    "$work/x.h5" "$bin/prenas-select" --config "$spaceB" --in "$work/scoresA.h5" --out "$work/x.h5"
refused "train: --config of A, --preferred of B" \
    "the preferred architectures were selected in another space than $spaceA, $work/preferredB.h5" \
    "$work/x/supernet.h5" "$bin/prenas-train" --config "$spaceA" "${train[@]}" --data "$dataA" \
    --preferred "$work/preferredB.h5" --out "$work/x"
refused "train: --preferred of B, --data of A" \
    "$work/preferredB.h5 was selected on scores of other classes than $dataA holds (classes " \
    "$work/x/supernet.h5" "$bin/prenas-train" --config "$spaceB" "${train[@]}" --data "$dataA" \
    --preferred "$work/preferredB.h5" --out "$work/x"
refused "evaluate: supernet of A, data of B" \
    "$dataB holds other classes than $work/runA/supernet.h5 was trained on (classes " \
    "$work/x.h5" "$bin/prenas-evaluate" --supernet "$work/runA/supernet.h5" --data "$dataB" \
    --out "$work/x.h5" --images 32 --latency-repeats 0 --no-plot
refused "search: supernet of A, data of B" \
    "$dataB holds other classes than $work/runA/supernet.h5 was trained on (classes " \
    "$work/x.h5" "$bin/prenas-search" --supernet "$work/runA/supernet.h5" --data "$dataB" \
    "${small[@]}" --out "$work/x.h5"
refused "specialize: supernet of A, eval of B" \
    "$work/evalB.h5 evaluated another supernet ($work/runB/supernet.h5, SHA-256" \
    "$work/x.h5" "$bin/prenas-specialize" --supernet "$work/runA/supernet.h5" \
    --eval "$work/evalB.h5" --max-params 1M --out "$work/x.h5"
refused "specialize: supernet of A, --test of B" \
    "$work/evalB.h5 evaluated another supernet ($work/runB/supernet.h5, SHA-256" \
    "$work/x.h5" "$bin/prenas-specialize" --supernet "$work/runA/supernet.h5" \
    --test "$work/evalB.h5" --max-params 1M --out "$work/x.h5"
refused "specialize: supernet of A, data of B" \
    "$dataB holds other classes than $work/runA/supernet.h5 was trained on (classes " \
    "$work/x.h5" "$bin/prenas-specialize" --supernet "$work/runA/supernet.h5" --data "$dataB" \
    --max-params 1M --out "$work/x.h5"
refused "predict: model of A, data of B" \
    "the dataset's class 0 is 'digit 0', the model's is '0', $dataB and $work/modelA.h5" \
    "$work/x.csv" "$bin/prenas-predict" --model "$work/modelA.h5" --data "$dataB" --out "$work/x.csv"
refused "analyze: scores of A, eval of B (space)" \
    "$work/evalB.h5 evaluated a supernet trained in another search space than $work/scoresA.h5 was scored in (space " \
    "$work/none" "$bin/prenas-analyze" --in "$work/scoresA.h5" --eval "$work/evalB.h5"
refused "analyze: scores on B's classes, eval of A (classes)" \
    "$work/evalA.h5 was evaluated on other classes than $work/scoresAB.h5 was scored on (classes " \
    "$work/none" "$bin/prenas-analyze" --in "$work/scoresAB.h5" --eval "$work/evalA.h5"

# The digests in the messages are the two runs': B's classes against A's.
digest() { "$py" -c "import h5py,sys; print(h5py.File(sys.argv[1])['meta/lineage'].attrs[sys.argv[2]])" "$1" "$2"; }
refused "evaluate: the digests named" \
    "(classes $(digest "$work/evalB.h5" classes | cut -c1-12)... vs $(digest "$work/runA/supernet.h5" classes | cut -c1-12)...)" \
    "$work/x.h5" "$bin/prenas-evaluate" --supernet "$work/runA/supernet.h5" --data "$dataB" \
    --out "$work/x.h5" --images 32 --latency-repeats 0 --no-plot
[ "$(digest "$work/scoresA.h5" space)" = "$(digest "$work/runA/supernet.h5" space)" ] &&
    [ "$(digest "$work/runA/supernet.h5" space)" = "$(digest "$work/evalA.h5" space)" ] &&
    [ "$(digest "$work/evalA.h5" space)" != "$(digest "$work/evalB.h5" space)" ] && pass ||
    fail "a run's space digest is not carried from scores.h5 to eval.h5"

# A supernet written before /meta/lineage existed has nothing to compare: accepted.
cp "$work/runA/supernet.h5" "$work/old.h5"
"$py" -c "import h5py,sys; del h5py.File(sys.argv[1], 'r+')['meta/lineage']" "$work/old.h5"
ok "evaluate: a supernet without lineage, data of B" "$bin/prenas-evaluate" --supernet "$work/old.h5" \
    --data "$dataB" --out "$work/old-eval.h5" --images 32 --latency-repeats 0 --no-plot
finish

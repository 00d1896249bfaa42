# Shared by the prenas-pack tests: the assertions of tests/cli/lib.sh, the tools, and a
# scratch folder of the test's own under the build tree, emptied at the start.
source "$PRENAS_SOURCE_DIR/tests/cli/lib.sh"
pack=$PRENAS_BINARY_DIR/prenas-pack
python=$PRENAS_PYTHON
fixture=$PACK_FIXTURE
here=$PRENAS_SOURCE_DIR/tests/pack
fashion=/usr/share/datasets/fashion-mnist

# scratch NAME: sets $work to an empty folder, removed again when the test passes.
scratch() {
    work=$PACK_SCRATCH/$1
    rm -rf "$work"
    mkdir -p "$work"
    trap '[ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
}

# expect_ok WHAT CMD...: runs a checker that prints its findings; exit 0 means all held.
expect_ok() {
    local what=$1
    shift
    run "$@"
    [ "$status" -eq 0 ] && pass || fail "$what: exit $status: $out $err"
}

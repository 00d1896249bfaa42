#!/bin/bash
# prenas-arch as a user meets it: exact numbers, enumeration totals, and one-line errors.
source "$(dirname "$0")/lib.sh"
arch=$PRENAS_BINARY_DIR/prenas-arch
spaces=$PRENAS_SOURCE_DIR/configs/spaces

# Every golden candidate (method.md §15): the exact line.
while read -r space a params flops macs; do
    run "$arch" --config "$spaces/$space.cfg" --arch "$a"
    expect_status 0 "$a"
    expect_out "params=$params flops_ref=$flops macs=$macs" "$a"
done <<'GOLDEN'
vit-tiny 192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4 5994760 1379653176 1528436736
vit-small 384:13:7,7,7,7,5,7,7,5,6,5,5,6,5:4,4,3.5,4,3.5,4,3.5,3.5,4,4,3,4,3.5 22989928 4916633370 5190701824
vit-base 576:14:9,9,10,9,9,10,9,9,9,9,9,9,10,9:3.5,4,3.5,3.5,3.5,4,3.5,3.5,3.5,3.5,4,3,3.5,4 53876104 11268400572 11717554944
GOLDEN

# MLP ratios inexact in binary: the reference's int(E * r), 240 * 4.1 = 983.999... -> 983.
run "$arch" --config "$PRENAS_SOURCE_DIR/tests/spaces/ratio.cfg" --arch 240:1:15:4.1
expect_status 0 "240:1:15:4.1"
expect_out_has "params=894657 " "hidden width 983, not 984"

run "$arch" --config "$spaces/vit-tiny.cfg" --arch 192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4 --json
expect_status 0 "--json"
expect_out_has '"num_params":	5.99476' "--json num_params"
expect_out_has '"layer_num":	12' "--json layer_num"

run "$arch" --config "$spaces/vit-tiny.cfg" --enumerate
expect_status 0 "--enumerate"
expect_out_has "interval [5M, 6M) groups=133" "tiny first interval"
expect_out_has "groups=1770 in_intervals=1770 outside=0" "tiny totals"
run "$arch" --config "$spaces/vit-small.cfg" --enumerate --all-count-vectors
expect_status 0 "--all-count-vectors"
expect_out_has "groups=76275" "small with every count vector: 3 x (105^2 + 120^2)"

run "$arch" --config "$spaces/micro.cfg"
expect_status 0 "summary"
expect_out_has "space micro" "summary names the space"
expect_out_has "largest  80:6:5,5,5,5,5,5:4,4,4,4,4,4" "summary largest"

# Errors: exit 2, one line on stderr naming the problem.
run "$arch" --config "$spaces/vit-tiny.cfg" --arch 192:12:4,4:4,4
expect_status 2 "wrong depth"
expect_error_line "depth 12 but 2 head counts and 2 MLP ratios" "wrong depth"
run "$arch" --config "$spaces/vit-tiny.cfg" --arch 192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,3
expect_status 2 "choice outside the space"
expect_error_line "layer 11 has MLP ratio 3, not a choice (3.5, 4), $spaces/vit-tiny.cfg" "choice"
run "$arch" --config /nonexistent.cfg
expect_status 2 "missing config"
expect_error_line "cannot open the space configuration: No such file or directory, /nonexistent.cfg" "missing config"
run "$arch" --arch 1:1:1:1
expect_status 2 "no config"
expect_error_line "--config SPACE.cfg is required" "no config"
run "$arch" --config "$spaces/vit-tiny.cfg" --frobnicate
expect_status 2 "unknown option"
expect_error_line "option '--frobnicate'" "unknown option"
run "$arch" --config "$spaces/vit-tiny.cfg" --json
expect_status 2 "--json alone"
run "$arch" --help
expect_status 0 "--help"
expect_out_has "usage: prenas-arch" "--help text"
run "$arch" --version
expect_status 0 "--version"
expect_out_has "prenas-arch 0.1.0" "--version text"
finish

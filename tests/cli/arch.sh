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

# Isomer groups (method.md §11.1). The paper's two cases on Tiny (E 192, D 12): k layers at
# ratio 4 (4 heads everywhere), or at 4 heads (ratio 4 everywhere); groups of C(12, k).
# layers K LOW HIGH: twelve comma-separated values, the last K at HIGH.
layers() {
    local l list=""
    for ((l = 0; l < 12; l++)); do list+="${list:+,}$([ $l -lt $((12 - $1)) ] && echo "$2" || echo "$3")"; done
    echo "$list"
}
members() { grep -v '^#' <<<"$out"; }
# The listing of $1: a header line first, then distinct members in order, $1 among them.
expect_listing() {
    [ "$(head -n 1 <<<"$out" | cut -c1)" = "#" ] && pass || fail "no '#' header line ($2)"
    [ "$(grep -c '^#' <<<"$out")" -eq 1 ] && pass || fail "more than one header line ($2)"
    members | LC_ALL=C sort -c 2>/dev/null && pass || fail "members out of order ($2)"
    [ "$(members | sort -u | wc -l)" -eq "$(members | wc -l)" ] && pass || fail "repeated members ($2)"
    grep -qxF -- "$1" <<<"$out" && pass || fail "ARCH itself not listed ($2)"
}
sizes=(1 12 66 220 495 792 924 792 495 220 66 12)
counts=""
for vary in ratios heads; do
    for k in $(seq 1 11); do
        if [ $vary = ratios ]; then
            a="192:12:$(layers 0 4 4):$(layers "$k" 3.5 4)"
        else
            a="192:12:$(layers "$k" 3 4):$(layers 0 4 4)"
        fi
        run "$arch" --config "$spaces/vit-tiny.cfg" --isomers "$a" --vary $vary
        expect_status 0 "--isomers --vary $vary, k=$k"
        expect_out_has "; ${sizes[k]} members; complete: all ${sizes[k]} in the space" "$vary k=$k"
        [ "$(members | wc -l)" -eq "${sizes[k]}" ] && pass || fail "$vary k=$k: $(members | wc -l) members"
        expect_listing "$a" "$vary k=$k"
        counts+=" $(members | wc -l)"
    done
done
echo "group sizes (ratios, then heads):$counts"
expect_out_has "MLP ratios fixed (4 x12)" "--vary heads keeps the ratios"

# Both permuted: the product of the two binomials, C(12, 5) C(12, 3) = 792 x 220.
mixed=192:12:4,3,4,4,3,4,3,4,3,4,3,4:4,3.5,3.5,3.5,4,3.5,3.5,4,3.5,3.5,3.5,3.5
run "$arch" --config "$spaces/vit-tiny.cfg" --isomers $mixed
expect_status 0 "--isomers both"
expect_out_has "heads permuted (3 x5, 4 x7); MLP ratios permuted (3.5 x9, 4 x3); 174240 members" "both"
[ "$(members | wc -l)" -eq 174240 ] && pass || fail "both: $(members | wc -l) members"
expect_listing $mixed "both"

# --limit: a seeded sample, the same for the same seed, ARCH always in it.
run "$arch" --config "$spaces/vit-tiny.cfg" --isomers $mixed --limit 20 --seed 5
expect_status 0 "--limit"
expect_out_has "a random sample of 20 of the 174240 in the space (seed 5), ARCH included" "--limit"
[ "$(members | wc -l)" -eq 20 ] && pass || fail "--limit 20: $(members | wc -l) members"
expect_listing $mixed "--limit"
first=$out
run "$arch" --config "$spaces/vit-tiny.cfg" --isomers $mixed --limit 20 --seed 5
[ "$out" = "$first" ] && pass || fail "--limit: another run with the same seed differs"
run "$arch" --config "$spaces/vit-tiny.cfg" --isomers $mixed --limit 20 --seed 6
[ "$out" != "$first" ] && pass || fail "--limit: seeds 5 and 6 give the same sample"
expect_listing $mixed "--limit seed 6"
run "$arch" --config "$spaces/vit-tiny.cfg" --isomers $mixed --vary ratios --limit 220
expect_out_has "; 220 members; complete: all 220 in the space" "--limit at the group's size"

# A refined space: layer 1 allows only 2 heads, layer 3 only 4, so of the 20 arrangements of
# three 2s and three 4s only the C(4, 2) = 6 that keep them are architectures of the space.
refined=$(mktemp --suffix=.cfg)
cat >"$refined" <<'CFG'
name = "refined"; image_size = 28; patch_size = 4; in_channels = 1; num_classes = 10;
head_dim = 16; max_relative_position = 7;
supernet = { embed_dim = 64; depth = 6; num_heads = 4; mlp_ratio = 4.0; };
widths = ( { embed_dim = 64; depth = [6];
  num_heads = ([2, 4], [2], [2, 4], [4], [2, 4], [2, 4]);
  mlp_ratio = ([2.0, 3.0], [3.0], [2.0, 3.0, 4.0], [2.0], [3.0, 4.0], [2.0, 3.0]); } );
data_free = { mean = [0.5]; std = [0.25]; };
intervals = { params = { min = 0.0; max = 1.0; width = 0.5; }; };
CFG
run "$arch" --config "$refined" --isomers 64:6:2,2,4,4,2,4:2,3,4,2,3,3 --vary heads
expect_status 0 "--isomers in a refined space"
expect_out_has "; 20 members, 14 not in the space (skipped); complete: all 6 in the space" "refined"
[ "$(members | wc -l)" -eq 6 ] && pass || fail "refined: $(members | wc -l) members"
expect_listing 64:6:2,2,4,4,2,4:2,3,4,2,3,3 "refined"
rm -f "$refined"

run "$arch" --config "$spaces/vit-tiny.cfg" --isomers 192:12:4,4,4,4,4,4,4,4,4,4,4,4:4,4,4,4,4,4,4,4,4,4,4,3
expect_status 2 "--isomers outside the space"
expect_error_line "layer 11 has MLP ratio 3, not a choice (3.5, 4), $spaces/vit-tiny.cfg" "--isomers outside"
run "$arch" --config "$spaces/vit-tiny.cfg" --isomers $mixed --vary layers
expect_status 2 "--vary layers"
expect_error_line "--vary must be heads, ratios or both, not 'layers'" "--vary layers"
run "$arch" --config "$spaces/vit-tiny.cfg" --isomers $mixed --limit 0
expect_status 2 "--limit 0"
run "$arch" --config "$spaces/vit-tiny.cfg" --limit 3
expect_status 2 "--limit without --isomers"
expect_error_line "--vary and --limit go with --isomers" "--limit alone"

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
# Configurations are single files: libconfig's @include is refused whatever it names (a
# directory once ended the process in libconfig's scanner with its own message), and a file too
# large for a configuration or a directory given as one is a one-line error too.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '@include "%s"\n' "$work/self.cfg" >"$work/self.cfg"
for target in . "$work" "$work/missing.cfg" "$work/self.cfg" /dev/zero; do
    { printf '  @include "%s"\n' "$target"; cat "$spaces/micro.cfg"; } >"$work/include.cfg"
    run "$arch" --config "$work/include.cfg"
    expect_status 2 "@include $target"
    expect_error_line "@include is not supported (a configuration is one self-contained file), $work/include.cfg:1" "@include $target"
done
run "$arch" --config "$work/self.cfg"
expect_status 2 "recursive @include"
expect_error_line "@include is not supported (a configuration is one self-contained file), $work/self.cfg:1" "recursive @include"
# inside the file, not only on its first line
{ cat "$spaces/micro.cfg"; printf '@include "%s"\n' "$spaces/micro.cfg"; } >"$work/late.cfg"
run "$arch" --config "$work/late.cfg"
expect_status 2 "@include at the end"
expect_error_line "$work/late.cfg:$(($(wc -l <"$spaces/micro.cfg") + 1))" "@include at the end"
run "$arch" --config /dev/zero
expect_status 2 "endless configuration"
expect_error_line "the space configuration is larger than 1024 KiB (not a configuration), /dev/zero" "/dev/zero"
run "$arch" --config "$work"
expect_status 2 "a directory as the configuration"
expect_error_line "cannot read the space configuration: Is a directory, $work" "a directory"

run "$arch" --help
expect_status 0 "--help"
expect_out_has "usage: prenas-arch" "--help text"
run "$arch" --version
expect_status 0 "--version"
expect_out_has "prenas-arch 0.1.0" "--version text"
finish

#!/bin/bash
# prenas-arch on CNN spaces (src/cnn): every cost against an independent PyTorch count
# (tests/oracle/cnn_count.py), the summary, --arch, --sample, the ViT-only options, and
# one-line errors for bad architectures and bad space files.
source "$(dirname "$0")/lib.sh"
start_scratch
arch=$bin/prenas-arch
spaces=$src/configs/spaces
bignas_smallest=192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280

# The oracle: 30 sampled architectures (seed 1), the smallest and the largest, per space;
# cnn-se.cfg has what the shipped spaces lack (SE, relu6, expansion 1 beside 4 and 6, odd sides).
for space in "$spaces/cnn-micro.cfg" "$spaces/cnn-bignas.cfg" "$src/tests/spaces/cnn-se.cfg"; do
    run "$py" "$src/tests/oracle/cnn_count.py" "$arch" "$space" --sample 30 --seed 1
    expect_status 0 "oracle on $space: $err"
    echo "$out"
done

run "$arch" --config "$spaces/cnn-bignas.cfg" --arch $bignas_smallest
expect_status 0 "--arch"
expect_out "params=3392488 flops=206390144 macs=206390144" "--arch BigNAS smallest"

run "$arch" --config "$spaces/cnn-micro.cfg"
expect_status 0 "summary"
expect_out_has "space cnn-micro ($spaces/cnn-micro.cfg): MBConv CNN, swish" "summary header"
expect_out_has "  input 1 channel, 10 classes; resolution 24, 28, 32" "summary input"
expect_out_has "  stage 2  MBConv: expansion 6; kernel 3, 5; channels 16, 24; depth 1, 2; stride 2" "summary stage"
expect_out_has "  221184 architectures" "summary count"
expect_out_has "  largest  32:24:16x1k3e1:24x2k5e6:32x3k5e6:48x3k5e6:64x2k5e6:256 params=280730 flops=13469696 macs=13469696 (0.281M parameters, 13.5 MFLOPs)" "summary largest"
run "$arch" --config "$src/tests/spaces/cnn-se.cfg"
expect_out_has "stride 3; SE" "summary SE"
expect_out_has "MBConv CNN, relu6" "summary relu6"

# --sample: N lines, the same for the same seed (0 by default), others for another.
run "$arch" --config "$spaces/cnn-micro.cfg" --sample 5 --seed 3
expect_status 0 "--sample"
[ "$(wc -l <<<"$out")" -eq 5 ] && pass || fail "--sample 5 printed $(wc -l <<<"$out") lines"
grep -qvE '^[0-9]+:[0-9]+(:[0-9]+x[0-9]+k[0-9]+e[0-9]+)+:[0-9]+ params=[0-9]+ flops=[0-9]+ macs=[0-9]+$' <<<"$out" &&
    fail "--sample lines: $out" || pass
first=$out
run "$arch" --config "$spaces/cnn-micro.cfg" --sample 5 --seed 3
[ "$out" = "$first" ] && pass || fail "--sample: the same seed gave other architectures"
run "$arch" --config "$spaces/cnn-micro.cfg" --sample 5 --seed 4
[ "$out" != "$first" ] && pass || fail "--sample: seeds 3 and 4 gave the same architectures"
run "$arch" --config "$spaces/cnn-micro.cfg" --sample 5
default=$out
run "$arch" --config "$spaces/cnn-micro.cfg" --sample 5 --seed 0
[ "$out" = "$default" ] && pass || fail "--sample: the default seed is not 0"
# a sampled line's architecture costs the same through --arch
line=$(head -n 1 <<<"$first")
run "$arch" --config "$spaces/cnn-micro.cfg" --arch "${line%% *}"
expect_out "${line#* }" "--arch of a sampled architecture"

# A ViT space samples too (the reference's draw order), with its own cost fields.
run "$arch" --config "$spaces/micro.cfg" --sample 3 --seed 2
expect_status 0 "ViT --sample"
[ "$(grep -cE '^[0-9]+:[0-9]+:[0-9,]+:[0-9.,]+ params=[0-9]+ flops_ref=[0-9]+ macs=[0-9]+$' <<<"$out")" -eq 3 ] &&
    pass || fail "ViT --sample lines: $out"
line=$(head -n 1 <<<"$out")
run "$arch" --config "$spaces/micro.cfg" --arch "${line%% *}"
expect_out "${line#* }" "ViT --arch of a sampled architecture"
# family = "vit" says what no family key says
run "$arch" --config "$spaces/micro.cfg"
plain=$out
{ echo 'family = "vit";'; cat "$spaces/micro.cfg"; } >"$work/vit.cfg"
run "$arch" --config "$work/vit.cfg"
[ "$out" = "${plain//$spaces\/micro.cfg/$work/vit.cfg}" ] && pass || fail "family = \"vit\" changed the summary"
# --family, what scripts ask
for pair in micro.cfg:vit cnn-micro.cfg:cnn "$work/vit.cfg:vit"; do
    file=${pair%:*}
    [ "${file#/}" = "$file" ] && file=$spaces/$file
    run "$arch" --config "$file" --family
    expect_out "${pair##*:}" "--family of $file"
done
run "$arch" --config "$spaces/micro.cfg" --family --arch 1:1:1:1
expect_status 2 "--family with --arch"

# Options of the ViT alone: one line, exit 2.
for option in --enumerate "--isomers $bignas_smallest" "--json --arch $bignas_smallest"; do
    # shellcheck disable=SC2086 # the option and its value are two words
    run "$arch" --config "$spaces/cnn-bignas.cfg" $option
    expect_status 2 "$option on a CNN space"
    expect_error_line "${option%% *} is for ViT spaces; $spaces/cnn-bignas.cfg is a CNN space (family \"cnn\")" "$option"
done
run "$arch" --config "$spaces/cnn-micro.cfg" --sample 3 --arch 24:16:8x1k3e1:16x1k3e6:24x1k3e6:40x1k3e6:56x1k3e6:192
expect_status 2 "--sample with --arch"
expect_error_line "--arch, --sample, --enumerate, --isomers and --family exclude each other" "--sample with --arch"
run "$arch" --config "$spaces/cnn-micro.cfg" --seed 3
expect_status 2 "--seed alone"
expect_error_line "--seed goes with --sample or --limit" "--seed alone"
run "$arch" --config "$spaces/cnn-micro.cfg" --sample 0
expect_status 2 "--sample 0"
expect_error_line "--sample '0': expected an integer in [1," "--sample 0"

# Architectures: malformed, or outside the space.
run "$arch" --config "$spaces/cnn-bignas.cfg" --arch 192:32:16x1k3:1280
expect_status 2 "malformed"
expect_error_line "architecture '192:32:16x1k3:1280': stage 1 '16x1k3' is not CxDkKeE" "malformed"
run "$arch" --config "$spaces/cnn-bignas.cfg" --arch 192:32:16x1k3e1:24x2k3e6:40x2k7e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280
expect_status 2 "outside the space"
expect_error_line "stage 3 kernel 7 is not a choice (3, 5), $spaces/cnn-bignas.cfg" "outside"
run "$arch" --config "$spaces/cnn-bignas.cfg" --arch 192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4
expect_status 2 "a ViT architecture for a CNN space"
expect_error_line "stage 1 '4,4,4,4,3,3,3,3,3,4,3,4' is not CxDkKeE" "ViT text"

# Bad space files: exit 2, one line naming the key, the file and the line.
bad() { # NAME LINE-NUMBER SED-EXPRESSION EXPECTED
    sed "$3" "$spaces/cnn-micro.cfg" >"$work/$1.cfg"
    run "$arch" --config "$work/$1.cfg"
    expect_status 2 "$1"
    expect_error_line "$4" "$1"
    expect_error_line ", $work/$1.cfg${2:+:$2}" "$1: file and line"
}
line_of() { grep -n "$1" "$spaces/cnn-micro.cfg" | head -n 1 | cut -d: -f1; }
bad family "$(line_of '^family')" 's/^family = "cnn"/family = "rnn"/' 'family: "rnn" is not one of "vit", "cnn"'
bad unknown "$(line_of '^num_classes')" 's/^num_classes = 10;/num_classes = 10; colour = 1;/' \
    'colour: unknown key (expected one of: family, name, in_channels'
bad even "$(line_of '^stem')" 's/kernel = 3; stride = 1;/kernel = 2; stride = 1;/' 'stem.kernel: kernel 2 is even'
bad order "$(line_of 'channels = \[24, 32\]')" 's/channels = \[24, 32\]/channels = [32, 24]/' \
    'stages[2].channels: choices must be strictly ascending'
bad activation "$(line_of '^activation')" 's/"swish"/"gelu"/' 'activation: "gelu" is not one of "swish", "relu6"'
bad head "" 's/^head = .*//' "missing key 'head'"

run "$arch" --help
expect_status 0 "--help"
expect_out_has "RES:STEM:CxDkKeE:...:HEAD" "--help explains the CNN text form"
expect_out_has "--sample N" "--help explains --sample"
finish

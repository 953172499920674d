#!/usr/bin/env python3
"""Static speed estimate of the AArch64 inner loops with llvm-mca (no Arm board here).

Compiles the Arm kernel files with -DCI8_MCA (which turns the LLVM-MCA-BEGIN/END markers of
Sources/CInt8/arm/ into assembly comments) for each CPU, cuts out every marked loop -- the
whole loop body that holds the markers, from the loop's label to the branch back to it, since
the compiler moves instructions across the markers -- and runs llvm-mca on it. Prints per
loop: cycles per iteration (simulated: total cycles / iterations; and the resource bound,
Block RThroughput), int8 MACs per iteration (from the tile, region_info below), MACs per cycle
and the share of the CPU's int8 MAC peak. The peak is measured the same way, on a loop of 16
independent smlal (8 MACs each) or sdot (16 MACs each) instructions, so both figures come
from one scheduling model.

Caveats: a static estimate of the loop body alone (no caches, memory or surrounding code); the
markers are volatile asm statements, which the compiler keeps memory accesses from crossing, so
the analysed build can be scheduled a little differently from the real one (which has none).

usage: estimate.py [--all] [--check]
  --all    every instantiation (row and channel tails, the -128 weight mode), not only the
           full tiles the large layers run
  --check  also fail unless every marker in the sources was found and analysed
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCES = ["Sources/CInt8/arm/conv_neon.c", "Sources/CInt8/arm/fully_connected_neon.c",
           "Sources/CInt8/arm/depthwise_neon.c"]
MCA = os.environ.get("LLVM_MCA", "llvm-mca-19")
CC = os.environ.get("CC_AARCH64", "clang")

# Region name -> (MACs per loop iteration, instruction the peak is counted in, full tile?).
# gemm_2x8c16_neon/<mode>/mr<R>: R rows x 8 channels x 16 k per iteration (mode 0 = smull +
#   smlal2 + sadalp, 1 = smull + smull2 + 2 sadalp: always for 2 rows, and for weights holding
#   -128).
# gemm_4x16c4_neondot/mr<R>/nr<N>: R rows x N channels x 8 k (two sdot steps of 4).
# dwconv_16c_neon/2tap/t<T>: 16 channels x 2 taps; /1tap/p<P>/t<T>: 16 channels x 1 tap
#   (P = 1: the one-tap mode for filters holding -128; P = 0: the odd last tap of the paired
#   mode); T = 1: the last, partial channel block.
def region_info(name):
    m = re.fullmatch(r"gemm_2x8c16_neon/([01])/mr([12])", name)
    if m:
        return int(m.group(2)) * 8 * 16, "smlal", m.group(2) == "2"
    m = re.fullmatch(r"gemm_4x16c4_neondot/mr([1-4])/nr(8|16)", name)
    if m:
        return int(m.group(1)) * int(m.group(2)) * 8, "sdot", m.groups() == ("4", "16")
    m = re.fullmatch(r"dwconv_16c_neon/2tap/t([01])", name)
    if m:
        return 32, "smlal", m.group(1) == "0"
    m = re.fullmatch(r"dwconv_16c_neon/1tap/p([01])/t([01])", name)
    if m:
        return 16, "smlal", m.groups() == ("1", "0")
    return None


def label_of(name):
    """A readable name: the kernel's micro-kernel grammar plus the instantiation."""
    m = re.fullmatch(r"gemm_2x8c16_neon/([01])/mr([12])", name)
    if m:
        return "gemm_2x8c16_neon %s mr=%s" % ("smlal2" if m.group(1) == "0" else "smull2",
                                               m.group(2))
    m = re.fullmatch(r"gemm_4x16c4_neondot/mr(\d)/nr(\d+)", name)
    if m:
        return "gemm_4x16c4_neondot mr=%s nr=%s" % m.groups()
    m = re.fullmatch(r"dwconv_16c_neon/2tap/t([01])", name)
    if m:
        return "dwconv_16c_neon 2 taps%s" % (" (tail block)" if m.group(1) == "1" else "")
    m = re.fullmatch(r"dwconv_16c_neon/1tap/p([01])/t([01])", name)
    if m:
        return "dwconv_16c_neon 1 tap%s%s" % (" (-128 mode)" if m.group(1) == "1" else
                                              " (odd tap)", " (tail)" if m.group(2) == "1" else "")
    return name.replace("/", " ")

# What each CPU runs and how llvm-mca models it. LLVM has no Cortex-A72 or Cortex-A76 model of
# its own: -mcpu=cortex-a72 and -mcpu=cortex-a76 both schedule with the Cortex-A57 model;
# Neoverse N1 is the A76's server twin (the same core design) and has its own model, so the
# A76 is reported with both.
CPUS = [
    # (compile -mcpu, llvm-mca -mcpu, label, kernel families it runs)
    ("cortex-a72", "cortex-a72", "A72 (LLVM A57 model)", ("gemm_2x8c16_neon", "dwconv")),
    ("cortex-a76", "cortex-a76", "A76 (LLVM A57 model)", ("gemm_4x16c4_neondot", "dwconv")),
    ("cortex-a76", "neoverse-n1", "A76 (LLVM N1 model)", ("gemm_4x16c4_neondot", "dwconv")),
]
PEAK_LOOPS = {"smlal": ("smlal v%d.8h, v20.8b, v21.8b", 8),
              "sdot": ("sdot v%d.4s, v20.16b, v21.16b", 16)}

LABEL = re.compile(r"^([.\w$]+):")
BRANCH = re.compile(r"^\s*(b\.\w+|b|cbz|cbnz|tbz|tbnz)\s+(.*)$")


_compiled = {}


def compile_asm(source, mcpu):
    if (source, mcpu) in _compiled:
        return _compiled[(source, mcpu)]
    cmd = [CC, "--target=aarch64-linux-gnu", "-O2", "-fPIC", "-std=c11", "-D_GNU_SOURCE",
           "-DCI8_MCA", "-I" + os.path.join(ROOT, "Sources/CInt8/include"), "-S", "-o", "-",
           os.path.join(ROOT, source)]
    if mcpu:
        cmd.insert(2, "-mcpu=" + mcpu)
    _compiled[(source, mcpu)] = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return _compiled[(source, mcpu)]


def regions(asm):
    """name -> the loop body holding each marker pair (instruction lines), or None where that
    loop is not one basic block (a branch inside it): llvm-mca reads straight-line code only."""
    lines = asm.splitlines()
    found = {}
    i = 0
    while i < len(lines):
        m = re.search(r"LLVM-MCA-BEGIN\s+(\S+)", lines[i])
        if not m:
            i += 1
            continue
        name = m.group(1)
        if name in found:
            raise SystemExit("arm-estimate: region %s appears twice in one file" % name)
        head = None  # the loop's label: the last label before the marker
        for j in range(i, -1, -1):
            lm = LABEL.match(lines[j])
            if lm:
                head, start = lm.group(1), j + 1
                break
        body, j = [], start
        while head is not None and j < len(lines):
            text = lines[j].split("//")[0].strip()
            bm = BRANCH.match(lines[j])
            if bm and bm.group(2).split(",")[-1].strip() == head:
                body.append(text)
                break
            if LABEL.match(lines[j]) or bm:
                body = None  # control flow inside the loop
                break
            if text and not text.startswith("."):
                body.append(text)
            j += 1
        else:
            body = None
        found[name] = body
        i = j + 1
    return found


def mca(text, mcpu, dotprod):
    cmd = [MCA, "-mtriple=aarch64", "-mcpu=" + mcpu, "-iterations=200"]
    if dotprod:
        cmd.append("-mattr=+dotprod")
    out = subprocess.run(cmd, input=text + "\n", check=True, capture_output=True, text=True).stdout
    get = lambda key: float(re.search(key + r":\s+([\d.]+)", out).group(1))
    return get("Total Cycles") / get("Iterations"), get("Block RThroughput")


def main(argv):
    show_all = "--all" in argv
    check = "--check" in argv
    markers = set()
    for source in SOURCES:
        with open(os.path.join(ROOT, source)) as f:
            text = f.read()
        if source.endswith("conv_neon.c") or source.endswith("fully_connected_neon.c"):
            with open(os.path.join(ROOT, "Sources/CInt8/arm/gemm_neon.h")) as f:
                text += f.read()
        with open(os.path.join(ROOT, "Sources/CInt8/arm/ci8_neon.h")) as f:
            text += f.read()
        for m in re.finditer(r'CI8_MCA_BEGIN\("([\w/]+)', text):
            markers.add(m.group(1).split("/")[0])

    peaks = {}
    for cc_cpu, mca_cpu, cpu_label, _ in CPUS:
        for insn, (fmt, macs) in PEAK_LOOPS.items():
            if insn == "sdot" and cc_cpu == "cortex-a72":
                continue  # no dot product on the A72
            cycles, _ = mca("\n".join(fmt % r for r in range(16)), mca_cpu, insn == "sdot")
            peaks[(mca_cpu, insn)] = 16 * macs / cycles

    rows, seen, problems, skipped = [], set(), [], set()
    for cc_cpu, mca_cpu, cpu_label, families in CPUS:
        for source in SOURCES:
            tuned = regions(compile_asm(source, cc_cpu))
            generic = regions(compile_asm(source, None))
            user = {"conv_neon.c": "conv", "fully_connected_neon.c": "fc",
                    "depthwise_neon.c": "dwconv"}[os.path.basename(source)]
            for name in sorted(tuned):
                info = region_info(name)
                if info is None:
                    problems.append("unknown region %s in %s" % (name, source))
                    continue
                seen.add(name.split("/")[0])
                macs, insn, full = info
                if not any(name.startswith(f) for f in families) or not (full or show_all):
                    continue
                body, gbody = tuned[name], generic.get(name)
                if body is None or gbody is None:
                    skipped.add("%s (%s)" % (label_of(name), user))
                    if full:
                        problems.append("full-tile loop %s (%s) is not one basic block"
                                        % (label_of(name), user))
                    continue
                cycles, rthroughput = mca("\n".join(body), mca_cpu, "neondot" in name)
                gcycles, _ = mca("\n".join(gbody), mca_cpu, "neondot" in name)
                peak = peaks[(mca_cpu, insn)]
                rows.append((label_of(name), user, cpu_label, cycles, rthroughput, macs,
                             macs / cycles, peak, 100 * macs / cycles / peak, macs / gcycles))

    print("llvm-mca (%s) estimate of the AArch64 inner loops; clang -O2 -mcpu=<cpu> (generic: "
          "MAC/cycle of the -O2 build without -mcpu that SwiftPM makes)" % MCA)
    print("peaks (measured by llvm-mca on 16 independent instructions): " + ", ".join(
        "%s %s %.0f MAC/cycle" % (cpu, insn, v) for (cpu, insn), v in sorted(peaks.items())))
    header = ("kernel", "op", "cpu (model)", "cyc/iter", "RThru", "MACs/iter", "MAC/cyc",
              "peak", "% peak", "generic")
    fmt = "%-38s %-6s %-21s %8s %6s %9s %7s %5s %6s %7s"
    print(fmt % header)
    for r in rows:
        print(fmt % (r[0], r[1], r[2], "%.2f" % r[3], "%.1f" % r[4], r[5], "%.1f" % r[6],
                     "%.0f" % r[7], "%.0f%%" % r[8], "%.1f" % r[9]))
    if skipped:
        print("not analysed (a branch inside the loop body): " + ", ".join(sorted(skipped)))
    if check:
        missing = sorted(markers - seen)
        if missing:
            problems.append("markers not found in the assembly: " + ", ".join(missing))
        if not rows:
            problems.append("no region analysed")
        for p in problems:
            print("arm-estimate: " + p)
        print("arm-estimate --check: %d regions analysed, %d problems" % (len(rows), len(problems)))
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

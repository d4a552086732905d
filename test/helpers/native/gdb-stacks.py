# gdb script for test/helpers/native.mjs gdbStacks(): every thread's physical frames, innermost
# first, one line per thread: "@@wspy-gdb-stack " + JSON {"tid": LWP, "frames": [[pc_hex, name,
# module, symbol], ...]}, then one {"done": true} line. Physical frames only: gdb.NORMAL_FRAME and
# gdb.SIGTRAMP_FRAME (gdb's INLINE_FRAME and TAILCALL_FRAME entries are not on the machine stack;
# a CFI unwinder never sees them).
#   pc      what gdb gives (innermost: the pc; callers: the return address)
#   name    the physical (non-inlined) function holding the pc: the outermost function block
#           around it when gdb has debug info (separate debug files included, so libc's may read
#           "__GI___clock_nanosleep"), else gdb's frame.name() (ELF symbols); null when none ("??")
#   module  basename of the file mapped at the pc in /proc/PID/maps ("[vdso]" for the vDSO), or
#           null for anonymous memory
#   symbol  the ELF symbol gdb's `info symbol` gives for the pc (no debug info: "clock_nanosleep"),
#           or null
# Callers are looked up at pc - 1 (a return address may lie just past its function's end).
# Must not know: wspy. Source of truth: the gdb Python API (Frame, Block), `info symbol`, /proc.
import bisect
import json
import re

import gdb

PREFIX = "@@wspy-gdb-stack "
MAX_FRAMES = 1024
PHYSICAL = (gdb.NORMAL_FRAME, gdb.SIGTRAMP_FRAME)
INFO_SYMBOL = re.compile(r"^(.*?)(?: \+ \d+)? in section ")


def read_maps(pid):
    ranges = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5].strip() if len(parts) > 5 else ""
            ranges.append((lo, hi, path.rsplit("/", 1)[-1] if path else None))
    ranges.sort()
    return ranges


def module_of(maps, starts, addr):
    i = bisect.bisect_right(starts, addr) - 1
    if i >= 0 and maps[i][0] <= addr < maps[i][1]:
        return maps[i][2]
    return None


def physical_name(frame):
    try:
        block = frame.block()
    except RuntimeError:  # no debug info for this pc
        block = None
    name = None
    while block is not None and not block.is_global and not block.is_static:
        if block.function is not None:
            name = block.function.print_name  # keeps going: the outermost one is the physical one
        block = block.superblock
    if name is None:
        try:
            name = frame.name()
        except gdb.error:
            name = None
    return name


def elf_symbol(addr):
    try:
        out = gdb.execute("info symbol %d" % addr, to_string=True).strip()
    except gdb.error:
        return None
    m = INFO_SYMBOL.match(out)
    return m.group(1) if m else None


def thread_frames(maps, starts):
    frames = []
    frame = gdb.newest_frame()
    caller = False  # is this physical frame below a normal one (its pc a return address)?
    while frame is not None and len(frames) < MAX_FRAMES:
        kind = frame.type()
        if kind in PHYSICAL:
            pc = frame.pc()
            at = pc - 1 if caller else pc
            frames.append([hex(pc), physical_name(frame), module_of(maps, starts, at), elf_symbol(at)])
            caller = kind == gdb.NORMAL_FRAME
        try:
            frame = frame.older()
        except gdb.error:
            break
    return frames


def main():
    inferior = gdb.selected_inferior()
    if inferior.pid == 0:  # the attach failed (gdb said why on stderr)
        return
    maps = read_maps(inferior.pid)
    starts = [m[0] for m in maps]
    for thread in sorted(inferior.threads(), key=lambda t: t.ptid[1]):
        thread.switch()
        rec = {"tid": thread.ptid[1]}
        try:
            rec["frames"] = thread_frames(maps, starts)
        except gdb.error as e:
            rec["frames"] = []
            rec["error"] = str(e)
        gdb.write(PREFIX + json.dumps(rec) + "\n")
    gdb.write(PREFIX + json.dumps({"done": True}) + "\n")
    gdb.flush()


main()
